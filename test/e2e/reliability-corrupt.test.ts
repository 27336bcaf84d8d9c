/**
 * Corrupt inputs met through the command line: a half-written or garbage checkpoint, a malformed
 * results.csv or manifest.json, a truncated IDX file in --data-dir. Each must stop the command with one
 * line that names the broken file, exit non-zero, no stack trace, and nothing skipped or written.
 * (The readers' own checks are unit-tested in models.test, attacks-results.test and data.test; this file
 * checks that every command that reads these files goes through them and says so on one line.)
 *
 * One tiny real run is trained once; each case breaks its own copy.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { encodeIdx } from '../../src/data/idx.ts';
import { MNIST_FILES } from '../../src/data/mnist.ts';
import { appendResults, resultsPath } from '../../src/eval/results.ts';
import { memberDir } from '../../src/run/run-dir.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { assertOneLineFailure, ensdef, snapshotTree, trainTinyRun, writeRunManifest } from '../helpers/reliability.ts';
import { resultRow } from '../helpers/results.ts';

const home = tempDir('corrupt');
const pristine = join(home, 'pristine');

/** A fresh runs directory holding a copy of the tiny run as `run` (the most recent run). */
function copyRun(label: string): { runs: string; run: string } {
  const runs = join(home, label);
  cpSync(pristine, runs, { recursive: true });
  return { runs, run: join(runs, 'run') };
}

const evalRun = (runs: string) => ensdef(['eval', '--run', 'run', '--runs-dir', runs]);
const attackRun = (runs: string) => ensdef(['attack', '--run', 'run', '--attack', 'fgsm', '--grad', '2', '--runs-dir', runs]);
const report = (runs: string) => ensdef(['report', '--runs', runs, '--out', `${runs}-report`]);

/** A well-formed results.csv with one clean-accuracy row, written by ensdef's own writer. */
function writeGoodResults(runDirectory: string): string {
  const path = resultsPath(runDirectory);
  appendResults(path, [
    resultRow({ method: 'random-init', accuracy: 0.5, n: 50, seconds: 0.1 }),
  ]);
  return path;
}

before(async () => {
  await trainTinyRun(pristine, 'run');
});

describe('a corrupt checkpoint: eval and attack name the file, attack writes no results', { concurrency: 2 }, () => {
  const cases: [string, string, (member: string) => void][] = [
    ['weights.bin cut short (a half-written copy)', 'member-01/weights.bin', (m) => truncateSync(join(m, 'weights.bin'), 1000)],
    ['model.json cut off mid-way', 'member-01/model.json', (m) => writeFileSync(join(m, 'model.json'), readFileSync(join(m, 'model.json'), 'utf8').slice(0, 200))],
    ['model.json replaced by garbage', 'member-01/model.json', (m) => writeFileSync(join(m, 'model.json'), '\u0000\u0017garbage')],
    [
      'model.json without its weights hash',
      'member-01/model.json',
      (m) => {
        const json = JSON.parse(readFileSync(join(m, 'model.json'), 'utf8'));
        delete json.weightsSha256;
        writeFileSync(join(m, 'model.json'), JSON.stringify(json));
      },
    ],
    [
      'model.json whose topology tfjs cannot build',
      'member-01/model.json',
      (m) => {
        const json = JSON.parse(readFileSync(join(m, 'model.json'), 'utf8'));
        json.modelTopology = { class_name: 'NoSuchModel', config: {} };
        writeFileSync(join(m, 'model.json'), JSON.stringify(json));
      },
    ],
  ];
  cases.forEach(([what, file, breakIt], i) => {
    test(what, async () => {
      const { runs, run } = copyRun(`checkpoint-${i}`);
      breakIt(memberDir(run, 1));
      const before = snapshotTree(runs);
      assertOneLineFailure(await evalRun(runs), 'non-zero', file);
      assertOneLineFailure(await attackRun(runs), 'non-zero', file);
      assert.deepEqual(snapshotTree(runs), before, 'a command wrote into the run (results.csv?)');
    });
  });
});

