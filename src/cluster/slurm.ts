/**
 * The Slurm commands ensdef uses, each a thin wrapper that turns Slurm's answer into data or into a
 * one-line UserError carrying Slurm's own message: sbatch (submit), squeue (what is queued or running,
 * by job name), scancel (undo a half-finished submission).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { UserError } from '../errors.ts';

/** Whether `command` is on PATH. */
export function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Slurm's message from a failed command: its last stderr line that says something ("sbatch: error: ..."). */
function slurmMessage(stderr: string, fallback: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => /error/i.test(l));
  return (errors.length > 0 ? errors.join('; ') : lines.at(-1)) ?? fallback;
}

/** Submits a batch script; returns the job id. `args` go before the script (they override its #SBATCH lines). */
export function sbatch(scriptPath: string, args: string[]): string {
  const result = spawnSync('sbatch', ['--parsable', ...args, scriptPath], { encoding: 'utf8', timeout: 120_000 });
  if (result.error) throw new UserError(`sbatch could not run (${result.error.message})`);
  if (result.status !== 0) throw new UserError(slurmMessage(result.stderr, `sbatch exited with ${result.status}`));
  // --parsable prints "jobid" or "jobid;cluster".
  const id = result.stdout.trim().split(';')[0];
  if (!/^\d+$/.test(id)) throw new UserError(`sbatch printed '${result.stdout.trim()}', not a job id`);
  return id;
}

export interface QueuedJob {
  /** The job id, array tasks as squeue prints them (123_4, or 123_[0-3] for pending tasks). */
  id: string;
  /** The array job's id (or the job's own). */
  jobId: string;
  name: string;
  state: string;
  reason: string;
}

/** Slurm states in which a job still has work ahead of it. */
const ACTIVE = new Set(['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SUSPENDED', 'SIGNALING', 'STAGE_OUT', 'STOPPED']);

/** The jobs squeue lists (this user's) whose names start with `prefix` and which are queued or running. */
export function activeJobs(prefix: string): QueuedJob[] {
  let out: string;
  try {
    out = execFileSync('squeue', ['-h', '-u', userName(), '-o', '%i|%F|%j|%T|%r'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (error) {
    throw new UserError(`squeue failed: ${slurmMessage(String((error as { stderr?: string }).stderr ?? ''), (error as Error).message)}`);
  }
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, jobId, name, state, reason] = line.split('|');
      return { id, jobId, name, state, reason };
    })
    .filter((j) => j.name.startsWith(prefix) && ACTIVE.has(j.state));
}

function userName(): string {
  return userInfo().username;
}

/** Cancels jobs; returns the ids scancel refused (with its message), [] when all went. */
export function scancel(ids: string[]): string[] {
  if (ids.length === 0) return [];
  const result = spawnSync('scancel', ids, { encoding: 'utf8', timeout: 60_000 });
  return result.status === 0 && !result.error ? [] : ids;
}
