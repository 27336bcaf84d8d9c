/**
 * The CIFAR-10 path end to end through the CLI, on full-size binary batches this test writes itself
 * (random pixels, labels cycling 0-9): no CIFAR-10 copy can be downloaded here, so this is what keeps
 * the Table 3 network, its data loader and the dataset defaults exercised together.
 */
import assert from 'node:assert/strict';
import { datasetDescriptor } from '../../src/datasets/registry.ts';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { CIFAR_RECORD_BYTES, CIFAR_RECORDS_PER_BATCH, CIFAR_TEST_BATCH, CIFAR_TRAIN_BATCHES } from '../../src/data/cifar10.ts';
import { readResults, resultsPath } from '../../src/eval/results.ts';
import { ensdef } from '../helpers/reliability.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { Rng } from '../../src/run/rng.ts';

function writeBatch(path: string, seed: number): void {
  const rng = new Rng(seed);
  const bytes = new Uint8Array(CIFAR_RECORDS_PER_BATCH * CIFAR_RECORD_BYTES);
  for (let r = 0; r < CIFAR_RECORDS_PER_BATCH; r++) {
    const base = r * CIFAR_RECORD_BYTES;
    bytes[base] = r % 10;
    for (let p = 1; p < CIFAR_RECORD_BYTES; p++) bytes[base + p] = rng.nextUint32() & 0xff;
  }
  writeFileSync(path, bytes);
}

describe('cifar10 through the CLI', () => {
  const root = tempDir('ensdef-cifar-');
  const dataDir = join(root, 'cifar-10-batches-bin');
  const runs = join(root, 'runs');

  before(() => {
    mkdirSync(dataDir);
    [...CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH].forEach((name, i) => writeBatch(join(dataDir, name), i));
  });

  it('trains a 2-member ensemble on the Table 3 network and attacks it with the CIFAR-10 ε, α, n', async () => {
    const train = await ensdef(['--runs-dir', runs, 'train', '--dataset', 'cifar10', '--data-dir', root, '--method', 'gaussian-noise', '--members', '2', '--epochs', '1', '--train-limit', '64', '--test-limit', '20', '--workers', '1', '--run', 'c'], { timeoutMs: 300_000 });
    assert.equal(train.status, 0, train.stderr);
    const manifest = JSON.parse(readFileSync(join(runs, 'c', 'manifest.json'), 'utf8'));
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.config.epochs, 1);
    assert.equal(manifest.config.noiseSigma, datasetDescriptor('cifar10').training.noiseSigma, "CIFAR-10's calibrated σ, not MNIST's");
    assert.notEqual(manifest.config.noiseSigma, datasetDescriptor('mnist').training.noiseSigma);
    // Hand-written batches: recorded file by file, unverified, named by their directory.
    assert.equal(manifest.data.verified, false);
    assert.ok(manifest.data.label.includes(root), manifest.data.label);
    assert.deepEqual(manifest.data.files.map((f: { name: string }) => f.name), ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']);
    assert.deepEqual(manifest.members.map((m: { model: string }) => m.model), ['cifar10-base', 'cifar10-base']);
    assert.equal(manifest.evaluation.testCount, 20);

    const attack = await ensdef(['--runs-dir', runs, 'attack', '--run', 'c', '--table2'], { timeoutMs: 300_000 });
    assert.equal(attack.status, 0, attack.stderr);
    const rows = readResults(resultsPath(join(runs, 'c')));
    // Random labels on random pixels, so accuracy is near chance; but the attack's clean rows must score the
    // same 20 images as train's evaluation did, member and ensemble alike.
    const clean = (scoredOn: string) => rows.find((r) => r.attack === 'none' && r.scored_on === scoredOn)!.accuracy;
    assert.equal(clean('single'), manifest.evaluation.memberAccuracy[0]);
    assert.equal(clean('ensemble'), manifest.evaluation.ensembleAccuracy);
    const fgsm = rows.filter((r) => r.attack === 'fgsm');
    const bim = rows.filter((r) => r.attack === 'bim');
    assert.ok(fgsm.length > 0 && fgsm.every((r) => r.params.eps === 0.03 && r.n === 20 && r.dataset === 'cifar10' && r.table === 'paper'));
    assert.ok(bim.length > 0 && bim.every((r) => r.params.eps === 0.02 && r.params.alpha === 0.0025 && r.params.steps === 8 && r.table === 'paper'));
  });
});

