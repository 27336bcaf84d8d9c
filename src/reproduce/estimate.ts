/**
 * How long a reproduction's remaining steps will take here: each step's cost at this machine's measured
 * speed, corrected by how long finished steps of the same kind took against that prediction.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ATTACKS } from '../attacks/registry.ts';
import { formatDuration } from '../run/progress.ts';
import { datasetOf, type Step } from './plan.ts';
import type { MachineSpeed } from './speed.ts';

/** Per data set, step kind and attack: the seconds finished steps took, and what the measured speed predicted for them. */
export type LearnedTimes = Record<string, { seconds: number; predicted: number }>;

/**
 * Per attack that stops at each image's first success (and per `dataset:attack` where known): the share of
 * its budget it used, measured as its time over its full-budget prediction relative to BIM's in the same
 * reproduction (BIM always runs its whole budget, so that ratio carries the machine and the measurement).
 */
export type BudgetShares = Record<string, number>;

/** The reference attack that runs its whole budget on every image. */
const FULL_BUDGET_ATTACK = 'bim';

const ratioOf = (t: { seconds: number; predicted: number } | undefined) => (t && t.predicted > 0 ? t.seconds / t.predicted : undefined);

/** Budget shares from the learned times of finished reproductions, pooled per attack and per data set and attack. */
export function budgetShares(reproductions: LearnedTimes[]): BudgetShares {
  const pooled: Record<string, { used: number; budget: number }> = {};
  for (const learned of reproductions) {
    for (const [key, times] of Object.entries(learned)) {
      const [dataset, kind, attack] = key.split(':');
      const reference = ratioOf(learned[`${dataset}:attack:${FULL_BUDGET_ATTACK}`]);
      if (kind !== 'attack' || attack === FULL_BUDGET_ATTACK || !reference || !isBoundAttack(attack)) continue;
      for (const k of [attack, `${dataset}:${attack}`]) {
        const p = (pooled[k] ??= { used: 0, budget: 0 });
        p.used += times.seconds / reference;
        p.budget += times.predicted;
      }
    }
  }
  return Object.fromEntries(Object.entries(pooled).map(([k, p]) => [k, p.used / p.budget]));
}

/** Whether an attack (by id; saved states may name one this version lacks) stops at each image's first success. */
function isBoundAttack(id: string): boolean {
  return ATTACKS.find((a) => a.id === id)?.costIsBound === true;
}

/** The saved reproductions' learned times (docs/reproductions/NAME/reproduce-state.json). */
export function savedLearnedTimes(dir = fileURLToPath(new URL('../../docs/reproductions/', import.meta.url))): LearnedTimes[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => join(dir, name, 'reproduce-state.json'))
    .filter((path) => existsSync(path))
    .map((path) => (JSON.parse(readFileSync(path, 'utf8')) as { learned?: LearnedTimes }).learned ?? {});
}

/**
 * A step's seconds: its cost at this machine's measured speed (training samples and input gradients per
 * second), times how far finished steps of the same data set, kind and attack were from that prediction —
 * in this sitting or, through the reproduction's state file, an earlier one (the ratio carries to another
 * machine; the speed is measured anew).
 */
export class Eta {
  private readonly observed: LearnedTimes;

  constructor(
    private readonly speeds: Record<string, MachineSpeed>,
    learned: LearnedTimes = {},
    private readonly shares: BudgetShares = {},
  ) {
    this.observed = structuredClone(learned);
  }

  private key(step: Step): string {
    return `${datasetOf(step)}:${step.kind}:${step.kind === 'train' ? '' : step.job.attack?.definition.id ?? 'none'}`;
  }

  private predicted(step: Step): number {
    const speed = this.speeds[datasetOf(step)];
    return step.cost / (step.kind === 'train' ? speed.trainSamplesPerSecond : speed.gradientsPerSecond);
  }

