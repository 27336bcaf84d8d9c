/**
 * Gradient-masking checks on a run's sweeps (Athalye et al. 2018; Carlini et al. 2019): accuracy must not
 * rise with ε or with more iterations, and must fall towards 0 once ε is large.
 */
import { attackDefinition } from '../attacks/registry.ts';
import { datasetDescriptor } from '../datasets/registry.ts';
import { epsOf, type ResultRow } from './results.ts';
import type { RunResults } from './run-results.ts';

export interface MaskingFlag {
  run: string;
  description: string;
  reason: string;
}

function binomialTolerance(p: number, n: number): number {
  return 2 * Math.sqrt((p * (1 - p)) / Math.max(n, 1)) + 0.005;
}

/** The varied parameter of a sweep point (FGSM's single step counts as n = 1). */
export function sweptValue(row: ResultRow, vary: 'eps' | 'steps'): number {
  return vary === 'eps' ? epsOf(row) : (row.params.steps ?? 1);
}

/**
 * What a sweep point shares with the others of its sweep: everything but the varied parameter. An ε sweep
 * also shares its schedule — n, and α relative to ε — so that a BIM point of an iteration sweep or a PGD
 * run with another step size never joins it; an iteration sweep may change α with n.
 */
function sweepSchedule(row: ResultRow, vary: 'eps' | 'steps'): Record<string, number> {
  const { eps, alpha, steps, ...rest } = row.params;
  if (vary === 'eps') return { ...rest, steps: steps ?? 1, ...(alpha === undefined ? {} : { alphaOverEps: Number((alpha / eps).toPrecision(6)) }) };
  return { ...rest, eps };
}

/**
 * Sweeps in a run's attacked rows: groups of rows equal in everything but ε (or the step count), sorted by
 * it, at least 3 ε values (2 step counts). One row per value: the latest.
 */
export function sweeps(rows: ResultRow[], vary: 'eps' | 'steps'): ResultRow[][] {
  const groups = new Map<string, ResultRow[]>();
  for (const r of rows.filter((row) => row.attack !== 'none')) {
    const key = JSON.stringify([r.attack, r.grad, r.loss, r.scored_on, r.member, r.surrogate, sweepSchedule(r, vary)]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  // Groups in key order, not in the order rows were appended (which concurrent jobs make arbitrary).
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, group]) => group)
    .map((group) => [...new Map(group.map((r) => [sweptValue(r, vary), r])).values()].sort((a, b) => sweptValue(a, vary) - sweptValue(b, vary)))
    .filter((group) => group.length >= (vary === 'eps' ? 3 : 2));
}

export function maskingFlags(runs: RunResults[]): MaskingFlag[] {
  const flags: MaskingFlag[] = [];
  for (const run of runs) {
    const describe = (r: ResultRow) => `${r.attack.toUpperCase()} Grad. ${r.grad} [${r.loss}] on ${r.scored_on}${r.surrogate ? ` from ${r.surrogate}` : ''}`;
    const flag = (r: ResultRow, reason: string) => flags.push({ run: run.name, description: describe(r), reason });
    const flagRises = (rows: ResultRow[], vary: 'eps' | 'steps') => {
      const at = (r: ResultRow) => `${r.accuracy.toFixed(4)} at ${vary === 'eps' ? 'ε' : 'n'}=${sweptValue(r, vary)}`;
      for (let i = 1; i < rows.length; i++) {
        if (rows[i].accuracy > rows[i - 1].accuracy + binomialTolerance(rows[i - 1].accuracy, rows[i].n)) {
          flag(rows[i], `accuracy rises from ${at(rows[i - 1])} to ${at(rows[i])}`);
        }
      }
    };
    const saturatingEps = datasetDescriptor(run.manifest.config.dataset).saturatingEps;
    for (const rows of sweeps(run.rows, 'eps')) {
      flagRises(rows, 'eps');
      const [before, last] = rows.slice(-2);
      if (epsOf(last) >= saturatingEps && last.accuracy > 0.1) {
        flag(last, `accuracy ${last.accuracy.toFixed(4)} at ε=${epsOf(last)} does not fall towards 0`);
      }
      if ((last.zero_grad_fraction ?? 0) > 0 && last.accuracy > 0 && last.accuracy >= before.accuracy) {
        flag(
          last,
          `accuracy stops falling at ${last.accuracy.toFixed(4)} (ε=${epsOf(before)}→${epsOf(last)}) while ${(100 * last.zero_grad_fraction!).toFixed(1)}% of examples have an exactly zero input gradient, which sign(0) = 0 leaves unattacked`,
        );
      }
    }
    for (const rows of sweeps(run.rows, 'steps')) flagRises(rows, 'steps');
    for (const { free, best } of gradientFreeWins(run.rows)) {
      flag(
        free,
        `the gradient-free ${free.attack.toUpperCase()} leaves ${free.accuracy.toFixed(4)} at ε=${epsOf(free)}, below the best gradient attack's ${best.accuracy.toFixed(4)} (${describe(best)}): the gradients mislead`,
      );
    }
  }
  return flags.sort((a, b) => a.run.localeCompare(b.run) || a.description.localeCompare(b.description) || a.reason.localeCompare(b.reason));
}

/**
 * White-box rows where a gradient-free attack beats every single gradient attack measured on the same
 * model, ε and images (beyond binomial noise) — the signature of gradient masking (Athalye et al. 2018):
 * with honest gradients, following them does at least as well as random search.
 */
export function gradientFreeWins(rows: ResultRow[]): Array<{ free: ResultRow; best: ResultRow }> {
  const attacked = rows.filter((r) => r.attack !== 'none' && r.surrogate === '' && attackDefinition(r.attack).stages === undefined);
  const wins: Array<{ free: ResultRow; best: ResultRow }> = [];
  for (const free of attacked.filter((r) => !attackDefinition(r.attack).usesGradient)) {
    // The same scored model: the ensemble whatever member's gradient made the examples (a row's member names
    // its Grad. 1 member), or the same single member.
    const sameModel = (r: ResultRow) => r.scored_on === free.scored_on && (r.scored_on === 'ensemble' || r.member === free.member);
    const comparable = attacked.filter((r) => attackDefinition(r.attack).usesGradient && sameModel(r) && r.n === free.n && epsOf(r) === epsOf(free));
    if (comparable.length === 0) continue;
    const best = comparable.reduce((a, b) => (b.accuracy < a.accuracy || (b.accuracy === a.accuracy && JSON.stringify(b) < JSON.stringify(a)) ? b : a));
    if (free.accuracy + binomialTolerance(best.accuracy, free.n) < best.accuracy) wins.push({ free, best });
  }
  return wins;
}
