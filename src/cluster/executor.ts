/**
 * `ensdef reproduce --executor slurm`: the reproduction plan as a Slurm job graph. Each training run is one
 * job array (task i trains member i with `ensdef train --member i`), each attack or figure step one job
 * that waits for its run's array (`--dependency=afterok`), and the report one job after all of them.
 * Submission returns at once. Jobs are named `ensdef-OUTHASH-STEPHASH`, so a rerun finds, with squeue, what
 * is still queued or running, reads from disk what is finished, and submits only the rest.
 * Every job is requeueable: a requeued or resubmitted training task resumes from its member's last epoch.
 * A jointly trained run (MethodDefinition.joint) is one job, not an array: its members are one training.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrainConfig } from '../config/train-config.ts';
import { UserError } from '../errors.ts';
import { buildPlan, type Step, type TrainStep } from '../reproduce/plan.ts';
import type { Preset } from '../reproduce/presets.ts';
import { loadState, REPORT_STEP, reproduceDirs, unfinishedMembers } from '../reproduce/run.ts';
import { writeFileAtomic, writeJsonAtomic } from '../run/atomic.ts';
import { withDirLock, withFileLock } from '../run/lock.ts';
import { methodDefinition, methodFlags } from '../training/methods.ts';
import { activeJobs, onPath, sbatch, scancel, type QueuedJob } from './slurm.ts';

const ENSDEF_BIN = fileURLToPath(new URL('../../bin/ensdef.js', import.meta.url));

export interface SlurmOptions {
  preset: Preset;
  datasets: string[];
  /** Where a data set's files are, by name (`--data-dir`), passed on to every job. */
  dataDirs?: Record<string, string>;
  outDir: string;
  /** Extra sbatch arguments, e.g. "--partition gpu --gres=gpu:1 --time 4:00:00". */
  sbatchArgs: string[];
  /** `--backend` given on the command line, passed on to every job. */
  backend?: string;
  dryRun: boolean;
  log: (line: string) => void;
  print: (line: string) => void;
}

/** One job of the graph. */
export interface ClusterJob {
  stepId: string;
  name: string;
  /** Members to train (an array job), or undefined for a single job. */
  array?: number[];
  /** Steps whose jobs must succeed first. */
  after: string[];
  script: string;
  log: string;
}

interface SubmittedJob {
  jobId: string;
  name: string;
  log: string;
  array?: number[];
  submittedAt: string;
}

type JobsFile = Record<string, SubmittedJob>;

const SLURM_DIR = 'slurm';
const JOBS_FILE = 'jobs.json';

function shortHash(text: string, length = 10): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** The prefix of every job name of the reproduction in `outDir`: reproductions in other directories are other jobs. */
export function jobPrefix(outDir: string): string {
  return `ensdef-${shortHash(resolve(outDir), 8)}-`;
}

export function jobName(outDir: string, stepId: string): string {
  return `${jobPrefix(outDir)}${stepId === REPORT_STEP ? 'report' : shortHash(stepId)}`;
}

/** `ensdef train` flags that rebuild exactly this config (the run directory refuses any other). */
export function trainFlags(config: TrainConfig): string[] {
  const flags = [
    '--dataset', config.dataset, '--method', config.method, '--members', String(config.members), '--epochs', String(config.epochs),
    '--batch-size', String(config.batchSize), '--lr', String(config.learningRate), '--seed', String(config.seed),
    ...methodFlags(config),
  ];
  if (config.trainLimit !== undefined) flags.push('--train-limit', String(config.trainLimit));
  if (config.testLimit !== undefined) flags.push('--test-limit', String(config.testLimit));
  if (config.dataDir !== undefined) flags.push('--data-dir', resolve(config.dataDir));
  return flags;
}

/** Quotes a word for bash (single quotes; a single quote inside is closed, escaped and reopened). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=,+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Splits --sbatch "EXTRA ARGS" into words as a shell would (quotes group, no expansion). */
export function splitArgs(text: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s"']+)/g;
  let last = -1;
  for (const match of text.matchAll(pattern)) {
    const part = match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] ?? match[3]);
    // Adjacent pieces without a space between them are one word (--time="1:00:00").
    if (last === match.index && words.length > 0) words[words.length - 1] += part;
    else words.push(part);
    last = match.index + match[0].length;
  }
  return words;
}

