/**
 * One writer per directory. Two `ensdef train` processes on one run would both train its missing members
 * and overwrite each other's checkpoints; two `attack`s would each rewrite results.csv from what they had
 * read and lose the other's rows. A lock left by a process that is gone (killed, crashed) is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.ts';

export const LOCK_FILE = '.ensdef.lock';

interface LockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
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

function acquire(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), command: ['ensdef', ...process.argv.slice(2)].join(' '), since: new Date().toISOString() };
  if (tryCreate(path, me)) return path;
  const holder = readHolder(path);
  if (holder && holder.host === me.host && !isAlive(holder.pid)) {
    unlinkSync(path);
    if (tryCreate(path, me)) return path;
  }
  const who = holder ? `'${holder.command}' (pid ${holder.pid} on ${holder.host}, since ${holder.since})` : 'another ensdef process';
  throw new UserError(`${dir} is in use by ${who}; wait for it to finish, or delete ${path} if that process is no longer running`);
}

/** Runs `work` holding DIR's lock, creating DIR if needed. */
export async function withDirLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const path = acquire(dir);
  try {
    return await work();
  } finally {
    if (readHolder(path)?.pid === process.pid) unlinkSync(path);
  }
}
