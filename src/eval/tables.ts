/**
 * Table 2, Table 4, Beyond Table 4 (the defenses under the worst-case suite) and the beyond-the-paper table
 * from saved result rows, with the paper's numbers beside ours, in the paper's order: data sets, then loss
 * forms (logits first), then FGSM before BIM, then methods as the paper lists them. Every number keeps the
 * attack parameters, gradient source, loss form and test-image count that produced it, and its 95 % Wilson
 * interval. Pure functions: the same rows give the same tables.
 */
import type { AttackParams } from '../attacks/definition.ts';
import { LOSS_FORMS } from '../attacks/gradients.ts';
import { ATTACKS, attackDefinition } from '../attacks/registry.ts';
import { METHODS } from '../training/methods.ts';
import { wilsonInterval } from './intervals.ts';
import { paperRank, type PaperResults } from './paper.ts';
import type { ResultRow } from './results.ts';
import type { RunResults } from './run-results.ts';

/** The paper's attacks (FGSM, BIM), in the registry's order: the paper's FGSM block, then its BIM block. */
export const PAPER_ATTACKS: readonly string[] = ATTACKS.filter((a) => a.paper).map((a) => a.id);

/** One number of a table, long format (one CSV row each). */
export interface TableCell {
  dataset: string;
  attack: string;
  /** The attack's parameters (null: no attack). */
  params: AttackParams | null;
  /** The paper's row key (random_init, defensive_distillation, ...). */
  method: string;
  loss: string;
  /** The column's key (grad1_single, fgsm_grad3; beyond the paper: the attack's `column`, e.g. pgd_r5_n8). */
  column: string;
  /** Beyond the paper: the row's name as the report prints it, the attack with its budget. */
  label?: string;
  gradient: string;
  ours: number | null;
  /** The 95 % Wilson interval of `ours` on its n images. */
  ci_low: number | null;
  ci_high: number | null;
  paper: number | null;
  difference: number | null;
  n: number | null;
  zero_grad_fraction: number | null;
  run: string;
}

/** The paper's row key of a method (random_init, defensive_distillation, ...). */
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

/** The loss forms a run was attacked with, logits first as the paper's Keras models computed theirs. */
function lossFormsOf(rows: ResultRow[]): string[] {
  // A gradient-free attack has no loss form: it makes no table section of its own.
  const forms = new Set(rows.filter((r) => r.attack !== 'none' && r.loss !== '').map((r) => r.loss));
  const ordered = LOSS_FORMS.filter((form) => forms.has(form));
  return ordered.length > 0 ? ordered : ['logits'];
}

type CellBase = Omit<TableCell, 'ours' | 'ci_low' | 'ci_high' | 'paper' | 'difference' | 'n' | 'zero_grad_fraction' | 'params'>;

