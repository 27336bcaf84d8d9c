/**
 * Measurements as data: which attack, which gradient, scored on which models, and the result rows they
 * produce. Table 2 is a list of such jobs.
 */
import { activeBackend } from '../backend/select.ts';
import type { Dataset } from '../data/dataset.ts';
import { datasetDescriptor } from '../datasets/registry.ts';
import type { Ensemble } from '../ensembles/ensemble.ts';
import { specOf, tableOf, type ResultRow } from './results.ts';
import { Progress } from '../run/progress.ts';
import { describeSpec, type AttackSpec } from '../attacks/definition.ts';
import { measure, measurementsPerTarget, type Measurement, type ScoreTarget } from './measure.ts';
import { describeGradient, gradientHooks, GRAD_NAMES, NO_GRADIENT, type GradName, type LossForm } from '../attacks/gradients.ts';

export interface AttackJob {
  /** null: clean accuracy. */
  attack: AttackSpec | null;
  grad: GradName | null;
  loss: LossForm;
  /** Gradients come from another run's ensemble (transfer); then only the attacked ensemble is scored. */
  transfer: boolean;
}

/** Whether the job is about one member: the clean single-model score, and Grad. 1. */
export function usesMember(job: AttackJob): boolean {
  return job.attack === null || job.grad === '1';
}

/** Table 2's columns: no attack (single, ensemble); Grad. 1 (single, ensemble); Grad. 2 (ensemble); Grad. 3 (ensemble, ours). */
export function jobTargets(job: AttackJob, member: number): ScoreTarget[] {
  const ensemble: ScoreTarget = { scoredOn: 'ensemble' };
  return usesMember(job) && !job.transfer ? [{ scoredOn: 'single', member }, ensemble] : [ensemble];
}

export function table2Jobs(attacks: AttackSpec[], loss: LossForm): AttackJob[] {
  return [
    { attack: null, grad: null, loss, transfer: false },
    ...attacks.flatMap((attack) => GRAD_NAMES.map((grad): AttackJob => ({ attack, grad, loss, transfer: false }))),
  ];
}

/**
 * Table 4's row: no attack, then each attack with the paper's gradient — Grad. 2 for an ensemble (plus our
 * Grad. 3), the model's own gradient (Grad. 1 of member 0) for a single model.
 */
export function table4Jobs(attacks: AttackSpec[], loss: LossForm, ensemble: boolean): AttackJob[] {
  const grads: GradName[] = ensemble ? ['2', '3'] : ['1'];
  return [
    { attack: null, grad: null, loss, transfer: false },
    ...attacks.flatMap((attack) => grads.map((grad): AttackJob => ({ attack, grad, loss, transfer: false }))),
  ];
}

export interface JobContext {
  /** The attacked run. */
  ensemble: Ensemble;
  /** Where gradients come from: the attacked run itself, or a surrogate. */
  gradientEnsemble: Ensemble;
  dataset: Dataset;
  method: string;
  /** Name of the surrogate run; '' for white-box. */
  surrogate: string;
  batchSize: number;
}

export function jobLabel(job: AttackJob, member: number | string): string {
  if (!job.attack) return 'no attack';
  return job.grad ? `${describeSpec(job.attack)} ${describeGradient(job.grad, member, job.loss)}` : `${describeSpec(job.attack)} [gradient-free]`;
}

/** Runs one job with a progress bar; one row per scored model. */
export function runJob(job: AttackJob, member: number, context: JobContext): ResultRow[] {
  const { dataset } = context;
  const bar = new Progress(jobLabel(job, member), 'images');
  const measurements = measure({
    ensemble: context.ensemble,
    split: dataset.test,
    imageShape: dataset.imageShape,
    numClasses: dataset.numClasses,
    attack: job.attack ? { spec: job.attack, hooks: job.grad ? gradientHooks(context.gradientEnsemble, { grad: job.grad, member, loss: job.loss }) : NO_GRADIENT } : undefined,
    targets: jobTargets(job, member),
    batchSize: context.batchSize,
    onProgress: (done, total) => bar.update({ done, total }, done === total),
  });
  bar.finish();
  return jobRows(job, member, context, measurements);
}