function script(name: string, stepId: string, log: string, array: number[] | undefined, command: string[]): string {
  return [
    '#!/bin/bash',
    `#SBATCH --job-name=${name}`,
    `#SBATCH --output=${log}`,
    ...(array ? [`#SBATCH --array=${array.join(',')}`] : []),
    '#SBATCH --ntasks=1',
    // A preempted or failed node's job goes back to the queue; training resumes from the last epoch.
    '#SBATCH --requeue',
    // A job whose dependency failed is cancelled, not left pending forever; a rerun resubmits it.
    '#SBATCH --kill-on-invalid-dep=yes',
    `# ensdef step: ${stepId}`,
    'set -euo pipefail',
    `cd ${shellQuote(process.cwd())}`,
    `exec ${command.map(shellQuote).join(' ').replace("'$SLURM_ARRAY_TASK_ID'", '"$SLURM_ARRAY_TASK_ID"')}`,
    '',
  ].join('\n');
}

/** A training run's job: an array (task i trains member i, for the members still missing), or one job for a joint method. */
export function trainJob(step: TrainStep, name: string, runs: string, logs: string, node: string[]): ClusterJob {
  const command = [...node, 'train', ...trainFlags(step.config), '--run', step.runName, '--runs-dir', runs, '--workers', '1'];
  if (methodDefinition(step.config.method).joint) {
    const log = join(logs, `${name}-%j.log`);
    return { stepId: step.id, name, after: [], script: script(name, step.id, log, undefined, command), log };
  }
  const array = unfinishedMembers(runs, step);
  const log = join(logs, `${name}-%A_%a.log`);
  command.push('--member', '$SLURM_ARRAY_TASK_ID');
  return { stepId: step.id, name, array, after: [], script: script(name, step.id, log, array, command), log };
}

/** The job graph of every step not finished yet (array jobs train only the members still missing). */
export function clusterJobs(options: Pick<SlurmOptions, 'preset' | 'datasets' | 'dataDirs' | 'outDir' | 'backend'>, isDone: (step: Step) => boolean): ClusterJob[] {
  const out = resolve(options.outDir);
  const { runs } = reproduceDirs(out);
  const logs = join(out, SLURM_DIR, 'logs');
  const plan = buildPlan(options.preset, options.datasets, options.dataDirs);
  const node = [process.execPath, ENSDEF_BIN, ...(options.backend ? ['--backend', options.backend] : [])];
  const dataDir = Object.values(options.dataDirs ?? {})[0];
  const reproduceArgs = ['--preset', options.preset.name, '--dataset', options.datasets.length > 1 ? 'all' : options.datasets[0], ...(dataDir ? ['--data-dir', resolve(dataDir)] : []), '--out', out];
  const trainOf = (runName: string) => plan.find((s): s is TrainStep => s.kind === 'train' && s.runName === runName)!.id;
  const jobs: ClusterJob[] = [];
  for (const step of plan) {
    if (isDone(step)) continue;
    const name = jobName(out, step.id);
    if (step.kind === 'train') {
      jobs.push(trainJob(step, name, runs, logs, node));
    } else {
      const after = [trainOf(step.runName), ...(step.kind === 'attack' && step.surrogate ? [trainOf(step.surrogate)] : [])];
      const log = join(logs, `${name}-%j.log`);
      const command = [...node, 'reproduce', ...reproduceArgs, '--step', step.id];
      jobs.push({ stepId: step.id, name, after, script: script(name, step.id, log, undefined, command), log });
    }
  }
  if (jobs.length === 0 && isDone({ id: REPORT_STEP } as Step)) return jobs;
  const reportName = jobName(out, REPORT_STEP);
  const reportLog = join(logs, `${reportName}-%j.log`);
  const reportCommand = [...node, 'reproduce', ...reproduceArgs, '--step', REPORT_STEP];
  jobs.push({ stepId: REPORT_STEP, name: reportName, after: jobs.map((j) => j.stepId), script: script(reportName, REPORT_STEP, reportLog, undefined, reportCommand), log: reportLog });
  return jobs;
}