function cell(base: CellBase, row: ResultRow | undefined, paper: number | null): TableCell {
  const ours = row?.accuracy ?? null;
  const [low, high] = row && row.n > 0 ? wilsonInterval(row.accuracy, row.n) : [null, null];
  return {
    ...base,
    params: row && row.attack !== 'none' ? row.params : null,
    ours,
    ci_low: low,
    ci_high: high,
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

/** Table 2's columns as the paper heads them, then ours (Grad. 3, which the paper does not have). */
export const TABLE2_COLUMNS = ['no_attack_single', 'no_attack_ensemble', 'grad1_single', 'grad1_ensemble', 'grad2_ensemble', 'grad3_ensemble'] as const;
/** Table 4's columns as the paper heads them (ensembles attacked with Grad. 2), then ours with Grad. 3. */
export const TABLE4_COLUMNS = ['no_attack', 'fgsm', 'bim', 'fgsm_grad3', 'bim_grad3'] as const;

const COLUMN_LABELS: Record<string, string> = {
  no_attack_single: 'No Attack Single',
  no_attack_ensemble: 'No Attack Ensemble',
  grad1_single: 'Grad. 1 Single',
  grad1_ensemble: 'Grad. 1 Ensemble',
  grad2_ensemble: 'Grad. 2 Ensemble',
  grad3_ensemble: 'Grad. 3 Ensemble (ours)',
  no_attack: 'No Attack',
};

/** A Table 2 or Table 4 column as the paper heads it ("Grad. 1 Ensemble", "BIM"), ours marked, for heads and legends. */
export function columnLabel(column: string): string {
  if (column in COLUMN_LABELS) return COLUMN_LABELS[column];
  const [attack, grad3] = column.split('_grad3');
  if (PAPER_ATTACKS.includes(attack)) return grad3 === undefined ? attackDefinition(attack).title : `${attackDefinition(attack).title} Grad. 3 (ours)`;
  return column;
}

/**
 * Cells in the paper's order: data set, loss form (logits first), attack block (Table 2: FGSM, then BIM),
 * method (the paper's order unless `methodRank` says otherwise), run, column.
 */
function paperOrder(cells: TableCell[], paper: PaperResults, columns: readonly string[], attackBlocks: boolean, methodRank = (dataset: string) => paperRank(paper, dataset)): TableCell[] {
  const datasets = [...new Set(paper.table2.map((r) => r.dataset))];
  const datasetRank = (d: string) => (datasets.includes(d) ? datasets.indexOf(d) : datasets.length);
  const blockRank = (a: string) => (attackBlocks ? PAPER_ATTACKS.indexOf(a) : 0);
  const lossRank = (l: string) => (LOSS_FORMS as readonly string[]).indexOf(l);
  return [...cells].sort(
    (a, b) =>
      datasetRank(a.dataset) - datasetRank(b.dataset) ||
      a.dataset.localeCompare(b.dataset) ||
      lossRank(a.loss) - lossRank(b.loss) ||
      blockRank(a.attack) - blockRank(b.attack) ||
      methodRank(a.dataset)(a.method) - methodRank(b.dataset)(b.method) ||
      a.run.localeCompare(b.run) ||
      columns.indexOf(a.column) - columns.indexOf(b.column),
  );
}

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
  return paperOrder(cells, paper, TABLE2_COLUMNS, true);
}

export function buildTable4(runs: RunResults[], paper: PaperResults): TableCell[] {
  const cells = runs.filter(inTable('table4')).flatMap((run) => lossFormsOf(run.rows).flatMap((loss) => table4Row(run, paper, loss)));
  return paperOrder(cells, paper, TABLE4_COLUMNS, false);
}

/**
 * A run's Table 4 row for one loss form, whatever its method: no attack, the paper's attacks with the paper's
 * gradient (Grad. 2 for an ensemble, the model's own for a single model), and Grad. 3 for an ensemble. For an
 * ensemble these are also its Table 2 No Attack Ensemble and Grad. 3 Ensemble cells (the same rows).
 */
function table4Row(run: RunResults, paper: PaperResults, loss: string): TableCell[] {
  const { dataset, members } = run.manifest.config;
  const defense = paperMethodName(run.manifest.config.method);
  const ensemble = members > 1;
  const paperRow = paper.table4.find((p) => p.dataset === dataset && p.defense === defense);
  // The paper attacks ensembles with Grad. 2 and single models with their own gradient (Grad. 1 of member 0).
  const scoredOn = ensemble ? 'ensemble' : 'single';
  const paperGrad = ensemble ? '2' : '1';
  const attacked = (attack: string, grad: string) =>
    pick(run.rows, (r) => r.table === 'paper' && r.attack === attack && r.grad === grad && r.loss === loss && r.scored_on === scoredOn && (ensemble || r.member === '0'));
  const clean = ensemble ? pick(run.rows, (r) => r.attack === 'none' && r.scored_on === 'ensemble') : pickMember(run.rows, (r) => r.attack === 'none' && r.scored_on === 'single');
  const base = { dataset, method: defense, loss, run: run.name };
  const cells = [cell({ ...base, attack: 'none', column: 'no_attack', gradient: 'none' }, clean, paperRow?.no_attack ?? null)];
  for (const attack of PAPER_ATTACKS) {
    cells.push(cell({ ...base, attack, column: attack, gradient: ensemble ? GRADIENT_LABEL['2'] : GRADIENT_LABEL.own }, attacked(attack, paperGrad), (paperRow as unknown as Record<string, number> | undefined)?.[attack] ?? null));
  }
  // A single model has one gradient, its own: no Grad. 3 cell to repeat it in.
  if (ensemble) for (const attack of PAPER_ATTACKS) cells.push(cell({ ...base, attack, column: `${attack}_grad3`, gradient: GRADIENT_LABEL['3'] }, attacked(attack, '3'), null));
  return cells;
}

/** A parameter as a reader reads a budget: "ε = 0.02", "8 steps", "5 restarts", "1,000 queries". */
function paramText(key: string, value: number): string | null {
  const count = (one: string, many: string) => `${value.toLocaleString('en-US')} ${value === 1 ? one : many}`;
  switch (key) {
    case 'eps':
      return `ε = ${value}`;
    case 'alpha':
      return `α = ${value}`;
    case 'steps':
      return count('step', 'steps');
    case 'restarts':
      return count('restart', 'restarts');
    case 'queries':
      return count('query', 'queries');
    case 'seed':
    case 'stages':
      return null; // a seed is not a budget; the stages are named one by one
    default:
      return `${key} = ${value}`;
  }
}

/** An attack by name with its whole budget, e.g. "BIM (ε = 0.02, α = 0.0025, 8 steps)"; FGSM is one step. */
export function describeAttack(attack: string, params: AttackParams): string {
  const definition = attackDefinition(attack);
  const parts = definition.params.filter((p) => params[p.key] !== undefined).map((p) => paramText(p.key, params[p.key])).filter((t) => t !== null);
  if (!definition.params.some((p) => p.key === 'steps') && definition.usesGradient && !definition.suite) parts.push('1 step');
  return `${definition.title} (${parts.join(', ')})`;
}

/**
 * The name of a beyond-the-paper row: an attack with its budget; a suite's stage by what it adds to the
 * stages before it, its last stage as the suite's result.
 */
function beyondLabel(row: ResultRow): string {
  const definition = attackDefinition(row.attack);
  if (!definition.suite) return row.surrogate ? `${describeAttack(row.attack, row.params)}, transferred from ${row.surrogate}` : describeAttack(row.attack, row.params);
  const k = row.params.stages;
  const stage = definition.suite[k - 1];
  // The stage's own budget: the suite's parameters that the stage takes, but ε, which the suite states once.
  const budget = Object.fromEntries(stage.params.filter((p) => p.key !== 'eps').map((p) => [p.key, row.params[p.key]]));
  const added = `${k > 1 ? '+ ' : ''}${describeAttack(stage.id, budget)}`;
  const prefix = `${definition.title} (ε = ${row.params.eps})`;
  return k === definition.suite.length ? `${prefix}, result (stage ${k}: ${added})` : `${prefix}, stage ${k}: ${added}`;
}

/** A beyond-the-paper row as a cell: its column the attack's (or the transfer's), its label the attack with its budget. */
function beyondCell(run: RunResults, row: ResultRow): TableCell {
  const isTransfer = row.surrogate !== '';
  const column = isTransfer ? `transfer_${row.attack}_from_${row.surrogate}` : attackDefinition(row.attack).column(row.params);
  const gradient = row.grad === '' ? 'none (queries the model)' : `${GRADIENT_LABEL[row.grad]}${isTransfer ? ` of run ${row.surrogate}` : ''}`;
  const base = { dataset: run.manifest.config.dataset, attack: row.attack, method: paperMethodName(run.manifest.config.method), loss: row.loss, column, gradient, run: run.name };
  return { ...cell(base, row, null), label: beyondLabel(row) };
}

/**
 * Beyond the paper: the other attacks at their default ε, and transfer from a surrogate, for every attacked
 * run, in the paper's method order; per run in the registry's attack order, a suite's stages in order then
 * its result; transfer attacks after the white-box ones.
 */
export function buildBeyondTable(runs: RunResults[], paper: PaperResults): TableCell[] {
  const cells: { cell: TableCell; row: ResultRow }[] = [];
  for (const run of runs) for (const row of run.rows.filter((r) => r.table === 'beyond')) cells.push({ cell: beyondCell(run, row), row });
  // Rows are appended in the order their steps finished, which concurrent jobs (Slurm) make arbitrary.
  const key = ({ cell: c, row }: { cell: TableCell; row: ResultRow }): (number | string)[] => [
    c.dataset,
    paperRank(paper, c.dataset)(c.method),
    c.run,
    row.surrogate === '' ? 0 : 1,
    attackRank(row.attack),
    row.params.stages ?? 0,
    c.column,
    c.loss,
    c.gradient,
    c.n ?? 0,
  ];
  const compare = (a: number | string, b: number | string) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b)));
  return cells
    .sort((a, b) => {
      const [ka, kb] = [key(a), key(b)];
      return ka.map((v, i) => compare(v, kb[i])).find((d) => d !== 0) ?? 0;
    })
    .map((c) => c.cell);
}

