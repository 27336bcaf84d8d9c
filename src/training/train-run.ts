/**
 * Trains a run member by member: each finished member is saved atomically with its record, so a rerun
 * trains only what is missing; a run directory is never continued with a different config.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendInfo } from '../backend/select.ts';
import { trainingIdentity, type TrainConfig } from '../config/train-config.ts';
import { loadDataset } from '../datasets/registry.ts';
import { UserError } from '../errors.ts';
import { evaluateAccuracy, argmaxRows, accuracyOf, scoreSplit, modelLogits } from '../models/predict.ts';
import { saveCheckpoint } from '../models/checkpoint.ts';
import { buildModel } from '../datasets/registry.ts';
import {
  manifestExists,
  packageVersions,
  readManifest,
  readMemberRecord,
  writeManifest,
  writeMemberRecord,
  type Manifest,
  type MemberRecord,
} from '../run/manifest.ts';
import { writeFileAtomic } from '../run/atomic.ts';
import { withDirLock } from '../run/lock.ts';
import { formatDuration, Progress } from '../run/progress.ts';
import { deriveSeed } from '../run/rng.ts';
import { markLatest, memberDir, runDir } from '../run/run-dir.ts';
import { trainMember, type BatchInfo } from '../models/train-member.ts';
import { Ensemble } from '../ensembles/ensemble.ts';
import { MEMBER_STREAMS } from '../ensembles/method.ts';
import { methodFor } from './methods.ts';

export interface TrainRunOptions {
  config: TrainConfig;
  runsRoot: string;
  runName: string;
  workers: number;
  backend: BackendInfo;
  command: string;
  log: (line: string) => void;
}

export function memberSeeds(config: TrainConfig): number[] {
  return Array.from({ length: config.members }, (_, i) => deriveSeed(config.seed, i));
}

function sameIdentity(a: TrainConfig, b: TrainConfig): boolean {
  return JSON.stringify(trainingIdentity(a)) === JSON.stringify(trainingIdentity(b));
}

function describeDifference(saved: TrainConfig, wanted: TrainConfig): string {
  const a = trainingIdentity(saved);
  const b = trainingIdentity(wanted);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return keys.map((k) => `${k} ${JSON.stringify(a[k])} → ${JSON.stringify(b[k])}`).join(', ');
}

/** Opens the run directory, creating its manifest or refusing a different config. */
function openRun(options: TrainRunOptions, dir: string): Manifest {
  const { config } = options;
  if (manifestExists(dir)) {
    const manifest = readManifest(dir);
    if (!sameIdentity(manifest.config, config)) {
      throw new UserError(
        `run directory ${dir} was made with a different config (${describeDifference(manifest.config, config)}); choose another --run name or repeat the original options`,
      );
    }
    return manifest;
  }
  const now = new Date().toISOString();
  const versions = packageVersions();
  const manifest: Manifest = {
    tool: 'ensdef',
    version: versions.ensdef,
    createdAt: now,
    updatedAt: now,
    command: options.command,
    config,
    seeds: { run: config.seed, members: memberSeeds(config) },
    versions,
    backend: options.backend,
    status: 'running',
    members: [],
    timings: {},
  };
  writeManifest(dir, manifest);
  return manifest;
}

function finishedMembers(dir: string, count: number): MemberRecord[] {
  const records: MemberRecord[] = [];
  for (let i = 0; i < count; i++) {
    const record = readMemberRecord(memberDir(dir, i));
    if (record) records.push(record);
  }
  return records;
}

/**
 * Trains member `index` of the run in `dir` and saves it; the member's directory is rebuilt from scratch.
 * `inWorker`: one of several processes sharing the terminal, so progress comes as plain lines.
 */
export async function trainAndSaveMember(dir: string, config: TrainConfig, index: number, backend: BackendInfo, inWorker = false): Promise<MemberRecord> {
  const dataset = loadDataset(config);
  const seed = deriveSeed(config.seed, index);
  const directory = memberDir(dir, index);
  rmSync(directory, { recursive: true, force: true });
  const label = `member ${index + 1}/${config.members}`;
  const bar = new Progress(label, 'samples', { lines: inWorker });
  const showBatch = (phase: string) => (info: BatchInfo) =>
    bar.update({ done: info.samplesDone, total: info.samplesTotal, detail: `${phase} epoch ${info.epoch + 1}/${info.epochs} loss ${info.loss.toFixed(4)}` });
  const plan = await methodFor(config.method).plan({
    config,
    dataset,
    index,
    seed,
    dir: directory,
    onBatch: (info, phase) => showBatch(phase)(info),
  });
  const model = buildModel(plan.model, deriveSeed(seed, MEMBER_STREAMS.init));
  const result = trainMember(model, {
    split: dataset.train,
    imageShape: dataset.imageShape,
    numClasses: dataset.numClasses,
    indices: plan.indices,
    epochs: config.epochs,
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    shuffleSeed: deriveSeed(seed, MEMBER_STREAMS.shuffle),
    transformBatch: plan.transformBatch,
    loss: plan.loss,
    softTargets: plan.softTargets,
    label,
    onBatch: showBatch('train'),
  });
  bar.finish();
  const testAccuracy = evaluateAccuracy(modelLogits(model), dataset.test, dataset.imageShape, dataset.numClasses);
  await saveCheckpoint(model, directory, { model: plan.model, seed, ...plan.facts });
  model.dispose();
  const record: MemberRecord = {
    index,
    model: plan.model,
    seed,
    testAccuracy,
    finalLoss: result.finalLoss,
    trainSeconds: result.seconds,
    samplesPerSecond: result.samplesPerSecond,
    backend: backend.name,
    facts: plan.facts,
  };
  writeMemberRecord(directory, record);
  return record;
}