/** What a measurement measured: the job's attack, or one of its earlier stages. */
function measuredSpec(attack: AttackSpec | null, stage: number | undefined): AttackSpec | null {
  if (!attack || stage === undefined) return attack;
  return { definition: attack.definition, params: attack.definition.stages!(attack.params)[stage] };
}

function jobRows(job: AttackJob, member: number, context: JobContext, measurements: Measurement[]): ResultRow[] {
  const dataset = datasetDescriptor(context.dataset.name);
  return measurements.map((m): ResultRow => {
    const attack = measuredSpec(job.attack, m.stage);
    // Parameters in the order the attack declares them, so that equal measurements print equal rows.
    const params = attack ? Object.fromEntries(attack.definition.params.map((p) => [p.key, attack.params[p.key]])) : {};
    return {
    dataset: context.dataset.name,
    method: context.method,
    table: tableOf(dataset, attack, context.surrogate),
    attack: attack?.definition.id ?? 'none',
    params,
    grad: job.grad ?? '',
    loss: attack && job.grad ? job.loss : '',
    scored_on: m.target.scoredOn,
    member: usesMember(job) && (job.attack !== null || m.target.scoredOn === 'single') ? String(member) : '',
    surrogate: context.surrogate,
    n: m.n,
    accuracy: m.accuracy,
    zero_grad_fraction: m.zeroGradFraction,
    queries: m.queries,
    seconds: roundSeconds(m.seconds),
    backend: activeBackend()?.name ?? '',
    };
  });
}

/**
 * The rows a job over `members` will write, before it runs, with empty outcomes: what a rerun looks for
 * in results.csv (`measurementKey`) to skip a measurement already made.
 */
export function plannedRows(job: AttackJob, members: number[], context: JobContext): ResultRow[] {
  const perTarget = measurementsPerTarget(job.attack ?? undefined);
  const perMember = members.map((member) =>
    jobRows(
      job,
      member,
      context,
      jobTargets(job, member).flatMap((target) =>
        Array.from({ length: perTarget }, (_, k): Measurement => ({
          target,
          ...(k < perTarget - 1 ? { stage: k } : {}),
          accuracy: NaN,
          zeroGradFraction: null,
          queries: null,
          n: context.dataset.test.count,
          seconds: 0,
        })),
      ),
    ),
  );
  return perMember.length > 1 ? averageOverMembers(perMember) : perMember[0];
}

/** Wall-clock seconds to the millisecond: more digits are noise. */
function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** `--member all`: the same job for every member, accuracies and zero-gradient fractions averaged, seconds summed. */
export function averageOverMembers(rowsPerMember: ResultRow[][]): ResultRow[] {
  return rowsPerMember[0].map((first, r) => {
    const rows = rowsPerMember.map((perMember) => perMember[r]);
    const zero = rows.map((row) => row.zero_grad_fraction);
    return {
      ...first,
      member: first.member === '' ? '' : 'all',
      accuracy: mean(rows.map((row) => row.accuracy)),
      zero_grad_fraction: zero.every((z) => z !== null) ? mean(zero as number[]) : null,
      seconds: roundSeconds(rows.reduce((sum, row) => sum + row.seconds, 0)),
    };
  });
}

/** One readable stdout line per result row. */
export function formatRow(row: ResultRow): string {
  const job: AttackJob = { attack: specOf(row), grad: row.grad || null, loss: row.loss || 'logits', transfer: row.surrogate !== '' };
  const source = row.surrogate ? ` from run ${row.surrogate}` : '';
  const scored = row.scored_on === 'single' ? `member ${row.member}` : 'ensemble';
  const zero = row.zero_grad_fraction === null || !job.grad ? '' : `, zero gradients ${(100 * row.zero_grad_fraction).toFixed(1)}%`;
  const queries = row.queries === null ? '' : `, ${row.queries.toFixed(1)} queries per image`;
  return `${jobLabel(job, row.member)}${source} → ${scored}: accuracy ${row.accuracy.toFixed(4)}${zero}${queries} (${row.n} images, ${row.seconds.toFixed(1)} s)`;
}
