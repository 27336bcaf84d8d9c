/**
 * Same seed + same backend → the same run, bit for bit: two independent trainings give identical
 * weights.bin (sha256) and identical results.csv rows (all columns but `seconds`), even when one trains
 * its members in worker processes and the other in-process; another seed gives other weights.
 *
 * gaussian-noise is used because it draws from every seeded stream a member has: initial weights,
 * shuffling, per-batch noise (a seeded tensor op) and dropout masks. PGD adds the attacks' own random
 * starts. What is and is not reproducible across backends is in docs/RELIABILITY.md.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { readResults, resultsPath, type ResultRow } from '../../src/eval/results.ts';
import { readManifest } from '../../src/run/manifest.ts';
import { memberDir } from '../../src/run/run-dir.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { ensdef, sha256File } from '../helpers/reliability.ts';

const home = tempDir('determinism');
// Three members: on two workers they all train at once, sharing the cores (training/worker-pool.ts).
const MEMBERS = 3;

async function train(label: string, seed: number, workers: number): Promise<string> {
  const runs = join(home, label);
  const run = await ensdef(['train', '--method', 'gaussian-noise', '--members', String(MEMBERS), '--epochs', '1', '--train-limit', '256', '--test-limit', '50', '--seed', String(seed), '--workers', String(workers), '--run', 'run', '--runs-dir', runs]);
  assert.equal(run.status, 0, run.stderr);
  return join(runs, 'run');
}

async function attack(runs: string, ...args: string[]): Promise<void> {
  const run = await ensdef(['attack', '--run', 'run', ...args, '--runs-dir', runs]);
  assert.equal(run.status, 0, run.stderr);
}

const weightHashes = (run: string) => Array.from({ length: MEMBERS }, (_, i) => sha256File(join(memberDir(run, i), 'weights.bin')));
const withoutTimings = (rows: ResultRow[]) => rows.map(({ seconds: _seconds, ...measured }) => measured);

describe('determinism', () => {
  let first: string;
  let second: string;
  let otherSeed: string;
  before(async () => {
    [first, second, otherSeed] = await Promise.all([train('first', 3, 1), train('second', 3, 2), train('other-seed', 4, 1)]);
  });

  test('same seed: identical weights, seeds and clean accuracies, in-process or in workers', () => {
    assert.deepEqual(weightHashes(second), weightHashes(first));
    const [a, b] = [readManifest(first), readManifest(second)];
    assert.deepEqual(b.seeds, a.seeds);
    assert.deepEqual(b.evaluation, a.evaluation);
  });

  test('another seed: every member has other weights', () => {
    const [a, c] = [weightHashes(first), weightHashes(otherSeed)];
    a.forEach((hash, i) => assert.notEqual(c[i], hash, `member ${i}`));
  });

  test('same seed: identical results.csv rows (Table 2 row, PGD with random starts), but for timings', async () => {
    for (const run of [first, second]) {
      const runs = join(run, '..');
      await attack(runs, '--table2');
      await attack(runs, '--attack', 'pgd', '--grad', '3', '--steps', '3', '--restarts', '2', '--test-limit', '30', '--seed', '5');
    }
    const [a, b] = [readResults(resultsPath(first)), readResults(resultsPath(second))];
    assert.equal(a.length, 11);
    assert.deepEqual(withoutTimings(b), withoutTimings(a));
  });
});

describe('determinism of PGD adversarial training', () => {
  // Bootstrap replicates, each batch's PGD random start drawn from the member seed and the step.
  const pgdTrain = async (label: string, workers: number) => {
    const runs = join(home, label);
    const run = await ensdef(['train', '--method', 'bagging+pgd-adversarial-training', '--at-steps', '3', '--members', String(MEMBERS), '--epochs', '1', '--train-limit', '256', '--test-limit', '50', '--seed', '3', '--workers', String(workers), '--run', 'run', '--runs-dir', runs]);
    assert.equal(run.status, 0, run.stderr);
    return join(runs, 'run');
  };

  test('same seed: identical weights, in-process or in workers', async () => {
    const [a, b] = await Promise.all([pgdTrain('pgd-first', 1), pgdTrain('pgd-second', 2)]);
    assert.deepEqual(weightHashes(b), weightHashes(a));
    assert.deepEqual(readManifest(b).evaluation, readManifest(a).evaluation);
    assert.deepEqual(readManifest(a).members.map((m) => [m.facts.atEps, m.facts.atAlpha, m.facts.atSteps]), Array(MEMBERS).fill([0.3, 0.01, 3]));
  });
});