describe('a malformed results.csv or manifest.json', { concurrency: 2 }, () => {
  test('a results.csv whose last row was cut off: report and attack name it; attack stops before any attack runs', async () => {
    const { runs, run } = copyRun('results');
    const path = writeGoodResults(run);
    writeFileSync(path, readFileSync(path, 'utf8').slice(0, -12));
    const broken = readFileSync(path, 'utf8');
    assertOneLineFailure(await report(runs), 'non-zero', path);
    const attack = await attackRun(runs);
    assertOneLineFailure(attack, 'non-zero', path);
    assert.doesNotMatch(attack.stderr, /attacking run/, 'the attack ran before the malformed file was noticed');
    assert.equal(readFileSync(path, 'utf8'), broken, 'the malformed file was changed');
  });

  test('a manifest.json cut off mid-way: eval, attack and report name it', async () => {
    const { runs, run } = copyRun('manifest');
    const path = join(run, 'manifest.json');
    writeFileSync(path, readFileSync(path, 'utf8').slice(0, 300));
    // report must not skip the broken run even when another run has results to show
    writeRunManifest(join(runs, 'other'));
    writeGoodResults(join(runs, 'other'));
    const before = snapshotTree(runs);
    for (const command of [evalRun, attackRun, report]) assertOneLineFailure(await command(runs), 'non-zero', path);
    assert.deepEqual(snapshotTree(runs), before);
  });

  test('a manifest.json of something else: attack names it', async () => {
    const { runs, run } = copyRun('foreign-manifest');
    writeFileSync(join(run, 'manifest.json'), '{"name": "some other tool"}\n');
    assertOneLineFailure(await attackRun(runs), 'non-zero', join(run, 'manifest.json'), 'not an ensdef manifest');
  });

  test("results.csv without its run's manifest: report refuses instead of leaving the run out", async () => {
    const runs = join(home, 'orphan');
    writeRunManifest(join(runs, 'kept'));
    writeGoodResults(join(runs, 'kept'));
    writeGoodResults(join(runs, 'orphan'));
    assertOneLineFailure(await report(runs), 'non-zero', join(runs, 'orphan', 'manifest.json'));
  });

  test("a member's record.json cut off: rerunning train names it and trains nothing", async () => {
    const { runs, run } = copyRun('record');
    const path = join(memberDir(run, 0), 'record.json');
    writeFileSync(path, readFileSync(path, 'utf8').slice(0, 40));
    const before = snapshotTree(runs);
    const rerun = await ensdef(['train', '--method', 'random-init', '--members', '2', '--epochs', '1', '--train-limit', '256', '--test-limit', '50', '--workers', '1', '--run', 'run', '--runs-dir', runs]);
    assertOneLineFailure(rerun, 'non-zero', path);
    assert.deepEqual(snapshotTree(runs), before, 'train changed the run although it could not read a member record');
  });
});

describe('a truncated IDX file in --data-dir', () => {
  test('train and data info name it; train creates no run directory and no LATEST', async () => {
    const data = join(home, 'idx');
    mkdirSync(data);
    const images = (count: number) => encodeIdx([count, 28, 28], new Uint8Array(count * 784).fill(7));
    writeFileSync(join(data, MNIST_FILES.trainImages), images(20).subarray(0, 16 + 10 * 784 + 100));
    writeFileSync(join(data, MNIST_FILES.trainLabels), encodeIdx([20], new Uint8Array(20).fill(3)));
    writeFileSync(join(data, MNIST_FILES.testImages), images(10));
    writeFileSync(join(data, MNIST_FILES.testLabels), encodeIdx([10], new Uint8Array(10).fill(3)));
    const runs = join(home, 'idx-runs');
    const file = join(data, MNIST_FILES.trainImages);
    assertOneLineFailure(await ensdef(['train', '--data-dir', data, '--epochs', '1', '--runs-dir', runs, '--run', 'idx']), 'non-zero', file);
    assert.ok(!existsSync(runs), 'train created the runs directory although the data is corrupt');
    assertOneLineFailure(await ensdef(['data', 'info', 'mnist', '--data-dir', data]), 'non-zero', file);
    rmSync(data, { recursive: true });
  });
});
