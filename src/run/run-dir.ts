/** Run directories: runs/NAME/{manifest.json, members/member-NN/, results.csv, log}. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { UserError, usageError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';

export const DEFAULT_RUNS_ROOT = 'runs';
const LATEST = 'LATEST';
const RUN_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export function validateRunName(name: string): string {
  if (isAbsolute(name) || name.includes('..') || !RUN_NAME.test(name)) {
    throw usageError(`--run: '${name}' is not a valid run name (letters, digits, '.', '_', '+', '-'; no paths, no '..')`);
  }
  return name;
}

/**
 * Refuses a flag whose directory (`dir`: the flag's `value` itself, or the folder a file is written to) is
 * a file or lies under one, before anything is written: mkdir would fail there with EEXIST or ENOTDIR,
 * which says nothing about the flag. `fix` tells the user what to give instead.
 */
export function checkDirectoryFlag(flag: string, value: string, fix: string, dir = value): void {
  for (let p = resolve(dir); ; p = dirname(p)) {
    if (existsSync(p)) {
      if (statSync(p).isDirectory()) return;
      throw usageError(p === resolve(value) ? `${flag} ${value} is a file, not a directory; ${fix}` : `${flag} ${value}: ${p} is a file, not a directory; ${fix}`);
    }
    if (dirname(p) === p) return;
  }
}

export function runDir(root: string, name: string): string {
  validateRunName(name);
  checkDirectoryFlag('--runs-dir', root, 'name a directory for the runs');
  return resolve(root, name);
}

export function memberDir(dir: string, index: number): string {
  return join(dir, 'members', `member-${String(index).padStart(2, '0')}`);
}

export function markLatest(root: string, name: string): void {
  writeFileAtomic(join(root, LATEST), `${name}\n`);
}

/** The run named by --run, or the most recent one `ensdef train` made. */
export function resolveRunName(root: string, name: string | undefined): string {
  if (name) return validateRunName(name);
  const pointer = join(root, LATEST);
  if (!existsSync(pointer)) throw new UserError(`no run found under ${resolve(root)}; train one first ('ensdef train') or name one with --run`);
  return validateRunName(readFileSync(pointer, 'utf8').trim());
}

/** A default run name: dataset-method-seed. */
export function defaultRunName(dataset: string, method: string, seed: number): string {
  return `${dataset}-${method}-s${seed}`;
}
