/**
 * Table 2 and Table 4 from saved result rows, with the paper's numbers beside ours. Every number keeps
 * the gradient source and loss form that produced it. Pure functions: the same rows give the same tables.
 */
import { ATTACK_DEFAULTS } from '../config/attack-config.ts';
import type { DatasetName } from '../data/dataset.ts';
import type { PaperResults } from './paper.ts';
import type { ResultRow } from './results.ts';
import type { RunResults } from './run-results.ts';

export const TABLE2_METHODS = ['random-init', 'mixed-models', 'bagging', 'gaussian-noise'];
export const TABLE4_DEFENSES: Record<string, string> = {
  bagging: 'bagging',
  'adversarial-training': 'adversarial_training',
  distillation: 'defensive_distillation',
  'bagging+adversarial-training': 'bagging+adversarial_training',
  'bagging+distillation': 'bagging+defensive_distillation',
};
export const PAPER_ATTACKS = ['fgsm', 'bim'] as const;

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
  return TABLE4_DEFENSES[method] ?? method.replace(/-/g, '_');
}

/** Whether a row is the paper's attack setting (ε, α, n of section 4), white-box. */
export function isPaperSetting(row: ResultRow, dataset: DatasetName): boolean {
  if (row.surrogate !== '') return false;
  const defaults = ATTACK_DEFAULTS[dataset];
  if (row.attack === 'fgsm') return row.eps === defaults.fgsm.eps;
  if (row.attack === 'bim') return row.eps === defaults.bim.eps && row.alpha === defaults.bim.alpha && row.steps === defaults.bim.steps;
  return false;
}

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
  const forms = [...new Set(rows.filter((r) => r.attack !== 'none').map((r) => r.loss))].sort();
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
  for (const run of runs.filter((r) => TABLE2_METHODS.includes(r.manifest.config.method))) {
    const dataset = run.manifest.config.dataset;
    const method = paperMethodName(run.manifest.config.method);
    for (const loss of lossFormsOf(run.rows)) {
      for (const attack of PAPER_ATTACKS) {
        const paperRow = paper.table2.find((p) => p.dataset === dataset && p.attack === attack && p.method === method);
        const attacked = (grad: string, scoredOn: string) => (r: ResultRow) =>
          r.attack === attack && r.grad === grad && r.loss === loss && r.scored_on === scoredOn && isPaperSetting(r, dataset);
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

export function buildTable4(runs: RunResults[], paper: PaperResults): TableCell[] {
  const cells: TableCell[] = [];
  for (const run of runs.filter((r) => r.manifest.config.method in TABLE4_DEFENSES)) {
    const { dataset, members } = run.manifest.config;
    const defense = paperMethodName(run.manifest.config.method);
    const ensemble = members > 1;
    const paperRow = paper.table4.find((p) => p.dataset === dataset && p.defense === defense);
    // The paper attacks ensembles with Grad. 2 and single models with their own gradient (Grad. 1 of member 0).
    const scoredOn = ensemble ? 'ensemble' : 'single';
    const paperGrad = ensemble ? '2' : '1';
    for (const loss of lossFormsOf(run.rows)) {
      const attacked = (attack: string, grad: string) =>
        run.rows.length === 0
          ? undefined
          : pick(run.rows, (r) => r.attack === attack && r.grad === grad && r.loss === loss && r.scored_on === scoredOn && isPaperSetting(r, dataset) && (ensemble || r.member === '0'));
      const clean = ensemble ? pick(run.rows, (r) => r.attack === 'none' && r.scored_on === 'ensemble') : pickMember(run.rows, (r) => r.attack === 'none' && r.scored_on === 'single');
      const base = { dataset, method: defense, loss, run: run.name };
      cells.push(cell({ ...base, attack: 'none', column: 'no_attack', gradient: 'none' }, clean, paperRow?.no_attack ?? null));
      for (const attack of PAPER_ATTACKS) {
        cells.push(cell({ ...base, attack, column: attack, gradient: ensemble ? GRADIENT_LABEL['2'] : GRADIENT_LABEL.own }, attacked(attack, paperGrad), paperRow?.[attack] ?? null));
      }
      for (const attack of PAPER_ATTACKS) {
        const grad3 = ensemble ? attacked(attack, '3') : attacked(attack, '1');
        cells.push(cell({ ...base, attack, column: `${attack}_grad3`, gradient: ensemble ? GRADIENT_LABEL['3'] : GRADIENT_LABEL.own }, grad3, null));
      }
    }
  }
  return cells;
}

/** Beyond the paper: PGD with restarts, transfer from a surrogate, for every attacked ensemble. */
export function buildBeyondTable(runs: RunResults[]): TableCell[] {
  const cells: TableCell[] = [];
  for (const run of runs) {
    const { dataset } = run.manifest.config;
    const method = paperMethodName(run.manifest.config.method);
    const defaults = ATTACK_DEFAULTS[dataset].bim;
    for (const row of run.rows) {
      const isPgd = row.attack === 'pgd' && row.surrogate === '' && row.eps === defaults.eps;
      const isTransfer = row.surrogate !== '' && row.attack !== 'none';
      if (!isPgd && !isTransfer) continue;
      const column = isTransfer ? `transfer_${row.attack}_from_${row.surrogate}` : `pgd_r${row.restarts}_n${row.steps}`;
      const gradient = `${GRADIENT_LABEL[row.grad] ?? row.grad}${isTransfer ? ` of run ${row.surrogate}` : ''}`;
      cells.push(cell({ dataset, attack: row.attack, method, loss: row.loss, column, gradient, run: run.name }, row, null));
    }
  }
  return cells;
}

export interface MaskingFlag {
  run: string;
  description: string;
  reason: string;
}

/** Accuracy at which an ε is large enough that any honest attack should drive accuracy near 0. */
const SATURATING_EPS: Record<string, number> = { mnist: 0.5, cifar10: 0.1 };

function binomialTolerance(p: number, n: number): number {
  return 2 * Math.sqrt((p * (1 - p)) / Math.max(n, 1)) + 0.005;
}

/**
 * Sweeps in a run's attacked rows: groups of rows equal in everything but ε (or the step count), sorted by
 * it, at least 3 ε values (2 step counts). An ε sweep also shares its schedule, α/ε and n, so that a BIM
 * point from an iteration sweep or a PGD run with another step size never joins it. One row per value:
 * the latest.
 */
export function sweeps(rows: ResultRow[], vary: 'eps' | 'steps'): ResultRow[][] {
  const groups = new Map<string, ResultRow[]>();
  for (const r of rows.filter((row) => row.attack !== 'none')) {
    const schedule = vary === 'eps' ? [r.steps, r.alpha === null ? null : Number((r.alpha / r.eps).toPrecision(6))] : [r.eps];
    const key = JSON.stringify([r.attack, r.grad, r.loss, r.scored_on, r.member, r.surrogate, r.restarts, ...schedule]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()]
    .map((group) => [...new Map(group.map((r) => [r[vary], r])).values()].sort((a, b) => (a[vary] ?? 0) - (b[vary] ?? 0)))
    .filter((group) => group.length >= (vary === 'eps' ? 3 : 2));
}

/**
 * Gradient-masking checks on sweeps: accuracy must not rise with ε or with more iterations, and must fall
 * towards 0 (< 10%) once ε is large.
 */
export function maskingFlags(runs: RunResults[]): MaskingFlag[] {
  const flags: MaskingFlag[] = [];
  for (const run of runs) {
    const describe = (r: ResultRow) => `${r.attack.toUpperCase()} Grad. ${r.grad} [${r.loss}] on ${r.scored_on}${r.surrogate ? ` from ${r.surrogate}` : ''}`;
    const flag = (r: ResultRow, reason: string) => flags.push({ run: run.name, description: describe(r), reason });
    const flagRises = (rows: ResultRow[], vary: 'eps' | 'steps') => {
      const at = (r: ResultRow) => `${r.accuracy.toFixed(4)} at ${vary === 'eps' ? 'ε' : 'n'}=${r[vary]}`;
      for (let i = 1; i < rows.length; i++) {
        if (rows[i].accuracy > rows[i - 1].accuracy + binomialTolerance(rows[i - 1].accuracy, rows[i].n)) {
          flag(rows[i], `accuracy rises from ${at(rows[i - 1])} to ${at(rows[i])}`);
        }
      }
    };
    for (const rows of sweeps(run.rows, 'eps')) {
      flagRises(rows, 'eps');
      const [before, last] = rows.slice(-2);
      if (last.eps >= SATURATING_EPS[run.manifest.config.dataset] && last.accuracy > 0.1) {
        flag(last, `accuracy ${last.accuracy.toFixed(4)} at ε=${last.eps} does not fall towards 0`);
      }
      if ((last.zero_grad_fraction ?? 0) > 0 && last.accuracy > 0 && last.accuracy >= before.accuracy) {
        flag(
          last,
          `accuracy stops falling at ${last.accuracy.toFixed(4)} (ε=${before.eps}→${last.eps}) while ${(100 * last.zero_grad_fraction!).toFixed(1)}% of examples have an exactly zero input gradient, which sign(0) = 0 leaves unattacked`,
        );
      }
    }
    for (const rows of sweeps(run.rows, 'steps')) flagRises(rows, 'steps');
  }
  return flags;
}
