/**
 * Members trained in parallel worker processes (`ensdef train-member`), one member per worker at a time:
 * members are independent, and one single-threaded process per core scales better than threads. A worker's
 * thread count never depends on how many run, so a member's weights do not either.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendInfo } from '../backend/select.ts';
import type { TrainConfig } from '../config/train-config.ts';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../run/atomic.ts';
import type { MemberRecord } from '../run/manifest.ts';
import { memberDir } from '../run/run-dir.ts';
import { trainAndSaveMember } from './member.ts';

/** The CLI a worker process runs. */
export const ENSDEF_BIN = fileURLToPath(new URL('../../bin/ensdef.js', import.meta.url));

/**
 * How many member worker processes to run at once with `workers` cores for them (--workers). Members that
 * leave the last round short of a full one would keep cores idle for a whole member's training: 3 CIFAR-10
 * members on 2 workers took two rounds, the second on one core. Between one and two full rounds, every member
 * therefore gets its own process at once, and they share the cores. On 2 cores, three one-thread CIFAR-10
 * workers trained 819–822 samples/s in all against two workers' 825; MNIST's lost 4 % with 3 and 7–10 % with
 * 5 (2026-12-07), so longer runs keep one process per core.
 */
export function memberProcesses(members: number, workers: number): number {
  return members > workers && members < 2 * workers ? members : Math.min(members, workers);
}

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

/** Where a member's worker runs: the run, and the backend the parent started. */
export interface WorkerTarget {
  runsRoot: string;
  runName: string;
  dir: string;
  backend: BackendInfo;
}

/** Trains member `index` in a worker process; rejects with the worker's own one-line reason when it fails. */
export function runWorker(options: WorkerTarget, index: number): Promise<void> {
  const failurePath = workerFailurePath(options.dir, index);
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

/** Runs task(i) for every index, at most `workers` at a time; all of them run even when one fails, then the first failure is thrown. */
export async function inParallel(indices: number[], workers: number, task: (index: number) => Promise<void>): Promise<void> {
  const queue = [...indices];
  const failures: Error[] = [];
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
        try {
          await task(index);
        } catch (error) {
          failures.push(error as Error);
        }
      }
    }),
  );
  if (failures.length > 0) throw failures[0];
}
