/**
 * Attacks a saved run: loads its ensemble (and a surrogate's, for transfer), runs each job on the test
 * set and appends each job's rows to the run's results.csv as soon as the job finishes.
 */
import { loadRunDataset } from '../datasets/registry.ts';
import type { Dataset } from '../data/dataset.ts';
import { Ensemble } from '../ensembles/ensemble.ts';
import { specKey } from '../attacks/definition.ts';
import { usageError } from '../errors.ts';
import { appendResults, measurementKey, readResults, resultsPath, type ResultRow } from './results.ts';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { withLock } from '../run/lock.ts';
import { readManifest, type Manifest } from '../run/manifest.ts';
import { runDir, validateRunName } from '../run/run-dir.ts';
import { averageOverMembers, formatRow, jobLabel, plannedRows, runJob, usesMember, type AttackJob, type JobContext } from './jobs.ts';

export interface AttackRunOptions {
  runsRoot: string;
  runName: string;
  jobs: AttackJob[];
  /** Grad. 1's member, or 'all' to average over members. */
  member: number | 'all';
  /** Run whose ensemble supplies the gradients (transfer attack). */
  surrogate?: string;
  testLimit?: number;
  batchSize: number;
  log: (line: string) => void;
  /** Measure again a job whose rows results.csv already holds (by default it is skipped, its saved rows reported). */
  remeasure?: boolean;
  /** Called with each job's rows once they are saved (or found already saved). */
  onRows?: (rows: ResultRow[]) => void;
}

export interface AttackRunResult {
  /** Every job's rows, measured now or found already saved. */
  rows: ResultRow[];
  /** How many of them this call measured and appended to results.csv. */
  appended: number;
}

export interface LoadedRun {
  name: string;
  dir: string;
  manifest: Manifest;
}

export function openRun(runsRoot: string, name: string): LoadedRun {
  const dir = runDir(runsRoot, name);
  return { name, dir, manifest: readManifest(dir) };
}

/** Runs `use` on a run's ensemble and its data set (its test images: all, or the first testLimit); the ensemble is disposed after. */
export async function withRunEnsemble<T>(run: LoadedRun, testLimit: number | undefined, use: (ensemble: Ensemble, data: Dataset) => Promise<T> | T): Promise<T> {
  const data = loadRunDataset(run.manifest, testLimit ?? run.manifest.config.testLimit);
  const ensemble = await Ensemble.load(run.dir, run.manifest);
  try {
    return await use(ensemble, data);
  } finally {
    ensemble.dispose();
  }
}

export function openSurrogate(runsRoot: string, name: string, attacked: LoadedRun): LoadedRun {
  if (validateRunName(name) === attacked.name) {
    throw usageError(`--surrogate ${name}: name a different run than the attacked one (a transfer attack uses another ensemble's gradients)`);
  }
  const surrogate = openRun(runsRoot, name);
  if (surrogate.manifest.config.dataset !== attacked.manifest.config.dataset) {
    throw usageError(`--surrogate ${name}: it was trained on ${surrogate.manifest.config.dataset}, the attacked run on ${attacked.manifest.config.dataset}`);
  }
  return surrogate;
}

export function checkMember(member: number | 'all', run: LoadedRun): void {
  const size = run.manifest.config.members;
  if (member !== 'all' && member >= size) throw usageError(`--member ${member}: run ${run.name} has ${size} member${size === 1 ? '' : 's'} (0..${size - 1})`);
}

/** Images attacked together: large enough for fast kernels, small enough to keep BIM/PGD memory modest. */
export const ATTACK_BATCH_SIZE = 200;

/** Runs the jobs, appending each job's rows as soon as it finishes. */
export async function attackRun(options: AttackRunOptions): Promise<AttackRunResult> {
  const run = openRun(options.runsRoot, options.runName);
  const surrogate = options.surrogate ? openSurrogate(options.runsRoot, options.surrogate, run) : undefined;
  checkMember(options.member, surrogate ?? run);
  // A malformed results.csv fails now, naming the file, not after the first job's work.
  readResults(resultsPath(run.dir));
  return attackJobs(options, run, surrogate);
}

/** Where the lock of one attack job lives: RUN/.locks/attack-HASH.lock, HASH naming what the job measures. */
export function attackLockPath(runDirectory: string, job: AttackJob, members: number[], surrogate: string, testCount: number): string {
  const key = createHash('sha256').update(JSON.stringify({ job: { ...job, attack: job.attack && specKey(job.attack) }, members, surrogate, testCount })).digest('hex').slice(0, 20);
  return join(runDirectory, '.locks', `attack-${key}.lock`);
}

/**
 * Each job runs under its own lock, not the run's: attack jobs of one run (Slurm jobs on several nodes)
 * run at the same time, each appending its rows under results.csv's file lock; the same job twice is
 * refused. Whether a job is already measured is read under its lock, after any earlier holder finished.
 */
async function attackJobs(options: AttackRunOptions, run: LoadedRun, surrogate: LoadedRun | undefined): Promise<AttackRunResult> {
  return withRunEnsemble(run, options.testLimit, async (ensemble, data) => {
    const gradientEnsemble = surrogate ? await Ensemble.load(surrogate.dir, surrogate.manifest) : ensemble;
    try {
      return await attackWith(options, run, ensemble, gradientEnsemble, data, surrogate);
    } finally {
      if (gradientEnsemble !== ensemble) gradientEnsemble.dispose();
    }
  });
}

async function attackWith(options: AttackRunOptions, run: LoadedRun, ensemble: Ensemble, gradientEnsemble: Ensemble, data: Dataset, surrogate: LoadedRun | undefined): Promise<AttackRunResult> {
  const { manifest } = run;
  const all: ResultRow[] = [];
  let appended = 0;
  const context: JobContext = { ensemble, gradientEnsemble, dataset: data, method: manifest.config.method, surrogate: options.surrogate ?? '', batchSize: options.batchSize };
  options.log(
    `attacking run ${run.name}: ${data.name} ${manifest.config.method}, ${ensemble.size} members, ${data.test.count} test images${surrogate ? `, gradients from run ${surrogate.name}` : ''}`,
  );
  for (const job of options.jobs) {
    const size = job.attack ? gradientEnsemble.size : ensemble.size;
    const members = options.member === 'all' && usesMember(job) ? Array.from({ length: size }, (_, i) => i) : [options.member === 'all' ? 0 : options.member];
    const lock = attackLockPath(run.dir, job, members, context.surrogate, data.test.count);
    await withLock(lock, `attack job '${jobLabel(job, options.member)}' on run ${run.name}`, async () => {
      const measured = new Map(readResults(resultsPath(run.dir)).map((row) => [measurementKey(row), row]));
      const previous = plannedRows(job, members, context).map((row) => measured.get(measurementKey(row)));
      if (!options.remeasure && previous.every((row) => row !== undefined)) {
        options.log(`${jobLabel(job, options.member)}: already in results.csv, not measured again (--force to measure again)`);
        options.onRows?.(previous);
        all.push(...previous);
        return;
      }
      const perMember = members.map((m) => runJob(job, m, context));
      if (members.length > 1) perMember.flat().forEach((row) => options.log(formatRow(row)));
      const rows = members.length > 1 ? averageOverMembers(perMember) : perMember[0];
      appendResults(resultsPath(run.dir), rows);
      options.onRows?.(rows);
      all.push(...rows);
      appended += rows.length;
    });
  }
  return { rows: all, appended };
}
