/**
 * Where ensdef writes stays where it should: run names cannot climb out of --runs-dir or name an absolute
 * path (train, eval, attack, --surrogate, and a tampered LATEST), --runs-dir and report --out must be
 * directories, report --out will not write into someone else's directory without --force, and attack
 * only ever appends to results.csv.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { appendResults, readResults, resultsPath } from '../../src/eval/results.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { assertOneLineFailure, ensdef, snapshotTree, trainTinyRun, writeRunManifest } from '../helpers/reliability.ts';
import { resultRow } from '../helpers/results.ts';

const home = tempDir('paths');
const runs = join(home, 'runs');
const outside = join(home, 'outside');

describe('run names cannot leave --runs-dir', { concurrency: 2 }, () => {
  let untouched: Record<string, string>;
  before(() => {
    writeRunManifest(join(runs, 'r'));
    mkdirSync(outside);
    writeRunManifest(join(outside, 'escaped'));
    untouched = snapshotTree(home);
  });

  const TRAIN = ['train', '--epochs', '1', '--train-limit', '10', '--test-limit', '10', '--runs-dir', runs];
  const cases: string[][] = [
    [...TRAIN, '--run', '../outside/escaped'],
    [...TRAIN, '--run', 'a/b'],
    [...TRAIN, '--run', outside],
    [...TRAIN, '--run', '..'],
    [...TRAIN, '--run', '.hidden'],
    ['eval', '--run', '../outside/escaped', '--runs-dir', runs],
    ['eval', '--run', join(outside, 'escaped'), '--runs-dir', runs],
    ['attack', '--run', '../outside/escaped', '--attack', 'fgsm', '--grad', '2', '--runs-dir', runs],
    ['attack', '--run', 'r', '--attack', 'fgsm', '--grad', '2', '--surrogate', '../outside/escaped', '--runs-dir', runs],
    ['attack', '--run', 'r', '--attack', 'fgsm', '--grad', '2', '--surrogate', join(outside, 'escaped'), '--runs-dir', runs],
  ];
  for (const args of cases) {
    test(args.filter((a) => a !== runs && !TRAIN.slice(1).includes(a)).join(' '), async () => {
      const run = await ensdef(args, { cwd: home });
      assertOneLineFailure(run, 2, 'not a valid run name', "no paths, no '..'");
      assert.deepEqual(snapshotTree(home), untouched, 'something was written');
    });
  }
});

test('a LATEST that points outside --runs-dir is refused', async () => {
  const root = join(home, 'tampered');
  mkdirSync(root);
  writeFileSync(join(root, 'LATEST'), '../outside/escaped\n');
  const run = await ensdef(['eval', '--runs-dir', root]);
  assertOneLineFailure(run, 2, "'../outside/escaped' is not a valid run name");
});

test('--runs-dir that is a file is refused before anything is written', async () => {
  const file = join(home, 'a-file');
  writeFileSync(file, 'not a directory');
  const run = await ensdef(['train', '--epochs', '1', '--train-limit', '10', '--test-limit', '10', '--runs-dir', file, '--run', 'x']);
  assertOneLineFailure(run, 2, `--runs-dir ${file} is a file`);
  assert.equal(readFileSync(file, 'utf8'), 'not a directory');
});

describe('report --out', () => {
  const reportRuns = join(home, 'report-runs');
  const report = (out: string, ...extra: string[]) => ensdef(['report', '--runs', reportRuns, '--out', out, ...extra]);
  before(() => {
    writeRunManifest(join(reportRuns, 'r'));
    appendResults(resultsPath(join(reportRuns, 'r')), [
      resultRow({ method: 'random-init', accuracy: 0.9, n: 50, seconds: 1 }),
    ]);
  });

  test('into a directory of other files: refused without --force; with --force their files stay', async () => {
    const thesis = join(home, 'thesis');
    mkdirSync(thesis);
    writeFileSync(join(thesis, 'thesis.tex'), 'precious');
    const before = snapshotTree(thesis);
    assertOneLineFailure(await report(thesis), 1, `--out ${thesis}`, '--force');
    assert.deepEqual(snapshotTree(thesis), before);
    assert.equal((await report(thesis, '--force')).status, 0);
    assert.equal(readFileSync(join(thesis, 'thesis.tex'), 'utf8'), 'precious');
  });

  test("into a directory whose report.md is someone else's: refused without --force", async () => {
    const notes = join(home, 'notes');
    mkdirSync(notes);
    writeFileSync(join(notes, 'report.md'), '# Quarterly report\n');
    assertOneLineFailure(await report(notes), 1, `--out ${notes}`, '--force');
    assert.equal(readFileSync(join(notes, 'report.md'), 'utf8'), '# Quarterly report\n');
  });

  test('into an earlier ensdef report: rewritten without --force', async () => {
    const out = join(home, 'report');
    assert.equal((await report(out)).status, 0);
    const rerun = await report(out);
    assert.equal(rerun.status, 0, rerun.stderr);
  });

  test('onto a file: refused, the file untouched', async () => {
    const file = join(home, 'summary.txt');
    writeFileSync(file, 'mine');
    assertOneLineFailure(await report(file, '--force'), 2, `--out ${file} is a file`);
    assert.equal(readFileSync(file, 'utf8'), 'mine');
  });
});

test('attack appends: the rows already in results.csv are kept byte for byte', async () => {
  const pristine = join(home, 'real');
  await trainTinyRun(pristine, 'run');
  const path = resultsPath(join(pristine, 'run'));
  const attack = () => ensdef(['attack', '--run', 'run', '--attack', 'fgsm', '--grad', '2', '--test-limit', '20', '--force', '--runs-dir', pristine]);
  assert.equal((await attack()).status, 0);
  const first = readFileSync(path, 'utf8');
  assert.equal((await attack()).status, 0);
  const second = readFileSync(path, 'utf8');
  assert.ok(second.startsWith(first), 'the second attack changed the rows of the first');
  assert.equal(readResults(path).length, 2);
});
