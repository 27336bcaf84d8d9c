/**
 * Executes a reproduction plan step by step. Finished step ids are saved atomically in the output
 * directory, so a rerun continues where it stopped; the report is rebuilt at the end.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { ATTACK_BATCH_SIZE, attackRun } from '../eval/attack-run.ts';
import { drawFigure1 } from '../eval/figure1.ts';
import { formatRow } from '../eval/jobs.ts';
import type { BackendInfo } from '../backend/select.ts';
import { trainRun } from '../training/train-run.ts';
import { UserError } from '../errors.ts';
import { buildReport, type ReportFiles } from '../eval/report.ts';
import { writeJsonAtomic } from '../run/atomic.ts';
import { withDirLock, withFileLock } from '../run/lock.ts';
import { readMemberRecord } from '../run/manifest.ts';
import { memberDir, runDir } from '../run/run-dir.ts';
import { formatDuration } from '../run/progress.ts';
import { datasetDescriptor } from '../datasets/registry.ts';
import { budgetShares, describeEstimate, describeSpeeds, Eta, savedTimedRuns, type LearnedTimes } from './estimate.ts';
import { buildPlan, datasetOf, selectRuns, type Step, type TrainStep } from './plan.ts';
import { describeScale, type Preset } from './presets.ts';
import { cpuTicks, measureParallelTraining, measureSpeed, othersShare, PARALLEL_PROBE_SECONDS, type MachineSpeed } from './speed.ts';

export interface ReproduceOptions {
  preset: Preset;
  datasets: string[];
  /** Where a data set's files are, by name (`--data-dir`). */
  dataDirs?: Record<string, string>;
  outDir: string;
  workers: number;
  backend: BackendInfo;
  command: string;
  log: (line: string) => void;
  /** This machine's speed on a data set (default: measured, a few seconds each); tests pass a fixed one. */
  measureSpeed?: (dataset: string) => MachineSpeed;
  /** Only these runs' steps (`--runs`): one part of a reproduction too long for one sitting. */
  runs?: string[];
}

export interface ReproduceState {
  preset: string;
  datasets: string[];
  done: string[];
  /** How long finished steps took against their prediction, for the next sitting's estimate. */
  learned?: LearnedTimes;
  /** Each local sitting: when, on what, and how far it got. */
  sittings?: Sitting[];
}

export interface Sitting {
  started: string;
  /** When its last step finished. */
  lastStep?: string;
  /** Seconds from its start to its last finished step. */
  seconds: number;
  machine: string;
  backend: string;
  /** Steps this sitting finished. */
  steps: number;
  /** What the estimate printed at its start predicted for the steps it finished (absent before 2026-12-07). */
  estimated?: number;
  /** The speed measured at its start, per data set, which that estimate was made from (absent before 2026-12-07). */
  speeds?: Record<string, MachineSpeed>;
  /** The share of the machine's CPU time other processes took while its steps ran (absent in sittings before 2026-12-07). */
  othersShare?: number;
}

/** e.g. "sitting 2: 2026-12-01T09:51:02Z, 3h05m, 41 steps, AMD EPYC ×2, 24 GiB, native". */
export function describeSitting(sitting: Sitting, index: number): string {
  const shared = sitting.othersShare === undefined ? '' : `, other processes took ${Math.round(100 * sitting.othersShare)} % of the machine`;
  return `sitting ${index + 1}: ${sitting.started}, ${formatDuration(sitting.seconds)} to its last step${sitting.estimated === undefined ? '' : ` (${describeAgainstEstimate(sitting)})`}, ${sitting.steps} steps, ${sitting.machine}, ${sitting.backend}${shared}`;
}

/** e.g. "estimated 1h10m at its start: +12 %". */
function describeAgainstEstimate(sitting: Sitting): string {
  const error = Math.round((100 * (sitting.seconds - sitting.estimated!)) / sitting.estimated!);
  return `estimated ${formatDuration(sitting.estimated!)} at its start: ${error >= 0 ? '+' : '−'}${Math.abs(error)} %`;
}