/** Whether a step's work is on disk: a training run with every member recorded, another step marked done. */
function doneTest(out: string, preset: Preset, datasets: string[]): (step: Step | { id: string }) => boolean {
  const state = existsSync(join(out, 'reproduce-state.json')) ? loadState(out, preset.name, datasets) : { done: [] as string[] };
  const done = new Set(state.done);
  const { runs } = reproduceDirs(out);
  return (step) => ('kind' in step && step.kind === 'train' ? unfinishedMembers(runs, step).length === 0 : done.has(step.id));
}

function warnIfLocal(out: string, log: (line: string) => void): void {
  if (/^\/(tmp|var\/tmp|dev\/shm)(\/|$)/.test(out)) {
    log(`warning: --out ${out} is under a node-local temporary directory; compute nodes will not see it unless it is on a file system they share`);
  }
}

function readJobs(out: string): JobsFile {
  const path = join(out, SLURM_DIR, JOBS_FILE);
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as JobsFile;
  } catch {
    throw new UserError(`${path}: not valid JSON; delete it (jobs still queued are found again by name)`);
  }
}

function recordJobs(out: string, jobs: JobsFile): void {
  const path = join(out, SLURM_DIR, JOBS_FILE);
  withFileLock(path, () => writeJsonAtomic(path, { ...readJobs(out), ...jobs }));
}

/** Submits what is neither finished nor queued or running; prints the job ids. */
export async function submitToSlurm(options: SlurmOptions): Promise<void> {
  const out = resolve(options.outDir);
  warnIfLocal(out, options.log);
  // Refuse a mismatched reproduction before anything is submitted or written.
  if (existsSync(join(out, 'reproduce-state.json'))) loadState(out, options.preset.name, options.datasets);
  if (options.dryRun) return dryRun(options, out);
  if (!onPath('sbatch')) throw new UserError("--executor slurm: 'sbatch' not found on PATH; run this on a Slurm login node, or add --dry-run to print the job scripts");
  await withDirLock(out, async () => submitLocked(options, out));
}

function dryRun(options: SlurmOptions, out: string): void {
  const isDone = doneTest(out, options.preset, options.datasets);
  const jobs = clusterJobs(options, isDone);
  for (const job of jobs) {
    const dependency = job.after.length > 0 ? [`--dependency=afterok:${job.after.map((id) => `<job of ${id}>`).join(':')}`] : [];
    options.print(`### ${job.stepId}`);
    options.print(`# submit with: sbatch --parsable ${[...dependency, ...options.sbatchArgs].map(shellQuote).join(' ')} SCRIPT`);
    options.print(job.script);
  }
  options.log(`dry run: ${jobs.length} job scripts printed, nothing submitted`);
}

