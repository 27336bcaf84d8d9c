/**
 * A run's lifecycle: its directory is opened (or refused for a different config), its members are trained
 * in this process or in workers — each finished member saved atomically with its record, so a rerun trains
 * only what is missing — and the finished run is evaluated and marked complete in its manifest.
 */
import type { BackendInfo } from '../backend/select.ts';
import { trainingIdentity, type TrainConfig } from '../config/train-config.ts';
import { loadDataset } from '../datasets/registry.ts';
import { UserError } from '../errors.ts';
import { manifestExists, packageVersions, readManifest, readMemberRecord, writeManifest, type Manifest, type MemberRecord } from '../run/manifest.ts';
import { withDirLock } from '../run/lock.ts';
import { formatDuration } from '../run/progress.ts';
import { deriveSeed } from '../run/rng.ts';
import { markLatest, memberDir, runDir } from '../run/run-dir.ts';
import { evaluateRun } from './evaluate-run.ts';
import { trainAndSaveMember } from './member.ts';
import { inParallel, runWorker } from './worker-pool.ts';

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
  await inParallel(pending, workers, async (index) => {
    await runWorker({ runsRoot: options.runsRoot, runName: options.runName, dir, backend: options.backend }, index);
    log(runEta());
  });
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