/** The registry's attack order (its `order` field): the paper's attacks first. */
const attackRank = (attack: string) => ATTACKS.findIndex((a) => a.id === attack);

/** The suite Beyond Table 4 reports stage by stage: APGD-CE, + APGD-DLR, + Square (the worst case). */
const SUITE = attackDefinition('worst-case');
export const BEYOND_TABLE4_SUITE = SUITE.id;
/** One column per stage: the accuracy after it and every stage before it; the last is the suite's result. */
const SUITE_COLUMNS = SUITE.suite!.map((_, k) => SUITE.column({ stages: k + 1 }));

/**
 * Beyond Table 4's columns: no attack, the paper's attacks at the paper's settings (Grad. 3 for an ensemble,
 * the gradient the suite takes too; the model's own gradient for a single model), then the suite's stages.
 */
export const BEYOND_TABLE4_COLUMNS: readonly string[] = ['no_attack', ...PAPER_ATTACKS, ...SUITE_COLUMNS];

/** A Beyond Table 4 column's head: "FGSM (Grad. 3 or own)", "APGD-CE", "+ APGD-DLR", "Worst case (+ Square)". */
export function beyondTable4ColumnLabel(column: string): string {
  if (PAPER_ATTACKS.includes(column)) return `${attackDefinition(column).title} (Grad. 3 or own)`;
  const k = SUITE_COLUMNS.indexOf(column);
  if (k < 0) return columnLabel(column);
  const stage = SUITE.suite![k].title;
  return k === SUITE_COLUMNS.length - 1 ? `Worst case (+ ${stage})` : k === 0 ? stage : `+ ${stage}`;
}

