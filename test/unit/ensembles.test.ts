import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { initBackend, type BackendInfo } from '../../src/backend/select.ts';
import type { TrainConfig } from '../../src/config/train-config.ts';
import { methodDefinition, methodParams, trainConfig, trainedIdentity, type TrainChoices } from '../../src/training/methods.ts';
import { bootstrapIndices, uniqueFraction } from '../../src/ensembles/bagging.ts';
import { Ensemble } from '../../src/ensembles/ensemble.ts';
import { MEMBER_STREAMS } from '../../src/ensembles/method.ts';
import { trainRun } from '../../src/training/train-run.ts';
import { loadDataset } from '../../src/datasets/registry.ts';
import { embeddedMnistDir } from '../../src/data/mnist.ts';
import { UserError } from '../../src/errors.ts';
import { buildModel } from '../../src/datasets/registry.ts';
import { readManifest, writeManifest } from '../../src/run/manifest.ts';
import { deriveSeed } from '../../src/run/rng.ts';
import { memberDir } from '../../src/run/run-dir.ts';

const ENSDEF = join(import.meta.dirname, '..', '..', 'bin', 'ensdef.js');

function tinyConfig(overrides: Partial<TrainChoices> = {}): TrainConfig {
  return trainConfig({
    dataset: 'mnist',
    method: 'bagging',
    members: 2,
    epochs: 1,
    seed: 7,
    trainLimit: 384,
    testLimit: 100,
    ...overrides,
  });
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const quiet = () => {};

describe('ensembles', () => {
  let backend: BackendInfo;
  before(async () => {
    backend = await initBackend('wasm');
  });

  it('bootstrap: same member seed gives the same draw, another member a different one, ~63.2% unique', () => {
    const count = 20000;
    const a = bootstrapIndices(deriveSeed(3, 0), count);
    const again = bootstrapIndices(deriveSeed(3, 0), count);
    const other = bootstrapIndices(deriveSeed(3, 1), count);
    assert.deepEqual(a, again);
    assert.notDeepEqual(a, other);
    assert.ok(a.every((i) => i >= 0 && i < count));
    // unique fraction of a bootstrap of m from m → 1 − (1 − 1/m)^m ≈ 1 − 1/e; SD ≈ sqrt(e^-1 (1 − 2e^-1)/m) ≈ 0.0017
    const expected = 1 - (1 - 1 / count) ** count;
    for (const draw of [a, other]) assert.ok(Math.abs(uniqueFraction(draw, count) - expected) < 0.01, `${uniqueFraction(draw, count)}`);
  });

  it("a run's identity holds the method fields its method reads, and only those", () => {
    const bagging = tinyConfig();
    assert.deepEqual(trainedIdentity({ ...bagging, noiseSigma: 0.3, temperature: 2 }), trainedIdentity(bagging));
    assert.notDeepEqual(trainedIdentity({ ...bagging, epochs: 2 }), trainedIdentity(bagging));
    const noisy = tinyConfig({ method: 'gaussian-noise' });
    assert.notDeepEqual(trainedIdentity({ ...noisy, noiseSigma: 0.3 }), trainedIdentity(noisy));
    assert.deepEqual(trainedIdentity({ ...noisy, rho: 0.9 }), trainedIdentity(noisy));
    const distilled = tinyConfig({ method: 'distillation', members: 1 });
    assert.notDeepEqual(trainedIdentity({ ...distilled, temperature: 2 }), trainedIdentity(distilled));
  });

  it('uniqueFraction counts distinct indices (hand case)', () => {
    assert.equal(uniqueFraction(Int32Array.from([0, 0, 2, 2]), 4), 0.5);
  });

  it('member seeds fix the initial weights: same seed identical, different member different', () => {
    const weightsOf = (seed: number) => {
      const model = buildModel('mnist-base', deriveSeed(seed, MEMBER_STREAMS.init));
      const values = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return values;
    };
    const m0 = weightsOf(deriveSeed(5, 0));
    assert.deepEqual(weightsOf(deriveSeed(5, 0)), m0);
    assert.notDeepEqual(weightsOf(deriveSeed(5, 1)), m0);
  });

  it('mixed-models cycles through the registry variants', async () => {
    const dataset = loadDataset({ dataset: 'mnist', trainLimit: 10, testLimit: 10 });
    const names = [];
    for (let index = 0; index < 4; index++) {
      const plan = await methodDefinition('mixed-models').plan({ config: tinyConfig(), params: {}, dataset, index, seed: index, dir: '', onBatch: quiet });
      names.push(plan.model);
    }
    assert.deepEqual(names, ['mnist-base', 'mnist-wide', 'mnist-deep', 'mnist-base']);
  });

  it('gaussian-noise adds clipped noise with the configured σ', async () => {
    const dataset = loadDataset({ dataset: 'mnist', trainLimit: 10, testLimit: 10 });
    const config = tinyConfig({ method: 'gaussian-noise', noiseSigma: 0.2 });
    const plan = await methodDefinition('gaussian-noise').plan({ config, params: methodParams(config), dataset, index: 0, seed: 1, dir: '', onBatch: quiet });
    const x = tf.fill([64, 28, 28, 1], 0.5) as tf.Tensor4D;
    const noisy = plan.transformBatch!(x, 0);
    const values = Array.from(noisy.dataSync());
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
    assert.ok(values.every((v) => v >= 0 && v <= 1));
    assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(sd - 0.2) < 0.01, `sd ${sd}`); // clipping at 0.5 ± 2.5σ barely changes the SD
    assert.notDeepEqual(Array.from(plan.transformBatch!(x, 1).dataSync()), values);
    tf.dispose([x, noisy]);
  });

  it('ensemble probabilities are the mean of member softmaxes (hand-made 2-member case)', () => {
    const member = (w: number[][]) => {
      const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [1, 2, 1] }), tf.layers.dense({ units: 3, useBias: false })] });
      model.setWeights([tf.tensor2d(w)]);
      return model;
    };
    const ensemble = new Ensemble([member([[1, 0, 0], [0, 2, 0]]), member([[0, 0, 3], [1, 1, 1]])]);
    const x = tf.tensor4d([1, 1], [1, 1, 2, 1]);
    const softmax = (z: number[]) => z.map((v) => Math.exp(v) / z.reduce((s, u) => s + Math.exp(u), 0));
    // logits: member A (1, 2, 0), member B (1, 1, 4)
    const pa = softmax([1, 2, 0]);
    const pb = softmax([1, 1, 4]);
    const expected = pa.map((p, i) => (p + pb[i]) / 2);
    const actual = Array.from(ensemble.probabilities(x).dataSync());
    expected.forEach((e, i) => assert.ok(Math.abs(e - actual[i]) < 1e-6, `${e} vs ${actual[i]}`));
    ensemble.dispose();
    x.dispose();
  });

  it('resumes after an interrupted member without retraining finished ones; refuses a different config', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ensdef-ens-'));
    const config = tinyConfig();
    const options = { config, runsRoot: root, runName: 'r', workers: 1, backend, command: 'test', log: quiet };
    const first = await trainRun(options);
    assert.equal(first.status, 'complete');
    assert.equal(first.members.length, 2);
    for (const m of first.members) assert.ok(Math.abs((m.facts.uniqueFraction as number) - 0.632) < 0.06);
    const dir = join(root, 'r');
    const member0 = join(memberDir(dir, 0), 'weights.bin');
    const member0Hash = sha(member0);
    const member0Mtime = statSync(member0).mtimeMs;
    const member1Hash = sha(join(memberDir(dir, 1), 'weights.bin'));

    // Simulate a crash during member 1: its record is gone and its weights half-written.
    rmSync(join(memberDir(dir, 1), 'record.json'));
    writeFileSync(join(memberDir(dir, 1), 'weights.bin'), 'partial');
    const resumed = await trainRun(options);
    assert.equal(resumed.members.length, 2);
    assert.equal(statSync(member0).mtimeMs, member0Mtime, 'member 0 was not retrained');
    assert.equal(sha(member0), member0Hash);
    assert.equal(sha(join(memberDir(dir, 1), 'weights.bin')), member1Hash, 'retraining member 1 reproduces it exactly');

    await assert.rejects(trainRun({ ...options, config: { ...config, epochs: 2 } }), (e: unknown) => e instanceof UserError && /different config.*epochs 1 → 2/.test(e.message));
    await assert.rejects(trainRun({ ...options, config: { ...config, method: 'random-init' } }), UserError);
    assert.equal(readManifest(dir).config.epochs, 1, 'a refused run leaves the manifest alone');

    // The manifest records the bytes trained on; resuming on other bytes is refused, naming the file.
    const recorded = readManifest(dir).data!;
    // Judged by older checksums (same bytes, another label): a rerun re-derives label and standing.
    writeManifest(dir, { ...readManifest(dir), data: { ...recorded, label: 'an older label', verified: false, check: 'older' } });
    await trainRun(options);
    assert.deepEqual(readManifest(dir).data, recorded);
    assert.equal(recorded.files.find((f) => f.name === 'train-images-idx3-ubyte')?.sha256, sha(join(embeddedMnistDir(), 'train-images-idx3-ubyte')));
    const other = mkdtempSync(join(tmpdir(), 'ensdef-other-mnist-'));
    for (const f of recorded.files) copyFileSync(join(embeddedMnistDir(), f.name), join(other, f.name));
    const labels = readFileSync(join(other, 't10k-labels-idx1-ubyte'));
    labels[labels.length - 1] = (labels[labels.length - 1] + 1) % 10;
    writeFileSync(join(other, 't10k-labels-idx1-ubyte'), labels);
    await assert.rejects(trainRun({ ...options, config: { ...config, dataDir: other } }), (e: unknown) => e instanceof UserError && /other data \(t10k-labels-idx1-ubyte differ/.test(e.message));
    rmSync(other, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  });

  it('a run killed with SIGKILL mid-member finishes on rerun without retraining finished members', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ensdef-kill-'));
    const args = [ENSDEF, 'train', '--method', 'random-init', '--members', '3', '--epochs', '1', '--train-limit', '1024', '--test-limit', '100', '--run', 'k', '--runs-dir', root, '--workers', '1', '--seed', '2'];
    const record0 = join(memberDir(join(root, 'k'), 0), 'record.json');
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (existsSync(record0)) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error('training finished before it could be killed'));
      });
    });
    await new Promise((resolve) => child.on('close', resolve));
    // Finished members are the ones whose record.json was written (the manifest may not list them yet).
    const finishedBefore = [0, 1, 2].filter((i) => existsSync(join(memberDir(join(root, 'k'), i), 'record.json'))).length;
    assert.ok(!existsSync(join(memberDir(join(root, 'k'), 2), 'record.json')), 'killed before the last member finished');
    const weights0 = join(memberDir(join(root, 'k'), 0), 'weights.bin');
    const mtime0 = statSync(weights0).mtimeMs;
    const rerun = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    rerun.stdout.on('data', (d) => (stdout += d));
    rerun.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve) => rerun.on('close', resolve));
    assert.equal(code, 0, stderr);
    assert.match(stderr, /members already trained/);
    assert.match(stdout, /ensemble test accuracy 0\.\d{4}/);
    assert.equal(statSync(weights0).mtimeMs, mtime0);
    const manifest = readManifest(join(root, 'k'));
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.members.length, 3);
    // The rerun trained exactly the members the killed run had not recorded as finished.
    assert.match(stderr, new RegExp(`run k: ${finishedBefore} members already trained, training ${3 - finishedBefore}\n`));
    rmSync(root, { recursive: true, force: true });
  });
});
