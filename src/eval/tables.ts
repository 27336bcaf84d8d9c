/**
 * Table 2 and Table 4 from saved result rows, with the paper's numbers beside ours. Every number keeps
 * the gradient source and loss form that produced it. Pure functions: the same rows give the same tables.
 */
import { ATTACKS, attackDefinition } from '../attacks/registry.ts';
import { METHODS } from '../training/methods.ts';
import type { PaperResults } from './paper.ts';
import type { ResultRow } from './results.ts';
import type { RunResults } from './run-results.ts';

/** The paper's attacks (FGSM, BIM), in the registry's order. */
export const PAPER_ATTACKS: readonly string[] = ATTACKS.filter((a) => a.paper).map((a) => a.id);

/** One number of a table, long format (one CSV row each). */
export interface TableCell {
  dataset: string;
  attack: string;
  method: string;
  loss: string;
  column: string;
  gradient: string;
  ours: number | null;
  paper: number | null;
  difference: number | null;
  n: number | null;
  zero_grad_fraction: number | null;
  run: string;
}

/** The paper's naming of a method (random_init, defensive_distillation, ...). */
export function paperMethodName(method: string): string {
  const rows = METHODS.find((m) => m.name === method)?.paperRows;
  return rows?.table2 ?? rows?.table4 ?? method.replace(/-/g, '_');
}

const inTable = (table: 'table2' | 'table4') => (run: RunResults) => METHODS.some((m) => m.name === run.manifest.config.method && m.paperRows[table] !== undefined);

/** The measurement on the most test images (a sweep point on a subset never hides a full-set one); among equals, the latest. */
function pick(rows: ResultRow[], predicate: (row: ResultRow) => boolean): ResultRow | undefined {
  let best: ResultRow | undefined;
  for (const row of rows) if (predicate(row) && (!best || row.n >= best.n)) best = row;
  return best;
}

/** Member 0's row if there is one, else the mean over members ('all'). */
function pickMember(rows: ResultRow[], predicate: (row: ResultRow) => boolean): ResultRow | undefined {
  return pick(rows, (r) => predicate(r) && r.member === '0') ?? pick(rows, (r) => predicate(r) && r.member === 'all');
}

function lossFormsOf(rows: ResultRow[]): string[] {
  // A gradient-free attack has no loss form: it makes no table section of its own.
  const forms = [...new Set(rows.filter((r) => r.attack !== 'none' && r.loss !== '').map((r) => r.loss))].sort();
  return forms.length > 0 ? forms : ['logits'];
}

function cell(base: Omit<TableCell, 'ours' | 'paper' | 'difference' | 'n' | 'zero_grad_fraction'>, row: ResultRow | undefined, paper: number | null): TableCell {
  const ours = row?.accuracy ?? null;
  return {
    ...base,
    ours,
    paper,
    difference: ours !== null && paper !== null ? ours - paper : null,
    n: row?.n ?? null,
    zero_grad_fraction: row?.zero_grad_fraction ?? null,
  };
}

const GRADIENT_LABEL: Record<string, string> = {
  none: 'none',
  '1': 'Grad. 1 (member 0)',
  '2': 'Grad. 2 (mean of member gradients)',
  '3': 'Grad. 3 (ensemble gradient)',
  own: "model's own gradient",
};

export const TABLE2_COLUMNS = ['no_attack_single', 'no_attack_ensemble', 'grad1_single', 'grad1_ensemble', 'grad2_ensemble', 'grad3_ensemble'] as const;

export function buildTable2(runs: RunResults[], paper: PaperResults): TableCell[] {
  const cells: TableCell[] = [];
  for (const run of runs.filter(inTable('table2'))) {
    const dataset = run.manifest.config.dataset;
    const method = paperMethodName(run.manifest.config.method);
    for (const loss of lossFormsOf(run.rows)) {
      for (const attack of PAPER_ATTACKS) {
        const paperRow = paper.table2.find((p) => p.dataset === dataset && p.attack === attack && p.method === method);
        const attacked = (grad: string, scoredOn: string) => (r: ResultRow) =>
          r.table === 'paper' && r.attack === attack && r.grad === grad && r.loss === loss && r.scored_on === scoredOn;
        const clean = (scoredOn: string) => (r: ResultRow) => r.attack === 'none' && r.scored_on === scoredOn;
        const sources: Record<(typeof TABLE2_COLUMNS)[number], [string, ResultRow | undefined]> = {
          no_attack_single: ['none', pickMember(run.rows, clean('single'))],
          no_attack_ensemble: ['none', pick(run.rows, clean('ensemble'))],
          grad1_single: ['1', pickMember(run.rows, attacked('1', 'single'))],
          grad1_ensemble: ['1', pickMember(run.rows, attacked('1', 'ensemble'))],
          grad2_ensemble: ['2', pick(run.rows, attacked('2', 'ensemble'))],
          grad3_ensemble: ['3', pick(run.rows, attacked('3', 'ensemble'))],
        };
        for (const column of TABLE2_COLUMNS) {
          const [grad, row] = sources[column];
          const paperValue = column === 'grad3_ensemble' ? null : (paperRow?.[column] ?? null);
          cells.push(cell({ dataset, attack, method, loss, column, gradient: GRADIENT_LABEL[grad], run: run.name }, row, paperValue));
        }
      }
    }
  }
  return cells;
}

