/**
 * Interruption: a process killed at any moment never leaves a partial file where a complete one is read,
 * and rerunning the command finishes the work.
 *
 * - SIGKILL during `attack --table2` (a real kill once the first rows are saved): results.csv parses and
 *   holds whole jobs only; the rerun appends its rows after them.
 * - A crash in the middle of writing results.csv or a report file, made deterministic by
 *   helpers/crash-on-write.mjs (half the bytes written, then SIGKILL): the file on disk is the old one or
 *   the new one, never the half — the test that fails if a writer stops using temp file + rename.
 * - SIGINT (Ctrl-C, sent to the whole process group as a terminal does) during `train --workers 2`: ensdef
 *   keeps Node's default (exit at once); every file is written atomically, finished members are saved,
 *   the manifest still says 'running', and the same command finishes the run.
 * SIGKILL during training is tested in ensembles.test.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, test } from 'node:test';
import { appendResults, readResults, resultsPath, type ResultRow } from '../../src/eval/results.ts';
import { readManifest } from '../../src/run/manifest.ts';
import { memberDir } from '../../src/run/run-dir.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { CRASH_ON_WRITE, ensdef, finished, snapshotTree, startEnsdef, trainTinyRun, writeRunManifest } from '../helpers/reliability.ts';
import { resultRow, type RowFields } from '../helpers/results.ts';

const home = tempDir('interrupt');
const pristine = join(home, 'pristine');

/** --table2's jobs in order, as `attack grad scored_on` of the rows each one appends. */
const TABLE2_JOBS = [
  ['none  single', 'none  ensemble'],
  ['fgsm 1 single', 'fgsm 1 ensemble'],
  ['fgsm 2 ensemble'],
  ['fgsm 3 ensemble'],
  ['bim 1 single', 'bim 1 ensemble'],
  ['bim 2 ensemble'],
  ['bim 3 ensemble'],
];
const key = (r: ResultRow) => `${r.attack} ${r.grad} ${r.scored_on}`;

/** Asserts the rows are exactly the first k whole jobs of --table2, k < all; returns k. */
function assertWholeJobs(rows: ResultRow[]): number {
  const k = TABLE2_JOBS.findIndex((_, i) => TABLE2_JOBS.slice(0, i + 1).flat().length === rows.length) + 1;
  assert.ok(k > 0 && k < TABLE2_JOBS.length, `${rows.length} rows are not the rows of some, but not all, whole jobs`);
  assert.deepEqual(rows.map(key), TABLE2_JOBS.slice(0, k).flat());
  return k;
}

/** Hidden temp files left beside their targets (`.NAME.PID.tmp`) anywhere under dir. */
function tempFiles(dir: string): string[] {
  return Object.keys(snapshotTree(dir)).filter((path) => /(^|\/)\.[^/]+\.\d+\.tmp$/.test(path));
}

function copyRun(label: string): { runs: string; run: string } {
  const runs = join(home, label);
  cpSync(pristine, runs, { recursive: true });
  return { runs, run: join(runs, 'run') };
}

before(async () => {
  await trainTinyRun(pristine, 'run');
});

describe('SIGKILL during attack', () => {
  test('killed after the first rows are saved: results.csv holds whole jobs; the rerun measures only the rest', async () => {
    const { runs, run } = copyRun('attack-kill');
    const args = ['attack', '--run', 'run', '--table2', '--test-limit', '200', '--runs-dir', runs];
    const child = startEnsdef(args);
    const exit = finished(child);
    const results = resultsPath(run);
    while (!existsSync(results) && child.exitCode === null) await sleep(5);
    child.kill('SIGKILL');
    const killed = await exit;
    assert.equal(killed.signal, 'SIGKILL', `the attack ended before it could be killed: ${killed.stderr}`);
    const saved = readResults(results);
    const k = assertWholeJobs(saved);

    const rerun = await ensdef(args);
    assert.equal(rerun.status, 0, rerun.stderr);
    const all = readResults(results);
    assert.deepEqual(all.slice(0, saved.length), saved, "the killed run's rows changed");
    assert.deepEqual(all.slice(saved.length).map(key), TABLE2_JOBS.slice(k).flat());
    assert.equal(rerun.stdout.trim().split('\n').length, TABLE2_JOBS.flat().length, 'the rerun prints the saved rows too');
    assert.deepEqual(tempFiles(runs), [], 'a normal run left temp files');
  });

  test('a crash in the middle of writing results.csv leaves the previous complete file', async () => {
    const { runs, run } = copyRun('attack-crash');
    // The 1st write saves the clean-accuracy job; the 2nd (FGSM Grad. 1) dies half-way through.
    const crashed = await ensdef(['attack', '--run', 'run', '--table2', '--runs-dir', runs], { preload: CRASH_ON_WRITE, env: { CRASH_ON_WRITE: 'results.csv', CRASH_ON_WRITE_COUNT: '2' } });
    assert.equal(crashed.signal, 'SIGKILL', `the crash did not happen: ${crashed.stderr}`);
    const saved = readResults(resultsPath(run));
    assert.equal(assertWholeJobs(saved), 1);
    assert.equal(tempFiles(runs).length, 1, 'the half-written bytes should sit in a temp file beside results.csv');

    const rerun = await ensdef(['attack', '--run', 'run', '--attack', 'fgsm', '--grad', '2', '--runs-dir', runs]);
    assert.equal(rerun.status, 0, rerun.stderr);
    const all = readResults(resultsPath(run));
    assert.deepEqual(all.slice(0, saved.length), saved);
    assert.deepEqual(all.slice(saved.length).map(key), ['fgsm 2 ensemble']);
  });
});

