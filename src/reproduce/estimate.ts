/**
 * How long a reproduction's remaining steps will take here: each step's cost at this machine's measured
 * speed, corrected by how long finished steps of the same kind took against that prediction.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ATTACKS } from '../attacks/registry.ts';
import { formatDuration } from '../run/progress.ts';
import { manifestExists, readManifest } from '../run/manifest.ts';
import { readResults, resultsPath, specOf, type ResultRow } from '../eval/results.ts';
import { memberProcesses } from '../training/worker-pool.ts';
import { attackCost, datasetOf, type AttackStep, type Step } from './plan.ts';
import type { MachineSpeed } from './speed.ts';

/** Per data set, step kind and attack: the seconds finished steps took, and what the measured speed predicted for them. */
export type LearnedTimes = Record<string, { seconds: number; predicted: number }>;

/**
 * Per attack that stops at each image's first success, the share of its budget it used, keyed from the most
 * to the least specific (`shareKeys`): how far such an attack gets depends on how robust the attacked
 * model is, so on the run's method (the worst-case suite uses ~10 % of its budget on the paper's
 * ensembles and 30–75 % on PGD-trained models, where Square spends most of its queries).
 */
export type BudgetShares = Record<string, number>;

/** The reference attack that runs its whole budget on every image. */
const FULL_BUDGET_ATTACK = 'bim';

const ratioOf = (t: { seconds: number; predicted: number } | undefined) => (t && t.predicted > 0 ? t.seconds / t.predicted : undefined);

/** Where a budget share is looked up, most specific first: data set and method, method, data set, attack alone. */
function shareKeys(dataset: string, attack: string, method: string): string[] {
  return [`${dataset}:${attack}@${method}`, `${attack}@${method}`, `${dataset}:${attack}`, attack];
}

/** A finished run's timed attacks: its results rows, with what is needed to price them. */
export interface TimedRun {
  dataset: string;
  method: string;
  members: number;
  rows: ResultRow[];
}

/**
 * One attack job's rows (a job writes several: the suite one per stage, Grad. 1 one per scoring), as its
 * cost in the plan's units and the seconds it took.
 */
function timedJobs(run: TimedRun): { attack: string; cost: number; seconds: number }[] {
  const jobs = new Map<string, { attack: string; cost: number; seconds: number }>();
  for (const row of run.rows) {
    const spec = specOf(row);
    if (!spec || row.grad === '' || row.loss === '') continue;
    const { stages: _, ...params } = row.params;
    const key = JSON.stringify([row.attack, params, row.grad, row.loss, row.surrogate, row.member, row.n, row.seconds]);
    const cost = attackCost({ attack: spec, grad: row.grad, loss: row.loss, transfer: row.surrogate !== '' }, run.members, row.n);
    const job = jobs.get(key);
    if (!job || cost > job.cost) jobs.set(key, { attack: row.attack, cost, seconds: row.seconds });
  }
  return [...jobs.values()];
}

/**
 * Budget shares from finished runs: each bound attack's seconds per unit of budget over the seconds per
 * unit of the same run's BIM (which always runs its whole budget, on the same machine at the same time, so
 * the ratio carries neither the machine nor its load), pooled under every key of `shareKeys`.
 */
export function budgetShares(runs: TimedRun[]): BudgetShares {
  const pooled: Record<string, { used: number; budget: number }> = {};
  for (const run of runs) {
    const jobs = timedJobs(run);
    const reference = jobs.filter((j) => j.attack === FULL_BUDGET_ATTACK);
    const referenceRate = reference.reduce((sum, j) => sum + j.seconds, 0) / reference.reduce((sum, j) => sum + j.cost, 0);
    if (!(referenceRate > 0)) continue;
    for (const job of jobs.filter((j) => isBoundAttack(j.attack) && j.cost > 0)) {
      for (const key of shareKeys(run.dataset, job.attack, run.method)) {
        const p = (pooled[key] ??= { used: 0, budget: 0 });
        p.used += job.seconds / referenceRate;
        p.budget += job.cost;
      }
    }
  }
  return Object.fromEntries(Object.entries(pooled).map(([k, p]) => [k, p.used / p.budget]));
}

/** Whether an attack (by id; saved results may name one this version lacks) stops at each image's first success. */
function isBoundAttack(id: string): boolean {
  return ATTACKS.find((a) => a.id === id)?.costIsBound === true;
}

/** The saved reproductions' runs (docs/reproductions/NAME/runs/RUN: manifest and results). */
export function savedTimedRuns(dir = fileURLToPath(new URL('../../docs/reproductions/', import.meta.url))): TimedRun[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((name) => (existsSync(join(dir, name, 'runs')) ? readdirSync(join(dir, name, 'runs')).map((run) => join(dir, name, 'runs', run)) : []))
    .filter((run) => existsSync(resultsPath(run)) && manifestExists(run))
    .map((run) => {
      const { config } = readManifest(run);
      return { dataset: config.dataset, method: config.method, members: config.members, rows: readResults(resultsPath(run)) };
    });
}

