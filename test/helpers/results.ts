/** Result rows for tests, written as the measurement they record: the attack's parameters by name, table derived. */
import { resolveAttack } from '../../src/attacks/registry.ts';
import { datasetDescriptor } from '../../src/datasets/registry.ts';
import { specOf, tableOf, type ResultRow } from '../../src/eval/results.ts';

export type RowFields = Partial<ResultRow> & { eps?: number; alpha?: number; steps?: number; restarts?: number; seed?: number };

/** A row with defaults for what is not given; the attack's other parameters take their defaults on the data set. */
export function resultRow(fields: RowFields = {}): ResultRow {
  const { eps, alpha, steps, restarts, seed, params, table, ...rest } = fields;
  const row: ResultRow = {
    dataset: 'mnist',
    method: 'bagging',
    table: 'paper',
    attack: 'none',
    params: {},
    grad: '',
    loss: '',
    scored_on: 'ensemble',
    member: '',
    surrogate: '',
    n: 1000,
    accuracy: 0.5,
    zero_grad_fraction: null,
    queries: null,
    seconds: 1,
    backend: '',
    ...rest,
  };
  const dataset = datasetDescriptor(row.dataset);
  if (row.attack !== 'none') row.params = params ?? resolveAttack(dataset, row.attack, { eps, alpha, steps, restarts, seed }).params;
  row.table = table ?? tableOf(dataset, specOf(row), row.surrogate);
  return row;
}