  record(step: Step, seconds: number): void {
    const o = this.observed[this.key(step)] ?? { seconds: 0, predicted: 0 };
    this.observed[this.key(step)] = { seconds: o.seconds + seconds, predicted: o.predicted + this.predicted(step) };
  }

  /** Whether steps like this one have been timed (its estimate is then no longer the nominal cost). */
  learnedFor(step: Step): boolean {
    return (this.observed[this.key(step)]?.predicted ?? 0) > 0;
  }

  /**
   * A bound attack not yet timed here: its budget share from saved reproductions, times how far the
   * full-budget reference attack has been from its prediction in this reproduction (1 until it has run).
   */
  budgetShare(step: Step): number | undefined {
    if (!costIsBound(step) || this.learnedFor(step)) return undefined;
    const attack = step.kind === 'attack' ? step.job.attack!.definition.id : '';
    return this.shares[`${datasetOf(step)}:${attack}`] ?? this.shares[attack];
  }

  seconds(step: Step): number {
    const share = this.budgetShare(step);
    if (share !== undefined) return this.predicted(step) * share * (ratioOf(this.observed[`${datasetOf(step)}:attack:${FULL_BUDGET_ATTACK}`]) ?? 1);
    return this.predicted(step) * (ratioOf(this.observed[this.key(step)]) ?? 1);
  }

  /** The step's time if it used its whole budget (what seconds() gives where nothing better is known). */
  bound(step: Step): number {
    return this.predicted(step) * (ratioOf(this.observed[this.key(step)]) ?? ratioOf(this.observed[`${datasetOf(step)}:attack:${FULL_BUDGET_ATTACK}`]) ?? 1);
  }

  remaining(steps: Step[]): number {
    return steps.reduce((sum, s) => sum + this.seconds(s), 0);
  }

  learned(): LearnedTimes {
    return structuredClone(this.observed);
  }
}

/** Steps whose cost counts the attack's whole budget though it stops at each image's first success. */
function costIsBound(step: Step): boolean {
  return step.kind === 'attack' && step.job.attack?.definition.costIsBound === true;
}

/**
 * "estimated 1h40m (…)": the plan's time on this machine, from its measured speed. Attacks that stop at
 * each image's first success are predicted at the share of their budget saved reproductions used, with
 * their whole budget as the bound; without such a share, their whole budget is counted and said to be a bound.
 */
export function describeEstimate(steps: Step[], eta: Eta): string {
  const bounded = steps.filter((s) => costIsBound(s) && !eta.learnedFor(s));
  const total = eta.remaining(steps);
  if (bounded.length === 0) return `estimated ${formatDuration(total)}`;
  const predicted = bounded.filter((s) => eta.budgetShare(s) !== undefined);
  const notes: string[] = [];
  if (predicted.length > 0) {
    const shares = [...new Set(predicted.map((s) => `${s.kind === 'attack' ? s.job.attack!.definition.id : ''} at ${Math.round(100 * eta.budgetShare(s)!)}%`))];
    const ceiling = total - eta.remaining(predicted) + predicted.reduce((sum, s) => sum + eta.bound(s), 0);
    notes.push(`attacks that stop at each image's first success predicted at the share of their budget saved reproductions used (${shares.join(', ')}); at most ${formatDuration(ceiling)} if they used all of it`);
  }
  const unknown = bounded.filter((s) => eta.budgetShare(s) === undefined);
  if (unknown.length > 0) notes.push(`of which up to ${formatDuration(eta.remaining(unknown))} for attacks that stop at each image's first success (counted at their full budget until one has run)`);
  return `estimated ${formatDuration(total)} (${notes.join('; ')})`;
}

export function describeSpeeds(speeds: Record<string, MachineSpeed>): string {
  return Object.entries(speeds)
    .map(([dataset, s]) => `${dataset} ${Math.round(s.trainSamplesPerSecond)} training samples/s, ${Math.round(s.gradientsPerSecond)} input gradients/s`)
    .join('; ');
}