describe('a crash during report', () => {
  test('every report file is the old or the new complete one; the rerun writes the new report', async () => {
    const runs = join(home, 'report-runs');
    const row = (fields: RowFields): ResultRow => resultRow({ accuracy: 0.98, n: 100, ...fields });
    writeRunManifest(join(runs, 'b'), { method: 'bagging' });
    appendResults(resultsPath(join(runs, 'b')), [row({}), row({ attack: 'fgsm', grad: '2', loss: 'logits', eps: 0.3, accuracy: 0.4, zero_grad_fraction: 0 })]);
    const out = join(home, 'report');
    const expected = join(home, 'report-expected');
    const report = (dir: string, crash?: string) =>
      ensdef(['report', '--runs', runs, '--out', dir], crash ? { preload: CRASH_ON_WRITE, env: { CRASH_ON_WRITE: crash } } : {});

    assert.equal((await report(out)).status, 0);
    assert.deepEqual(tempFiles(out), [], 'a normal report left temp files');
    const old = snapshotTree(out);
    appendResults(resultsPath(join(runs, 'b')), [row({ attack: 'fgsm', grad: '3', loss: 'logits', eps: 0.3, accuracy: 0.2, zero_grad_fraction: 0 })]);
    assert.equal((await report(expected)).status, 0);
    const fresh = snapshotTree(expected);

    // report.md is written last: the crash comes after every other file has been replaced.
    const crashed = await report(out, 'report.md');
    assert.equal(crashed.signal, 'SIGKILL', `the crash did not happen: ${crashed.stderr}`);
    const after = snapshotTree(out);
    for (const [file, hash] of Object.entries(after)) {
      if (tempFiles(out).includes(file)) continue;
      assert.ok(hash === old[file] || hash === fresh[file], `${file} is neither the old nor the new file`);
    }
    assert.equal(after['report.md'], old['report.md'], 'report.md should still be the old one');
    assert.equal(after['table2.csv'], fresh['table2.csv'], 'table2.csv should already be the new one');
    assert.notEqual(old['table2.csv'], fresh['table2.csv']);

    assert.equal((await report(out)).status, 0);
    const rebuilt = snapshotTree(out);
    for (const file of tempFiles(out)) delete rebuilt[file];
    assert.deepEqual(rebuilt, fresh);
  });
});

describe('SIGINT (Ctrl-C) during training', () => {
  test('stops ensdef and its workers; finished members stay saved; the same command finishes the run', async () => {
    const runs = join(home, 'sigint');
    const run = join(runs, 'c');
    // Four members on two workers: two rounds (three would all start at once: training/worker-pool.ts).
    const args = ['train', '--method', 'random-init', '--members', '4', '--epochs', '1', '--train-limit', '1024', '--test-limit', '50', '--workers', '2', '--run', 'c', '--runs-dir', runs];
    const records = () => [0, 1, 2, 3].filter((i) => existsSync(join(memberDir(run, i), 'record.json')));
    const child = startEnsdef(args, { detached: true });
    const exit = finished(child);
    while (records().length === 0 && child.exitCode === null) await sleep(10);
    process.kill(-child.pid!, 'SIGINT'); // the whole process group, as a terminal's Ctrl-C
    const interrupted = await exit;
    assert.equal(interrupted.signal, 'SIGINT', `training ended before Ctrl-C: ${interrupted.stderr}`);
    // Every worker is gone as well: signal 0 to the group fails once no member of it is left.
    for (let waited = 0; ; waited += 50) {
      try {
        process.kill(-child.pid!, 0);
      } catch {
        break;
      }
      assert.ok(waited < 10_000, 'a worker outlived Ctrl-C');
      await sleep(50);
    }
    const saved = records();
    assert.ok(saved.length >= 1 && saved.length < 4, `members saved at Ctrl-C: ${saved}`);
    assert.equal(readManifest(run).status, 'running');
    const mtimes = saved.map((i) => statSync(join(memberDir(run, i), 'weights.bin')).mtimeMs);

    const rerun = await ensdef(args);
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.match(rerun.stderr, new RegExp(`${saved.length} members already trained`));
    assert.deepEqual(
      saved.map((i) => statSync(join(memberDir(run, i), 'weights.bin')).mtimeMs),
      mtimes,
      'a member finished before Ctrl-C was trained again',
    );
    const manifest = readManifest(run);
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.members.length, 4);
  });
});