/** A white-box suite row with the ensemble's gradient (Grad. 3: for a single model, its own gradient). */
const isSuiteRow = (r: ResultRow) => r.table === 'beyond' && r.attack === SUITE.id && r.surrogate === '' && r.grad === '3' && r.scored_on === 'ensemble';

/**
 * Beyond Table 4's method order on a data set: Table 4's defenses as the paper orders them, then the methods
 * beyond the paper (PGD adversarial training and its ensembles) in the registry's order, then Table 2's ensembles.
 */
function defenseRank(paper: PaperResults, dataset: string): (method: string) => number {
  const rank = paperRank(paper, dataset);
  const paperRows = paper.table2.length + paper.table4.length + 1; // more than any paper rank
  return (method) => {
    const index = METHODS.findIndex((m) => paperMethodName(m.name) === method);
    const rows = METHODS[index]?.paperRows ?? {};
    if (rows.table4) return rank(method);
    if (!rows.table2) return paperRows + (index < 0 ? METHODS.length : index);
    return paperRows + METHODS.length + 1 + rank(method);
  };
}

/**
 * Beyond Table 4: every run attacked with the worst-case suite (Grad. 3), per data set and loss form, its clean
 * accuracy and the paper's attacks (its Table 4 row, the ensemble's Grad. 3 cells) beside each stage of the
 * suite. The paper's values stay in Table 4: none here. A cell without a row is empty (ours null).
 */
export function buildBeyondTable4(runs: RunResults[], paper: PaperResults): TableCell[] {
  const cells: TableCell[] = [];
  for (const run of runs) {
    const suiteRows = run.rows.filter(isSuiteRow);
    const ensemble = run.manifest.config.members > 1;
    for (const loss of LOSS_FORMS.filter((form) => suiteRows.some((r) => r.loss === form))) {
      const table4 = table4Row(run, paper, loss);
      const ours = (from: string, column: string): TableCell => ({ ...table4.find((c) => c.column === from)!, column, paper: null, difference: null });
      cells.push(ours('no_attack', 'no_attack'), ...PAPER_ATTACKS.map((attack) => ours(ensemble ? `${attack}_grad3` : attack, attack)));
      SUITE_COLUMNS.forEach((column, k) => {
        const stage = pick(suiteRows, (r) => r.loss === loss && r.params.stages === k + 1);
        const base = { dataset: run.manifest.config.dataset, attack: SUITE.id, method: paperMethodName(run.manifest.config.method), loss, column, gradient: GRADIENT_LABEL['3'], run: run.name };
        cells.push(stage ? beyondCell(run, stage) : cell(base, undefined, null));
      });
    }
  }
  return paperOrder(cells, paper, BEYOND_TABLE4_COLUMNS, false, (dataset) => defenseRank(paper, dataset));
}