export const TABLE4_COLUMNS = ['no_attack', 'fgsm', 'bim', 'fgsm_grad3', 'bim_grad3'] as const;

const TABLE2_LABELS: Record<(typeof TABLE2_COLUMNS)[number], string> = {
  no_attack_single: 'No attack, single',
  no_attack_ensemble: 'No attack, ensemble',
  grad1_single: 'Grad. 1 single',
  grad1_ensemble: 'Grad. 1 ensemble',
  grad2_ensemble: 'Grad. 2 ensemble',
  grad3_ensemble: 'Grad. 3 ensemble',
};

/** A Table 2 or Table 4 column as a reader names it ("Grad. 1 ensemble", "BIM, Grad. 3"), for figure legends. */
export function columnLabel(column: string): string {
  if (column in TABLE2_LABELS) return TABLE2_LABELS[column as keyof typeof TABLE2_LABELS];
  if (column === 'no_attack') return 'No attack';
  const [attack, grad3] = column.split('_grad3');
  if (PAPER_ATTACKS.includes(attack)) return grad3 === undefined ? attack.toUpperCase() : `${attack.toUpperCase()}, Grad. 3`;
  return column;
}

export function buildTable4(runs: RunResults[], paper: PaperResults): TableCell[] {
  const cells: TableCell[] = [];
  for (const run of runs.filter(inTable('table4'))) {
    const { dataset, members } = run.manifest.config;
    const defense = paperMethodName(run.manifest.config.method);
    const ensemble = members > 1;
    const paperRow = paper.table4.find((p) => p.dataset === dataset && p.defense === defense);
    // The paper attacks ensembles with Grad. 2 and single models with their own gradient (Grad. 1 of member 0).
    const scoredOn = ensemble ? 'ensemble' : 'single';
    const paperGrad = ensemble ? '2' : '1';
    for (const loss of lossFormsOf(run.rows)) {
      const attacked = (attack: string, grad: string) =>
        pick(run.rows, (r) => r.table === 'paper' && r.attack === attack && r.grad === grad && r.loss === loss && r.scored_on === scoredOn && (ensemble || r.member === '0'));
      const clean = ensemble ? pick(run.rows, (r) => r.attack === 'none' && r.scored_on === 'ensemble') : pickMember(run.rows, (r) => r.attack === 'none' && r.scored_on === 'single');
      const base = { dataset, method: defense, loss, run: run.name };
      cells.push(cell({ ...base, attack: 'none', column: 'no_attack', gradient: 'none' }, clean, paperRow?.no_attack ?? null));
      for (const attack of PAPER_ATTACKS) {
        cells.push(cell({ ...base, attack, column: attack, gradient: ensemble ? GRADIENT_LABEL['2'] : GRADIENT_LABEL.own }, attacked(attack, paperGrad), (paperRow as unknown as Record<string, number> | undefined)?.[attack] ?? null));
      }
      for (const attack of PAPER_ATTACKS) {
        const grad3 = ensemble ? attacked(attack, '3') : attacked(attack, '1');
        cells.push(cell({ ...base, attack, column: `${attack}_grad3`, gradient: ensemble ? GRADIENT_LABEL['3'] : GRADIENT_LABEL.own }, grad3, null));
      }
    }
  }
  return cells;
}

/** Beyond the paper: the other attacks at their default ε, and transfer from a surrogate, for every attacked run. */
export function buildBeyondTable(runs: RunResults[]): TableCell[] {
  const cells: TableCell[] = [];
  for (const run of runs) {
    const { dataset } = run.manifest.config;
    const method = paperMethodName(run.manifest.config.method);
    const runCells: TableCell[] = [];
    for (const row of run.rows.filter((r) => r.table === 'beyond')) {
      const isTransfer = row.surrogate !== '';
      const column = isTransfer ? `transfer_${row.attack}_from_${row.surrogate}` : attackDefinition(row.attack).column(row.params);
      const gradient = row.grad === '' ? 'none (queries the model)' : `${GRADIENT_LABEL[row.grad]}${isTransfer ? ` of run ${row.surrogate}` : ''}`;
      runCells.push(cell({ dataset, attack: row.attack, method, loss: row.loss, column, gradient, run: run.name }, row, null));
    }
    // Rows are appended in the order their steps finished, which concurrent jobs (Slurm) make arbitrary.
    cells.push(...runCells.sort(byBeyondKey));
  }
  return cells;
}

const attackRank = (attack: string) => ATTACKS.findIndex((a) => a.id === attack);

function byBeyondKey(a: TableCell, b: TableCell): number {
  return attackRank(a.attack) - attackRank(b.attack) || a.column.localeCompare(b.column) || a.loss.localeCompare(b.loss) || a.gradient.localeCompare(b.gradient) || (a.n ?? 0) - (b.n ?? 0);
}