const ENSDEF_BIN = fileURLToPath(new URL('../../bin/ensdef.js', import.meta.url));

/** Where a worker leaves the reason it failed, for the parent to print once and record in the manifest. */
function workerFailurePath(dir: string, index: number): string {
  return join(memberDir(dir, index), 'failure.txt');
}

/**
 * Trains one member in a worker process (`ensdef train-member`). A user-level failure (e.g. a NaN loss)
 * is written to the member's directory and returns undefined: the worker prints nothing, the parent
 * prints it once and records it in the manifest, as without workers. Other errors are also rethrown.
 */
export async function trainMemberInWorker(dir: string, config: TrainConfig, index: number, backend: BackendInfo): Promise<MemberRecord | undefined> {
  try {
    return await trainAndSaveMember(dir, config, index, backend, true);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    writeFileAtomic(workerFailurePath(dir, index), error instanceof UserError ? message : `internal error: ${message}`);
    if (!(error instanceof UserError)) throw error;
    return undefined;
  }
}

function runWorker(options: TrainRunOptions, index: number): Promise<void> {
  const failurePath = workerFailurePath(runDir(options.runsRoot, options.runName), index);
  rmSync(failurePath, { force: true });
  const failure = (how: string) =>
    existsSync(failurePath)
      ? new UserError(readFileSync(failurePath, 'utf8'))
      : new UserError(`member ${index + 1} failed in its worker (${how}); see the message above, then rerun the same command to retry it`);
  const args = [ENSDEF_BIN, 'train-member', '--runs-dir', options.runsRoot, '--run', options.runName, '--member', String(index), '--backend', options.backend.name];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(failure(signal ?? `exit ${code}`));
    });
  });
}

async function trainPending(options: TrainRunOptions, dir: string, pending: number[]): Promise<void> {
  const { config, log } = options;
  const workers = Math.min(options.workers, pending.length);
  const started = performance.now();
  let finished = 0;
  // Members cost about the same, so the rate of finished members (parallel workers included) predicts the rest.
  const runEta = () => {
    finished++;
    const elapsed = (performance.now() - started) / 1000;
    return `run: ${finished}/${pending.length} members this time, elapsed ${formatDuration(elapsed)}, ETA ${formatDuration((elapsed / finished) * (pending.length - finished))}`;
  };
  if (workers <= 1) {
    for (const index of pending) {
      const record = await trainAndSaveMember(dir, config, index, options.backend);
      log(
        `member ${index + 1}/${config.members} done: test accuracy ${record.testAccuracy.toFixed(4)}, loss ${record.finalLoss.toFixed(4)}, ${record.samplesPerSecond.toFixed(0)} samples/s, ${formatDuration(record.trainSeconds)}; ${runEta()}`,
      );
    }
    return;
  }
  log(`training ${pending.length} members in ${workers} worker processes`);
  const queue = [...pending];
  const failures: Error[] = [];
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        try {
          await runWorker(options, index);
          log(runEta());
        } catch (error) {
          failures.push(error as Error);
        }
      }
    }),
  );
  if (failures.length > 0) throw failures[0];
}

/** Single-member and ensemble clean test accuracy of a finished run. */
export async function evaluateRun(dir: string, manifest: Manifest): Promise<NonNullable<Manifest['evaluation']>> {
  const dataset = loadDataset(manifest.config);
  const ensemble = await Ensemble.load(dir, manifest);
  try {
    const memberAccuracy = ensemble.members.map((m) => evaluateAccuracy(modelLogits(m), dataset.test, dataset.imageShape, dataset.numClasses));
    const probabilities = scoreSplit((x) => ensemble.probabilities(x), dataset.test, dataset.imageShape);
    const ensembleAccuracy = accuracyOf(argmaxRows(probabilities, dataset.numClasses), dataset.test.labels);
    return { testCount: dataset.test.count, memberAccuracy, ensembleAccuracy };
  } finally {
    ensemble.dispose();
  }
}

export async function trainRun(options: TrainRunOptions): Promise<Manifest> {
  const dir = runDir(options.runsRoot, options.runName);
  // Missing or corrupt data fails here, before a run directory is created or LATEST moved.
  loadDataset(options.config);
  return withDirLock(dir, () => trainLockedRun(options, dir));
}

async function trainLockedRun(options: TrainRunOptions, dir: string): Promise<Manifest> {
  let manifest = openRun(options, dir);
  markLatest(options.runsRoot, options.runName);
  const done = new Set(finishedMembers(dir, options.config.members).map((r) => r.index));
  const pending = Array.from({ length: options.config.members }, (_, i) => i).filter((i) => !done.has(i));
  if (pending.length === 0) options.log(`run ${options.runName}: all ${options.config.members} members already trained`);
  else if (done.size > 0) options.log(`run ${options.runName}: ${done.size} members already trained, training ${pending.length}`);
  const started = performance.now();
  try {
    await trainPending(options, dir, pending);
  } catch (error) {
    writeManifest(dir, { ...readManifest(dir), members: finishedMembers(dir, options.config.members), status: 'failed', failure: (error as Error).message });
    throw error;
  }
  manifest = { ...manifest, members: finishedMembers(dir, options.config.members) };
  if (pending.length > 0 || !manifest.evaluation || manifest.status !== 'complete') {
    manifest.timings = { trainSeconds: (manifest.timings.trainSeconds ?? 0) + (performance.now() - started) / 1000 };
    manifest.evaluation = await evaluateRun(dir, manifest);
    manifest.status = 'complete';
    delete manifest.failure;
    writeManifest(dir, manifest);
  }
  return manifest;
}