/** e.g. "AMD EPYC ×2, 24 GiB": what a sitting ran on. */
function machineName(): string {
  return `${cpus()[0]?.model.trim() ?? 'unknown CPU'} ×${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
}

export const STATE_FILE = 'reproduce-state.json';
/** The step id of the report, built after every other step (it is not a step of the plan). */
export const REPORT_STEP = 'report';

export function reproduceDirs(outDir: string): { runs: string; report: string } {
  return { runs: join(outDir, 'runs'), report: join(outDir, 'report') };
}

export function loadState(outDir: string, preset: string, datasets: string[]): ReproduceState {
  const path = join(outDir, STATE_FILE);
  if (!existsSync(path)) return { preset, datasets, done: [] };
  let state: ReproduceState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as ReproduceState;
  } catch {
    throw new UserError(`${path}: corrupt reproduce state (not JSON); delete it to start over, or choose another --out`);
  }
  if (state.preset !== preset || JSON.stringify(state.datasets) !== JSON.stringify(datasets)) {
    throw new UserError(`${outDir} holds a reproduction with --preset ${state.preset} --dataset ${state.datasets.join(',')}; use another --out or the same options`);
  }
  return state;
}

async function runStep(step: Step, options: ReproduceOptions, dirs: { runs: string; report: string }): Promise<void> {
  const runsRoot = dirs.runs;
  if (step.kind === 'train') {
    await trainRun({ config: step.config, runsRoot, runName: step.runName, workers: options.workers, backend: options.backend, command: options.command, log: options.log });
    return;
  }
  if (step.kind === 'figure') {
    await drawFigure1(runsRoot, step.runName, step.job, 0, join(dirs.report, step.path));
    return;
  }
  await attackRun({
    runsRoot,
    runName: step.runName,
    jobs: [step.job],
    member: 0,
    surrogate: step.surrogate,
    testLimit: step.testLimit,
    batchSize: ATTACK_BATCH_SIZE,
    log: () => {},
    onRows: (rows) => rows.forEach((row) => options.log(`  ${formatRow(row)}`)),
  });
}

/** The preset and data sets the reproduction in `outDir` was started with; undefined when there is none. */
export function recordedReproduction(outDir: string): { preset: string; datasets: string[]; sittings: Sitting[] } | undefined {
  const path = join(outDir, STATE_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const { preset, datasets, sittings } = JSON.parse(readFileSync(path, 'utf8')) as ReproduceState;
    return typeof preset === 'string' && Array.isArray(datasets) ? { preset, datasets, sittings: Array.isArray(sittings) ? sittings : [] } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One reproduction's state from two records of it: `saved`, what an earlier save kept (parts run before,
 * perhaps on another machine), and `current`, the OUT being saved. Finished steps and sittings are the
 * union of both (a sitting is known by its start; sittings in time order); what was learned of the
 * machine is the current one's. Two different reproductions (preset or data sets) are refused.
 */
export function mergeStates(saved: ReproduceState, current: ReproduceState): ReproduceState {
  if (saved.preset !== current.preset || JSON.stringify(saved.datasets) !== JSON.stringify(current.datasets)) {
    throw new UserError(`the saved reproduction is --preset ${saved.preset} --dataset ${saved.datasets.join(',')}, this one --preset ${current.preset} --dataset ${current.datasets.join(',')}; save it under another name`);
  }
  const sittings = [...(current.sittings ?? [])];
  for (const sitting of saved.sittings ?? []) if (!sittings.some((s) => s.started === sitting.started)) sittings.push(sitting);
  sittings.sort((a, b) => a.started.localeCompare(b.started));
  return { ...current, done: [...new Set([...saved.done, ...current.done])], sittings };
}

/**
 * Marks steps done in OUT/reproduce-state.json, under its file lock: Slurm jobs of one reproduction finish
 * on several nodes at once, and each must keep the others' marks.
 */
export function markStepsDone(outDir: string, preset: string, datasets: string[], ids: string[]): void {
  const path = join(outDir, STATE_FILE);
  withFileLock(path, () => {
    const state = loadState(outDir, preset, datasets);
    const done = new Set([...state.done, ...ids]);
    writeJsonAtomic(path, { ...state, done: [...done] });
  });
}

/** Members of a training step that have no record yet (not finished). */
export function unfinishedMembers(runsRoot: string, step: TrainStep): number[] {
  const dir = runDir(runsRoot, step.runName);
  return Array.from({ length: step.config.members }, (_, i) => i).filter((i) => !readMemberRecord(memberDir(dir, i)));
}

/**
 * Runs one step of the plan (a Slurm job's work: `ensdef reproduce --step ID`) and marks it done. An attack
 * or figure step first finishes its runs (evaluation, status) — their members were trained by array
 * tasks — and refuses to start while a member is missing. The report step builds the report.
 */
export async function reproduceStep(options: ReproduceOptions, stepId: string): Promise<ReportFiles | undefined> {
  const { outDir, preset, datasets } = options;
  const dirs = reproduceDirs(outDir);
  const plan = buildPlan(preset, datasets, options.dataDirs);
  loadState(outDir, preset.name, datasets);
  if (stepId === REPORT_STEP) return reportStep(outDir, preset.name, datasets);
  const step = plan.find((s) => s.id === stepId);
  if (!step) throw new UserError(`--step '${stepId}' is not a step of --preset ${preset.name} --dataset ${datasets.join(',')} (see 'ensdef reproduce --status')`);
  if (step.kind !== 'train') {
    const runs = [step.runName, ...(step.kind === 'attack' && step.surrogate ? [step.surrogate] : [])];
    for (const name of runs) {
      const train = plan.find((s): s is TrainStep => s.kind === 'train' && s.runName === name)!;
      const missing = unfinishedMembers(dirs.runs, train);
      if (missing.length > 0) throw new UserError(`run ${name} is not trained yet (members ${missing.join(', ')} missing); its training job must finish first`);
      await trainRun({ config: train.config, runsRoot: dirs.runs, runName: name, workers: 1, backend: options.backend, command: options.command, log: options.log });
    }
  }
  await runStep(step, options, dirs);
  markStepsDone(outDir, preset.name, datasets, [step.id]);
  return undefined;
}

export async function reproduce(options: ReproduceOptions): Promise<ReportFiles> {
  return withDirLock(options.outDir, () => reproduceLocked(options));
}

async function reproduceLocked(options: ReproduceOptions): Promise<ReportFiles> {
  const { outDir, preset, datasets, log } = options;
  const dirs = reproduceDirs(outDir);
  const whole = buildPlan(preset, datasets, options.dataDirs);
  const plan = options.runs ? selectRuns(whole, options.runs) : whole;
  const state = loadState(outDir, preset.name, datasets);
  const done = new Set(state.done);
  const pending = plan.filter((s) => !done.has(s.id));
  log(`reproduce --preset ${preset.name} on ${datasets.join(', ')}: ${plan.length} steps${options.runs ? ` (runs ${options.runs.join(', ')}: ${plan.length} of the plan's ${whole.length})` : ''}, ${pending.length} to do`);
  for (const dataset of datasets) log(`  ${describeScale(preset, datasetDescriptor(dataset))}`);
  const speeds: Record<string, MachineSpeed> = {};
  for (const dataset of new Set(pending.map(datasetOf))) speeds[dataset] = await machineSpeed(dataset, pending, options);
  const eta = new Eta(speeds, state.learned, budgetShares(savedTimedRuns()));
  if (pending.length > 0) log(`  ${describeEstimate(pending, eta)}; measured here: ${describeSpeeds(speeds)}`);
  const estimatedAtStart = new Map(pending.map((s) => [s.id, eta.seconds(s)]));
  const started = performance.now();
  const sitting: Sitting = { started: new Date().toISOString(), seconds: 0, machine: machineName(), backend: options.backend.name, steps: 0, estimated: 0, speeds };
  const sittings = [...(state.sittings ?? []), sitting];
  let estimated = 0;
  let sharedSeconds = 0;
  for (const [k, step] of pending.entries()) {
    log(`[${plan.length - pending.length + k + 1}/${plan.length}] ${step.id}`);
    const stepStarted = performance.now();
    const ticks = cpuTicks();
    await runStep(step, options, dirs);
    const seconds = (performance.now() - stepStarted) / 1000;
    const shared = othersShare(ticks, cpuTicks());
    sharedSeconds += shared * seconds;
    // What the step would have taken on the machine alone: the time others took is not this machine's speed.
    eta.record(step, seconds * (1 - shared));
    done.add(step.id);
    estimated += estimatedAtStart.get(step.id)!;
    Object.assign(sitting, {
      lastStep: new Date().toISOString(),
      seconds: Math.round((performance.now() - started) / 1000),
      steps: k + 1,
      estimated: Math.round(estimated),
      othersShare: Math.round((1000 * sharedSeconds) / ((performance.now() - started) / 1000)) / 1000,
    });
    writeJsonAtomic(join(outDir, STATE_FILE), { ...state, done: whole.filter((s) => done.has(s.id)).map((s) => s.id), learned: eta.learned(), sittings });
    log(`    elapsed ${formatDuration((performance.now() - started) / 1000)}, ETA ${formatDuration(eta.remaining(pending.slice(k + 1)))}`);
  }
  if (pending.length > 0) log(describeSitting(sitting, sittings.length - 1));
  return reportStep(outDir, preset.name, datasets);
}

/**
 * The data set's speed here; with the members of pending runs spread over parallel workers, also those
 * workers' speed together, measured as they run (an injected measureSpeed, in tests, is taken as it is).
 */
async function machineSpeed(dataset: string, pending: Step[], options: ReproduceOptions): Promise<MachineSpeed> {
  if (options.measureSpeed) return options.measureSpeed(dataset);
  const speed = measureSpeed(datasetDescriptor(dataset));
  const separateMembers = pending.filter((s): s is TrainStep => s.kind === 'train' && datasetOf(s) === dataset).map((s) => s.separateMembers);
  const workers = Math.min(options.workers, Math.max(0, ...separateMembers));
  if (workers < 2) return speed;
  options.log(`  measuring ${dataset} training in ${workers} workers at once (${PARALLEL_PROBE_SECONDS} s once they have started)`);
  const parallelTraining = await measureParallelTraining(dataset, workers, options.backend.name);
  return parallelTraining === undefined ? speed : { ...speed, parallelTraining };
}

/** Builds OUT/report from every run's results and marks the report step done. */
function reportStep(outDir: string, preset: string, datasets: string[]): ReportFiles {
  const dirs = reproduceDirs(outDir);
  // OUT/report is reproduce's own directory: it already holds the Figure 1 it drew.
  const report = buildReport(dirs.runs, dirs.report, { force: true });
  markStepsDone(outDir, preset, datasets, [REPORT_STEP]);
  return report;
}