/**
 * A step's seconds: its cost at this machine's measured speed (training samples and input gradients per
 * second), times how far finished steps of the same data set, kind and attack were from that prediction —
 * in this sitting or, through the reproduction's state file, an earlier one (the ratio carries to another
 * machine; the speed is measured anew). A step's time is recorded as the machine alone would have taken it
 * (run.ts takes off the share other processes had), so a shared machine's load does not carry.
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

  /** A bound attack's time depends on the run's method (see BudgetShares); other steps' times do not. */
  private key(step: Step): string {
    // Training is predicted from the parallel workers' speed since 2026-12-07; ratios learned against the process's ('…:train:') do not apply.
    const base = `${datasetOf(step)}:${step.kind}:${step.kind === 'train' ? 'workers' : step.job.attack?.definition.id ?? 'none'}`;
    return costIsBound(step) ? `${base}@${(step as AttackStep).method}` : base;
  }

  private predicted(step: Step): number {
    const speed = this.speeds[datasetOf(step)];
    if (step.kind !== 'train') return step.cost / speed.gradientsPerSecond;
    // A run with fewer separate members than workers trains on fewer of them (and on one: in this process).
    const parallel = speed.parallelTraining;
    const processes = parallel ? memberProcesses(step.separateMembers, parallel.workers) : 1;
    if (!parallel || processes < 2) return step.cost / speed.trainSamplesPerSecond;
    // Each member is a worker process of its own, so members train in rounds, each a start and one member at
    // one worker's speed; more processes than workers share the cores (as fast in all: training/worker-pool.ts).
    const rounds = Math.ceil(step.separateMembers / processes);
    const sharing = Math.max(1, processes / parallel.workers);
    const memberSeconds = step.cost / step.separateMembers / (parallel.samplesPerSecond / parallel.workers);
    return rounds * sharing * ((parallel.startupSeconds ?? 0) + memberSeconds);
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
    const { method, job } = step as AttackStep;
    const key = shareKeys(datasetOf(step), job.attack!.definition.id, method).find((k) => k in this.shares);
    return key === undefined ? undefined : this.shares[key];
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
function costIsBound(step: Step): step is AttackStep {
  return step.kind === 'attack' && step.job.attack?.definition.costIsBound === true;
}

/**
 * "estimated 1h40m (…)": the plan's time on this machine, from its measured speed. Attacks that stop at
 * each image's first success are predicted at the share of their budget saved reproductions used, with
 * their whole budget as the bound; without such a share, their whole budget is counted and said to be a bound.
 */
export function describeEstimate(steps: Step[], eta: Eta): string {
  const bounded = steps.filter((s): s is AttackStep => costIsBound(s) && !eta.learnedFor(s));
  const total = eta.remaining(steps);
  if (bounded.length === 0) return `estimated ${formatDuration(total)}`;
  const predicted = bounded.filter((s) => eta.budgetShare(s) !== undefined);
  const notes: string[] = [];
  if (predicted.length > 0) {
    const percents = new Map<string, number[]>();
    for (const step of predicted) {
      const id = step.job.attack!.definition.id;
      percents.set(id, [...(percents.get(id) ?? []), Math.round(100 * eta.budgetShare(step)!)]);
    }
    const range = (p: number[]) => (Math.min(...p) === Math.max(...p) ? `${p[0]}` : `${Math.min(...p)}–${Math.max(...p)}`);
    const shares = [...percents].map(([id, p]) => `${id} at ${range(p)}%`);
    const ceiling = total - eta.remaining(predicted) + predicted.reduce((sum, s) => sum + eta.bound(s), 0);
    notes.push(`attacks that stop at each image's first success predicted at the share of their budget saved runs of the same method used (${shares.join(', ')}); at most ${formatDuration(ceiling)} if they used all of it`);
  }
  const unknown = bounded.filter((s) => eta.budgetShare(s) === undefined);
  if (unknown.length > 0) notes.push(`of which up to ${formatDuration(eta.remaining(unknown))} for attacks that stop at each image's first success (counted at their full budget until one has run)`);
  return `estimated ${formatDuration(total)} (${notes.join('; ')})`;
}

export function describeSpeeds(speeds: Record<string, MachineSpeed>): string {
  return Object.entries(speeds)
    .map(([dataset, s]) => `${dataset} ${Math.round(s.trainSamplesPerSecond)} training samples/s${s.parallelTraining ? ` (${Math.round(s.parallelTraining.samplesPerSecond)} in ${s.parallelTraining.workers} workers${s.parallelTraining.startupSeconds === undefined ? '' : `, started in ${s.parallelTraining.startupSeconds.toFixed(1)} s`})` : ''}, ${Math.round(s.gradientsPerSecond)} input gradients/s`)
    .join('; ');
}
