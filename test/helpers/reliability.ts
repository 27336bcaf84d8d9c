/**
 * Shared by the reliability tests: ensdef driven as a subprocess (as a user runs it), what a failed
 * command printed, snapshots of what is on disk, and small run directories made without training.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainConfig } from '../../src/training/methods.ts';
import { writeManifest, type Manifest } from '../../src/run/manifest.ts';

export const ENSDEF_BIN = fileURLToPath(new URL('../../bin/ensdef.js', import.meta.url));
export const CRASH_ON_WRITE = fileURLToPath(new URL('./crash-on-write.mjs', import.meta.url));

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Modules loaded before ensdef (node --import), e.g. CRASH_ON_WRITE. */
  preload?: string;
  timeoutMs?: number;
  /** A new process group, so that a signal can reach ensdef and its workers as Ctrl-C does. */
  detached?: boolean;
}

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startEnsdef(args: string[], options: CliOptions = {}): ChildProcess {
  const node = options.preload ? ['--import', options.preload] : [];
  return spawn(process.execPath, [...node, ENSDEF_BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached,
  });
}

/** Resolves with the exit status, the killing signal and the output of a started command. */
export function finished(child: ChildProcess, timeoutMs = 120_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

export function ensdef(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return finished(startEnsdef(args, options), options.timeoutMs);
}

/** The lines ensdef printed as errors; progress and backend lines on stderr are not errors. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('ensdef:'));
}

/** A command that failed as a user mistake should: one `ensdef:` line naming `mentions`, no stack trace. */
export function assertOneLineFailure(run: CliResult, exitCode: number | 'non-zero', ...mentions: string[]): string {
  const context = `exit ${run.status} (${run.signal ?? 'no signal'}); stderr:\n${run.stderr}`;
  if (exitCode === 'non-zero') assert.ok(run.status !== null && run.status !== 0, context);
  else assert.equal(run.status, exitCode, context);
  const errors = errorLines(run.stderr);
  assert.equal(errors.length, 1, `expected exactly one error line; ${context}`);
  assert.ok(!run.stderr.includes('    at '), `stack trace printed; ${context}`);
  for (const m of mentions) assert.ok(errors[0].includes(m), `error does not mention ${m}; ${context}`);
  return errors[0];
}

/** Every file under `dir` (hidden ones too) → sha256 of its bytes; {} when `dir` does not exist. */
export function snapshotTree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  if (existsSync(dir)) walk(dir);
  return files;
}

export const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The flags of the tiny real run the reliability tests attack, corrupt and compare (a few seconds on wasm). */
export const TINY_RUN = ['--method', 'random-init', '--members', '2', '--epochs', '1', '--train-limit', '256', '--test-limit', '50'];

/** Trains a tiny real run NAME under runsDir (in-process, one worker) and fails the test if it fails. */
export async function trainTinyRun(runsDir: string, name: string, ...extra: string[]): Promise<string> {
  const run = await ensdef(['train', ...TINY_RUN, '--workers', '1', '--run', name, '--runs-dir', runsDir, ...extra]);
  assert.equal(run.status, 0, run.stderr);
  return join(runsDir, name);
}

/**
 * Writes the manifest of a finished MNIST run without training it: enough for every check that reads a
 * run's manifest (flag validation, report), not for loading its models.
 */
export function writeRunManifest(dir: string, options: RunManifestOptions = {}): Manifest {
  const manifest = runManifest(options);
  writeManifest(dir, manifest);
  return manifest;
}

export interface RunManifestOptions {
  method?: string;
  members?: number;
  status?: Manifest['status'];
  failure?: string;
}

/** The manifest of a finished MNIST run (nothing trained behind it). */
export function runManifest(options: RunManifestOptions = {}): Manifest {
  const members = options.members ?? 2;
  return {
    tool: 'ensdef',
    version: 'test',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    command: 'written by a test',
    config: trainConfig({ dataset: 'mnist', method: options.method ?? 'random-init', members, epochs: 1, seed: 0 }),
    seeds: { run: 0, members: [] },
    versions: {},
    backend: { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', version: 'test', threads: 1, trainingKernels: true },
    status: options.status ?? 'complete',
    failure: options.failure,
    members: [],
    timings: {},
  };
}
