/**
 * A run's lifecycle: its directory is opened (or refused for a different config), its members are trained
 * in this process or in workers — each finished member saved atomically with its record, so a rerun trains
 * only what is missing — and the finished run is evaluated and marked complete in its manifest.
 *
 * Several processes, on several hosts, may train members of one run at once (`train --member i`, a Slurm
 * array): each member has its own lock, the manifest is only ever changed under its file lock and its
 * member list is rebuilt from the members' own records, and whichever process finds every member
 * finished evaluates the run.
 *
 * A joint method's members (MethodDefinition.joint) are one training: they are trained together in this
 * process, all of them whenever one is unfinished, under every member's lock; --member is refused.
 */
import type { BackendInfo } from '../backend/select.ts';
import type { TrainConfig } from '../config/train-config.ts';
import { methodDefinition, trainedIdentity } from './methods.ts';
import { loadDataset } from '../datasets/registry.ts';
import { ParamError, UserError } from '../errors.ts';
import { join } from 'node:path';
import { changedFiles, packageVersions, readManifest, readMemberRecord, updateManifest, type Manifest, type ManifestData, type MemberRecord } from '../run/manifest.ts';
import { LOCK_FILE, withLock } from '../run/lock.ts';
import { formatDuration, MembersEta } from '../run/progress.ts';
import { deriveSeed } from '../run/rng.ts';
import { markLatest, memberDir, runDir } from '../run/run-dir.ts';
import { evaluateRun } from './evaluate-run.ts';
import { trainAndSaveJointly, trainAndSaveMember } from './member.ts';
import { inParallel, memberProcesses, runWorker } from './worker-pool.ts';

export interface TrainRunOptions {
  config: TrainConfig;
  runsRoot: string;
  runName: string;
  workers: number;
  backend: BackendInfo;
  command: string;
  log: (line: string) => void;
  /** Train only this member (an array task); the run is evaluated by whichever process finishes the last one. */
  member?: number;
}

/** A joint method's member cannot be trained alone: refused, before anything starts. */
export function refuseMemberOfJointRun(config: TrainConfig, member: number | undefined): void {
  if (member === undefined || !methodDefinition(config.method).joint) return;
  throw new ParamError('member', `--method ${config.method} trains all its members together on one objective of the ensemble, so member ${member} cannot be trained alone; drop --member`);
}

export function memberSeeds(config: TrainConfig): number[] {
  return Array.from({ length: config.members }, (_, i) => deriveSeed(config.seed, i));
}

function sameIdentity(a: TrainConfig, b: TrainConfig): boolean {
  return JSON.stringify(trainedIdentity(a)) === JSON.stringify(trainedIdentity(b));
}

function describeDifference(saved: TrainConfig, wanted: TrainConfig): string {
  const a = trainedIdentity(saved);
  const b = trainedIdentity(wanted);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return keys.map((k) => `${k} ${JSON.stringify(a[k])} → ${JSON.stringify(b[k])}`).join(', ');
}

