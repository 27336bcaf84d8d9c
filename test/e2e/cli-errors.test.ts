/**
 * The command line as a user meets it: help, one-line errors with the right exit codes and no stack
 * traces, and one tiny real training run end to end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import type { Manifest } from '../../src/run/manifest.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function ensdef(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'ensdef.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The lines ensdef printed as errors; progress and backend lines on stderr are not errors. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('ensdef:'));
}

function assertOneLineError(run: ReturnType<typeof ensdef>, exitCode: number | 'non-zero', ...mentions: string[]): void {
  const context = `stderr:\n${run.stderr}`;
  if (exitCode === 'non-zero') assert.ok(run.status !== 0 && run.status !== null, `exit ${run.status}; ${context}`);
  else assert.equal(run.status, exitCode, context);
  assert.equal(errorLines(run.stderr).length, 1, context);
  assert.ok(!run.stderr.includes('    at '), `stack trace printed; ${context}`);
  for (const m of mentions) assert.ok(errorLines(run.stderr)[0].includes(m), `error does not mention ${m}; ${context}`);
}

describe('ensdef command line', () => {
  const runs = tempDir('cli');

  test('--help lists the commands', () => {
    const run = ensdef('--help');
    assert.equal(run.status, 0, run.stderr);
    for (const command of ['train', 'attack', 'report', 'reproduce', 'data']) {
      assert.match(run.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), `--help does not list ${command}`);
    }
  });

  test('an unknown --dataset exits 2 naming the allowed values', () => {
    assertOneLineError(ensdef('train', '--dataset', 'foo', '--runs-dir', runs), 2, 'foo', 'mnist', 'cifar10');
  });

  test('--epochs 0 exits 2', () => {
    assertOneLineError(ensdef('train', '--epochs', '0', '--runs-dir', runs), 2, '--epochs');
  });

  test('a run name that climbs out of the runs directory exits 2', () => {
    assertOneLineError(ensdef('train', '--run', '../x', '--runs-dir', runs), 2, '../x');
    assert.ok(!existsSync(join(runs, '..', 'x')), 'a directory was created outside --runs-dir');
  });

  test('a data directory without MNIST fails naming the missing file', () => {
    const run = ensdef(
      'train', '--data-dir', '/nonexistent', '--train-limit', '10', '--epochs', '1', '--members', '1',
      '--method', 'single', '--runs-dir', runs, '--run', 'no-data',
    );
    assertOneLineError(run, 'non-zero', 'train-images-idx3-ubyte', '/nonexistent');
  });

  test('a tiny single-model training prints its test accuracy and completes its manifest', () => {
    const run = ensdef(
      'train', '--method', 'single', '--epochs', '1', '--train-limit', '256', '--test-limit', '200',
      '--run', 't', '--runs-dir', runs, '--seed', '1',
    );
    assert.equal(run.status, 0, run.stderr);
    const accuracy = /^test accuracy (0\.\d+)$/m.exec(run.stdout);
    assert.ok(accuracy, `no accuracy line in: ${run.stdout}`);
    // 256 images and two optimiser steps already beat guessing (0.1) by a wide margin.
    assert.ok(Number(accuracy[1]) > 0.2, `accuracy ${accuracy[1]}`);
    const manifest = JSON.parse(readFileSync(join(runs, 't', 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.members.length, 1);
    assert.equal(manifest.evaluation?.testCount, 200);
  });

  describe('a flag naming a file where a directory goes is a one-line usage error, nothing written', () => {
    const home = tempDir('cli-files');
    const file = join(home, 'a-file');
    writeFileSync(file, 'mine');
    const untouched = () => assert.equal(readFileSync(file, 'utf8'), 'mine');

    test('reproduce --out FILE (was "internal error: EEXIST")', () => {
      assertOneLineError(ensdef('reproduce', '--preset', 'smoke', '--out', file), 2, `--out ${file} is a file, not a directory`);
      untouched();
    });

    test('reproduce --out FILE/sub and report --out FILE/sub (were "internal error: ENOTDIR")', () => {
      assertOneLineError(ensdef('reproduce', '--preset', 'smoke', '--out', join(file, 'sub')), 2, `--out ${join(file, 'sub')}: ${file} is a file`);
      const saved = join(ROOT, 'docs', 'reproductions', 'cifar10-standin-cpu', 'runs');
      assertOneLineError(ensdef('report', '--runs', saved, '--out', join(file, 'sub')), 2, `--out ${join(file, 'sub')}: ${file} is a file`);
      untouched();
    });

    test('data fetch --cache-dir FILE (was "internal error: ENOTDIR")', () => {
      assertOneLineError(ensdef('data', 'fetch', 'mnist', '--cache-dir', file), 2, `--cache-dir ${file} is a file`);
      untouched();
    });

    test('attack --figure under a file, or naming a directory, is refused before the attack runs', () => {
      // A run's manifest without its checkpoints: the flags are refused before the run is opened.
      const runs = join(home, 'runs');
      cpSync(join(ROOT, 'docs', 'reproductions', 'cifar10-standin-cpu', 'runs', 'cifar10-bagging', 'manifest.json'), join(runs, 'b', 'manifest.json'));
      const attack = (figure: string) => ensdef('attack', '--runs-dir', runs, '--run', 'b', '--attack', 'fgsm', '--grad', '1', '--figure', figure);
      assertOneLineError(attack(join(file, 'x.png')), 2, `--figure ${join(file, 'x.png')}: ${file} is a file`);
      assertOneLineError(attack(home), 2, `--figure ${home} is a directory`);
      assert.ok(!existsSync(join(runs, 'b', 'results.csv')), 'the attack ran');
      untouched();
    });
  });
});
