/**
 * A non-finite training loss stops the member with one clear line, a non-zero exit, status 'failed' and
 * the reason in the manifest (also when the member trained in a worker process), and `ensdef report`
 * shows it.
 *
 * How to get a NaN on purpose: --lr is capped at 10, and Adam's step is bounded by lr, so the loss grows
 * huge but stays finite (measured: 7e4 after 4 steps at lr 10). Distillation's loss divides the logits by
 * --temperature; at T = 1e-45 (the smallest float32, a valid value in (0, 1000]) logits/T overflows to
 * ±Inf, and the teacher's very first loss is NaN — every time (measured on wasm and cpu).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { appendResults, resultsPath } from '../../src/eval/results.ts';
import { readManifest } from '../../src/run/manifest.ts';
import { memberDir } from '../../src/run/run-dir.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { assertOneLineFailure, ensdef, errorLines, writeRunManifest } from '../helpers/reliability.ts';
import { resultRow } from '../helpers/results.ts';

const runs = tempDir('nan');
const DIVERGING = ['--epochs', '1', '--train-limit', '256', '--test-limit', '50', '--temperature', '1e-45', '--runs-dir', runs];
const NAN = /training loss became NaN at epoch 1, step 1/;

function assertRecordedFailure(name: string, members: number): void {
  const manifest = readManifest(join(runs, name));
  assert.equal(manifest.status, 'failed');
  assert.match(manifest.failure ?? '', NAN, 'the manifest does not say why the run failed');
  for (let i = 0; i < members; i++) assert.ok(!existsSync(join(memberDir(join(runs, name), i), 'record.json')), `member ${i} counts as trained`);
}

describe('a NaN loss', () => {
  test('in-process: one line, exit 1, the manifest records the failure', async () => {
    const run = await ensdef(['train', '--method', 'distillation', '--run', 'nan-single', ...DIVERGING]);
    const line = assertOneLineFailure(run, 1, 'member 1 teacher');
    assert.match(line, NAN);
    assertRecordedFailure('nan-single', 1);
  });

  test('in worker processes: still one line, and the manifest records the reason, not just "worker failed"', async () => {
    const run = await ensdef(['train', '--method', 'bagging+distillation', '--members', '2', '--workers', '2', '--run', 'nan-workers', ...DIVERGING]);
    assert.match(assertOneLineFailure(run, 1), NAN);
    assertRecordedFailure('nan-workers', 2);
  });

  test('a failed run cannot be attacked as if it were an ensemble', async () => {
    const run = await ensdef(['attack', '--run', 'nan-workers', '--attack', 'fgsm', '--grad', '2', '--runs-dir', runs]);
    assertOneLineFailure(run, 1, '0/2 members trained');
  });

  test('report names the failed run and why, with or without results elsewhere', async () => {
    const out = tempDir('nan-report');
    const alone = await ensdef(['report', '--runs', runs, '--out', out]);
    const line = assertOneLineFailure(alone, 1, 'no results', 'run nan-single failed', 'run nan-workers failed');
    assert.match(line, NAN);

    // A run with results: the report is written and lists the failed runs with their reasons.
    writeRunManifest(join(runs, 'good'));
    appendResults(resultsPath(join(runs, 'good')), [
      resultRow({ method: 'random-init', accuracy: 0.9, n: 50, seconds: 1 }),
    ]);
    const report = await ensdef(['report', '--runs', runs, '--out', out]);
    assert.equal(report.status, 0, report.stderr);
    assert.deepEqual(errorLines(report.stderr), []);
    const markdown = readFileSync(join(out, 'report.md'), 'utf8');
    for (const name of ['nan-single', 'nan-workers']) {
      assert.match(markdown, new RegExp(`^\\| ${name} \\| \\*\\*failed\\*\\*: member \\d teacher: training loss became NaN`, 'm'));
    }
  });
});