/** Opens the run directory, creating its manifest or refusing a different config (under the manifest's lock: array tasks start together). */
function openRun(options: TrainRunOptions, dir: string, data: ManifestData): Manifest {
  const { config } = options;
  return updateManifest(dir, (existing) => {
    if (existing) {
      if (!sameIdentity(existing.config, config)) {
        throw new UserError(
          `run directory ${dir} was made with a different config (${describeDifference(existing.config, config)}); choose another --run name or repeat the original options`,
        );
      }
      // Members trained on other bytes would make one ensemble of two data sets.
      const changed = existing.data && changedFiles(existing.data.files, data.files);
      if (changed && changed.length > 0) {
        throw new UserError(`run directory ${dir} was trained on other data (${changed.join(', ')} differ from the manifest's sha256); pass the --data-dir it used or choose another --run name`);
      }
      // The same bytes, judged again: what they are called and whether they verify follows the checksums ensdef knows now.
      const rejudged = existing.data && (existing.data.label !== data.label || existing.data.verified !== data.verified || existing.data.check !== data.check);
      return rejudged ? { ...existing, data: { ...existing.data!, label: data.label, verified: data.verified, check: data.check } } : undefined;
    }
    const now = new Date().toISOString();
    const versions = packageVersions();
    return {
      tool: 'ensdef',
      version: versions.ensdef,
      createdAt: now,
      updatedAt: now,
      command: options.command,
      config,
      seeds: { run: config.seed, members: memberSeeds(config) },
      versions,
      backend: options.backend,
      data,
      status: 'running',
      members: [],
      timings: {},
    };
  }) ?? readManifest(dir);
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
  if (methodDefinition(config.method).joint) {
    const started = performance.now();
    const records = await trainAndSaveJointly(dir, config, options.backend);
    for (const record of records) log(`member ${record.index + 1}/${config.members} done: test accuracy ${record.testAccuracy.toFixed(4)}`);
    log(`run: ${config.members} members trained jointly, ensemble loss ${records[0].finalLoss.toFixed(4)}, ${records[0].samplesPerSecond.toFixed(0)} samples/s, ${formatDuration((performance.now() - started) / 1000)}`);
    return;
  }
  const workers = memberProcesses(pending.length, options.workers);
  const started = performance.now();
  const eta = new MembersEta(workers, pending.length);
  const runEta = () =>
    `run: ${eta.finished}/${pending.length} members this time, elapsed ${formatDuration((performance.now() - started) / 1000)}, ETA ${formatDuration(eta.remainingSeconds())}`;
  const timed = async <T>(index: number, work: () => Promise<T>): Promise<T> => {
    eta.start(index);
    const result = await work();
    eta.finish(index);
    return result;
  };
  if (workers <= 1) {
    for (const index of pending) {
      const record = await timed(index, () => trainAndSaveMember(dir, config, index, options.backend));
      log(
        `member ${index + 1}/${config.members} done: test accuracy ${record.testAccuracy.toFixed(4)}, loss ${record.finalLoss.toFixed(4)}, ${record.samplesPerSecond.toFixed(0)} samples/s, ${formatDuration(record.trainSeconds)}; ${runEta()}`,
      );
    }
    return;
  }
  log(`training ${pending.length} members in ${workers} worker processes${workers > options.workers ? ` at once, sharing ${options.workers} workers' cores` : ''}`);
  await inParallel(pending, workers, async (index) => {
    await timed(index, () => runWorker({ runsRoot: options.runsRoot, runName: options.runName, dir, backend: options.backend }, index));
    log(runEta());
  });
}

export async function trainRun(options: TrainRunOptions): Promise<Manifest> {
  refuseMemberOfJointRun(options.config, options.member);
  const dir = runDir(options.runsRoot, options.runName);
  // Missing or corrupt data fails here, before a run directory is created or LATEST moved.
  const dataset = loadDataset(options.config);
  const { config, log } = options;
  openRun(options, dir, { source: dataset.source, ...dataset.provenance });
  markLatest(options.runsRoot, options.runName);
  const wanted = options.member !== undefined ? [options.member] : Array.from({ length: config.members }, (_, i) => i);
  const joint = methodDefinition(config.method).joint !== undefined;
  // One unfinished member of a joint run means training all of them: they are one training.
  const unfinished = () => {
    const missing = wanted.filter((i) => !readMemberRecord(memberDir(dir, i)));
    return joint && missing.length > 0 ? wanted : missing;
  };
  const pending = unfinished();
  const done = wanted.length - pending.length;
  if (options.member !== undefined && pending.length === 0) log(`run ${options.runName}: member ${options.member} already trained`);
  else if (pending.length === 0) log(`run ${options.runName}: all ${config.members} members already trained`);
  else if (done > 0) log(`run ${options.runName}: ${done} members already trained, training ${pending.length}`);
  const started = performance.now();
  let trained = 0;
  if (pending.length > 0) {
    await withMemberLocks(dir, pending, async () => {
      // Records are read again under the locks: a member another process finished between the first read
      // and this process taking its lock is not trained twice.
      const still = unfinished();
      trained = still.length;
      try {
        await trainPending(options, dir, still);
      } catch (error) {
        updateManifest(dir, (m) => ({ ...m!, members: finishedMembers(dir, config.members), status: 'failed', failure: (error as Error).message }));
        throw error;
      }
    });
  }
  const seconds = trained > 0 ? (performance.now() - started) / 1000 : 0;
  return finishRun(dir, config.members, seconds);
}

/** Runs `work` holding the locks of every member in `indices`; refused at once if another process trains one of them. */
async function withMemberLocks<T>(dir: string, indices: number[], work: () => Promise<T>): Promise<T> {
  if (indices.length === 0) return work();
  const [first, ...rest] = indices;
  return withLock(join(memberDir(dir, first), LOCK_FILE), `member ${first} of run ${dir}`, () => withMemberLocks(dir, rest, work));
}

/**
 * Records the finished members in the manifest and, once every member is finished, evaluates the run and
 * marks it complete. Two processes finishing the last members together may both evaluate: the evaluation
 * is deterministic, so they write the same numbers, and neither holds the manifest's lock while it works.
 */
async function finishRun(dir: string, members: number, trainSeconds: number): Promise<Manifest> {
  let manifest = updateManifest(dir, (m) => {
    const finished = finishedMembers(dir, members);
    // Nothing new: the manifest stays as it is, byte for byte.
    if (trainSeconds === 0 && JSON.stringify(finished) === JSON.stringify(m!.members)) return undefined;
    return { ...m!, members: finished, timings: { trainSeconds: (m!.timings.trainSeconds ?? 0) + trainSeconds } };
  }) ?? readManifest(dir);
  if (manifest.members.length < members || (manifest.status === 'complete' && manifest.evaluation)) return manifest;
  const evaluation = await evaluateRun(dir, manifest);
  manifest = updateManifest(dir, (m) => {
    const { failure: _failure, ...rest } = m!;
    return { ...rest, members: finishedMembers(dir, members), evaluation, status: 'complete' };
  })!;
  return manifest;
}