async function submitLocked(options: SlurmOptions, out: string): Promise<void> {
  const { preset, datasets } = options;
  const isDone = doneTest(out, preset, datasets);
  const jobs = clusterJobs(options, isDone);
  const active = new Map<string, QueuedJob>(activeJobs(jobPrefix(out)).map((j) => [j.name, j]));
  // The reproduction's state names its preset and data sets: the jobs' `--step` runs check them.
  if (!existsSync(join(out, 'reproduce-state.json'))) writeJsonAtomic(join(out, 'reproduce-state.json'), { preset: preset.name, datasets, done: [] });
  // Slurm opens each job's --output itself and fails the job if its directory is missing.
  mkdirSync(join(out, SLURM_DIR, 'logs'), { recursive: true });
  const ids = new Map<string, string>();
  const submitted: { stepId: string; jobId: string }[] = [];
  const records: JobsFile = {};
  const newWork = jobs.some((j) => j.stepId !== REPORT_STEP && !active.has(j.name));
  for (const job of jobs) {
    const queued = active.get(job.name);
    // The report is rebuilt whenever anything before it runs again.
    const reportAgain = job.stepId === REPORT_STEP && queued && newWork;
    if (queued && !reportAgain) {
      ids.set(job.stepId, queued.jobId);
      options.log(`${job.stepId}: already ${queued.state.toLowerCase()} (job ${queued.jobId})`);
      continue;
    }
    if (reportAgain) scancel([queued!.jobId]);
    const after = job.after.map((id) => ids.get(id)).filter((id): id is string => id !== undefined);
    const scriptPath = join(out, SLURM_DIR, 'scripts', `${job.name}.sh`);
    writeFileAtomic(scriptPath, job.script);
    let jobId: string;
    try {
      jobId = sbatch(scriptPath, [...(after.length > 0 ? [`--dependency=afterok:${[...new Set(after)].join(':')}`] : []), ...options.sbatchArgs]);
    } catch (error) {
      recordJobs(out, records);
      const undone = scancel(submitted.map((s) => s.jobId));
      const earlier = submitted.length === 0
        ? 'nothing was submitted'
        : undone.length === 0
          ? `cancelled the ${submitted.length} job(s) submitted before it (${submitted.map((s) => s.jobId).join(', ')})`
          : `could not cancel the job(s) submitted before it: ${undone.join(', ')} (scancel them)`;
      throw new UserError(`sbatch refused the job of step ${job.stepId}: ${(error as Error).message}; ${earlier}`);
    }
    ids.set(job.stepId, jobId);
    submitted.push({ stepId: job.stepId, jobId });
    records[job.stepId] = { jobId, name: job.name, log: job.log, array: job.array, submittedAt: new Date().toISOString() };
    options.print(`${jobId}\t${job.array ? `array ${job.array.join(',')}\t` : ''}${job.stepId}`);
  }
  recordJobs(out, records);
  const plan = buildPlan(preset, datasets);
  const finished = plan.filter((s) => isDone(s)).length;
  options.log(
    `submitted ${submitted.length} job(s); ${jobs.length - submitted.length} already queued or running; ${finished}/${plan.length} steps finished. Watch: ensdef reproduce --status --out ${out}`,
  );
}

export interface StepStatus {
  stepId: string;
  /** 'to do': a step of a reproduction run here (no Slurm job was ever submitted for it). */
  state: 'done' | 'queued' | 'running' | 'failed' | 'not submitted' | 'to do';
  jobId?: string;
  detail?: string;
}

/** The last lines of a job's log ('%A_%a' / '%j' filled in), or '' when there is none yet. */
function logTail(record: SubmittedJob, lines = 3): string {
  const candidates = record.array
    ? record.array.map((task) => record.log.replace('%A', record.jobId).replace('%a', String(task)))
    : [record.log.replace('%j', record.jobId)];
  const tails = candidates
    .filter((path) => existsSync(path))
    .map((path) => readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/.*\r/, '')).filter(Boolean).slice(-lines).join(' | '));
  return tails.filter(Boolean).join(' || ');
}

/** Each step's state: done (on disk), queued / running (squeue), failed (submitted, ended, not done), not submitted. */
export function slurmStatus(options: Pick<SlurmOptions, 'preset' | 'datasets' | 'outDir'>): StepStatus[] {
  const out = resolve(options.outDir);
  if (!existsSync(join(out, 'reproduce-state.json'))) throw new UserError(`no reproduction in ${out} (no reproduce-state.json); start one with 'ensdef reproduce --out ${options.outDir}'`);
  const isDone = doneTest(out, options.preset, options.datasets);
  const jobs = readJobs(out);
  // A reproduction run here never asks Slurm (which may be installed but not configured on this machine).
  const submitted = Object.keys(jobs).length > 0;
  const queue = submitted && onPath('squeue') ? activeJobs(jobPrefix(out)) : [];
  const steps: { id: string; kind?: string }[] = [...buildPlan(options.preset, options.datasets), { id: REPORT_STEP }];
  return steps.map((step) => {
    const name = jobName(out, step.id);
    if (isDone(step as Step)) return { stepId: step.id, state: 'done' };
    const queued = queue.filter((j) => j.name === name);
    if (queued.length > 0) {
      const running = queued.some((j) => j.state === 'RUNNING' || j.state === 'COMPLETING');
      return { stepId: step.id, state: running ? 'running' : 'queued', jobId: queued[0].jobId, detail: running ? undefined : queued[0].reason };
    }
    const record = jobs[step.id];
    if (!record) return { stepId: step.id, state: submitted ? 'not submitted' : 'to do' };
    return { stepId: step.id, state: 'failed', jobId: record.jobId, detail: logTail(record) || 'no log' };
  });
}
