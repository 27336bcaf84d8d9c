/**
 * Locks, one file each, created with O_EXCL so that one process (on any host sharing the file system)
 * can make it. Two kinds:
 *   - work locks (`withLock`, `withDirLock`): one member being trained, one attack job being measured,
 *     one local reproduction. A second process wanting the same work is refused at once, naming the
 *     holder. Work on *other* members or jobs of the same run goes ahead: array tasks on different nodes
 *     write one run directory at the same time.
 *   - file locks (`withFileLock`): a read-modify-write of one shared file (manifest.json, results.csv,
 *     reproduce-state.json), held for milliseconds; other writers wait their turn, so none loses another's
 *     rows or member records.
 * A lock whose holder is gone is taken over: a dead pid on this host, or — on any host — a Slurm job that
 * Slurm says is no longer running, or this very job's own earlier attempt (a requeued task keeps its id).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.ts';

export const LOCK_FILE = '.ensdef.lock';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
  /** The Slurm job (array tasks: ARRAYJOB_TASK) the holder ran in, if any. */
  slurmJob?: string;
}

/** This process's Slurm job id as squeue names it (12345, or 12345_3 for an array task); undefined outside Slurm. */
export function currentSlurmJob(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID) return `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`;
  return env.SLURM_JOB_ID || undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Slurm states in which a job's processes may still run. */
const LIVE_SLURM_STATES = new Set(['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'SUSPENDED', 'REQUEUED', 'RESIZING', 'SIGNALING', 'STAGE_OUT', 'STOPPED']);

/**
 * Whether Slurm says the job has ended: true when squeue no longer lists it or lists it in a final state;
 * false when it may still run; undefined when squeue cannot answer (not installed, controller down).
 */
export function slurmJobEnded(job: string): boolean | undefined {
  try {
    const out = execFileSync('squeue', ['-h', '-j', job, '-o', '%T'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 }).trim();
    if (out === '') return true;
    return !out.split('\n').some((state) => LIVE_SLURM_STATES.has(state.trim()));
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '');
    // squeue answers an id that has left the queue with "Invalid job id specified".
    if (/Invalid job id/i.test(stderr)) return true;
    return undefined;
  }
}

const SLURM_CHECK_AFTER_MS = 10_000;

/** Why the holder no longer holds the lock, or undefined when it may still. */
function staleReason(holder: LockHolder, me: LockHolder): string | undefined {
  if (holder.slurmJob && me.slurmJob && holder.slurmJob === me.slurmJob && holder.pid !== me.pid) return 'an earlier attempt of this Slurm job';
  if (holder.host === me.host && !isAlive(holder.pid)) return 'its process is gone';
  // Asking Slurm costs a round trip to its controller: not for a lock taken moments ago (a file lock
  // another node holds for milliseconds, retried every few), only for one that has stayed.
  const age = Date.now() - Date.parse(holder.since);
  if (holder.slurmJob && !(age < SLURM_CHECK_AFTER_MS) && slurmJobEnded(holder.slurmJob) === true) return `Slurm job ${holder.slurmJob} has ended`;
  return undefined;
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return Number.isInteger(holder.pid) && typeof holder.host === 'string' ? holder : undefined;
  } catch {
    return undefined;
  }
}

function tryCreate(path: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

function me(): LockHolder {
  const slurmJob = currentSlurmJob();
  return { pid: process.pid, host: hostname(), command: ['ensdef', ...process.argv.slice(2)].join(' '), since: new Date().toISOString(), ...(slurmJob ? { slurmJob } : {}) };
}

/** A lock file nobody can read for this long was left by a process killed between creating and writing it. */
const UNREADABLE_STALE_MS = 60_000;

/** Takes the lock at `path` (true), or returns false while someone else holds it. A stale lock is taken over. */
function tryAcquire(path: string, self: LockHolder): boolean {
  mkdirSync(dirname(path), { recursive: true });
  if (tryCreate(path, self)) return true;
  const holder = readHolder(path);
  if (!holder) {
    // Unreadable: released since (gone: try again), just created and not yet written (young: held), or
    // left by a process killed between creating and writing it (old: stale).
    let age: number;
    try {
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      return tryCreate(path, self);
    }
    if (age <= UNREADABLE_STALE_MS) return false;
  } else if (staleReason(holder, self) === undefined) return false;
  // Taking over: another process may be doing the same; O_EXCL lets one of them create the new lock.
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return tryCreate(path, self);
}

function release(path: string): void {
  const holder = readHolder(path);
  if (holder?.pid === process.pid && holder.host === hostname()) unlinkSync(path);
}

function describeHolder(path: string): string {
  const holder = readHolder(path);
  return holder
    ? `'${holder.command}' (pid ${holder.pid} on ${holder.host}${holder.slurmJob ? `, Slurm job ${holder.slurmJob}` : ''}, since ${holder.since})`
    : 'another ensdef process';
}

/**
 * Runs `work` holding the work lock at `path`; refused at once while a live process holds it.
 * `what` names the work in the refusal ("member 3 of run r").
 */
export async function withLock<T>(path: string, what: string, work: () => Promise<T>): Promise<T> {
  if (!tryAcquire(path, me())) {
    throw new UserError(`${what} is in use by ${describeHolder(path)}; wait for it to finish, or delete ${path} if that process is no longer running`);
  }
  try {
    return await work();
  } finally {
    release(path);
  }
}

/** Runs `work` holding DIR's lock (DIR/.ensdef.lock), creating DIR if needed. */
export async function withDirLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  return withLock(join(dir, LOCK_FILE), dir, work);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** How long a writer waits for a file lock: far longer than any read-modify-write holds it. */
const FILE_LOCK_WAIT_MS = 120_000;

/** Where FILE's lock lives: DIR/.locks/NAME-EXT.lock (a name that does not contain FILE's own). */
export function fileLockPath(file: string): string {
  return join(dirname(file), '.locks', `${basename(file).replace(/\./g, '-')}.lock`);
}

/**
 * Runs `update` holding FILE's lock, waiting while another writer holds it. For short, synchronous
 * read-modify-writes of one shared file, so that concurrent writers each see the others' work.
 */
export function withFileLock<T>(file: string, update: () => T, waitMs = FILE_LOCK_WAIT_MS): T {
  const path = fileLockPath(file);
  const self = me();
  const deadline = Date.now() + waitMs;
  let pause = 2;
  while (!tryAcquire(path, self)) {
    if (Date.now() > deadline) {
      throw new UserError(`${file} stayed locked by ${describeHolder(path)} for ${Math.round(waitMs / 1000)} s; delete ${path} if that process is no longer running`);
    }
    // Jittered back-off, so twenty writers released at once do not retry in lockstep (timing only: no result reads it).
    sleepMs(pause + Math.random() * pause);
    pause = Math.min(pause * 2, 100);
  }
  try {
    return update();
  } finally {
    release(path);
  }
}
