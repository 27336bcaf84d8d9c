import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../src/backend/select.ts';
import type { TrainConfig } from '../../src/config/train-config.ts';
import { trainConfig } from '../../src/training/methods.ts';
import { loadDataset } from '../../src/datasets/registry.ts';
import { adversarialTrainingLoss, fgsmPerturbation } from '../../src/defenses/adversarial-training.ts';
import { softLabels, TEACHER_DIR, temperatureLoss } from '../../src/defenses/distillation.ts';
import { pgdPerturbation, pgdTrainingLoss, rampedSchedule } from '../../src/defenses/pgd-adversarial-training.ts';
import { randomStart } from '../../src/attacks/iterative.ts';
import { bootstrapIndices } from '../../src/ensembles/bagging.ts';
import { Ensemble } from '../../src/ensembles/ensemble.ts';
import { methodDefinition, methodParams } from '../../src/training/methods.ts';
import { loadCheckpoint, readCheckpointMeta } from '../../src/models/checkpoint.ts';
import { buildModel } from '../../src/datasets/registry.ts';
import { readManifest } from '../../src/run/manifest.ts';
import { deriveSeed } from '../../src/run/rng.ts';
import { memberDir } from '../../src/run/run-dir.ts';
import { trainStep } from '../../src/models/train-member.ts';

const ENSDEF = join(import.meta.dirname, '..', '..', 'bin', 'ensdef.js');

// ---- plain-JS reference for a Flatten + Dense(3) model on 2×2×1 images ----
type Matrix = number[][];
const W0: Matrix = [
  [0.5, -1.0, 0.25],
  [-0.75, 0.5, 1.0],
  [1.25, 0.25, -0.5],
  [-0.25, -1.5, 0.75],
];
const B0 = [0.1, -0.2, 0.05];
// Pixels near 0 and 1 so that ε = 0.3 pushes some of them out of [0, 1] and clipping matters.
const X: Matrix = [
  [0.9, 0.1, 0.5, 0.95],
  [0.2, 0.85, 0.05, 0.4],
];
const Y: Matrix = [
  [0, 0, 1],
  [1, 0, 0],
];

const softmax = (z: number[]) => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const logitsOf = (w: Matrix, b: number[], x: number[]) => b.map((bc, c) => bc + x.reduce((s, xi, i) => s + xi * w[i][c], 0));
/** Mean over the batch of −Σ_c t_c log softmax(z / T)_c. */
const meanCE = (w: Matrix, b: number[], xs: Matrix, ts: Matrix, temperature = 1) =>
  xs.reduce((s, x, n) => s - softmax(logitsOf(w, b, x).map((z) => z / temperature)).reduce((a, p, c) => a + ts[n][c] * Math.log(p), 0), 0) / xs.length;
/** ∂(mean CE)/∂logits of example n: (p − t) / B. */
const dLogits = (w: Matrix, b: number[], xs: Matrix, ts: Matrix) => xs.map((x, n) => softmax(logitsOf(w, b, x)).map((p, c) => (p - ts[n][c]) / xs.length));
const fgsmByHand = (w: Matrix, b: number[], xs: Matrix, ts: Matrix, eps: number) =>
  dLogits(w, b, xs, ts).map((g, n) => xs[n].map((xi, i) => Math.min(1, Math.max(0, xi + eps * Math.sign(g.reduce((s, gc, c) => s + gc * w[i][c], 0))))));
/** Gradient of ρ·J(x) + (1 − ρ)·J(x_adv) with respect to (W, b), x_adv held constant. */
const atWeightGradient = (w: Matrix, b: number[], xs: Matrix, ts: Matrix, rho: number, eps: number) => {
  const xAdv = fgsmByHand(w, b, xs, ts, eps);
  const dW = w.map((row) => row.map(() => 0));
  const db = b.map(() => 0);
  for (const [weight, inputs] of [
    [rho, xs],
    [1 - rho, xAdv],
  ] as const) {
    dLogits(w, b, inputs, ts).forEach((g, n) =>
      g.forEach((gc, c) => {
        db[c] += weight * gc;
        inputs[n].forEach((xi, i) => (dW[i][c] += weight * xi * gc));
      }),
    );
  }
  return { dW, db };
};

/**
 * PGD by hand from a given start: n times x ← clip_[0,1](clip_{x0±ε}(x + α·sign(∇x J))), ∇x J of example n
 * being W·(p − y) (the batch mean's 1/B does not change the sign).
 */
const pgdByHand = (w: Matrix, b: number[], x0: Matrix, ts: Matrix, eps: number, alpha: number, steps: number, start: Matrix) => {
  let xs = start;
  for (let step = 0; step < steps; step++) {
    const g = dLogits(w, b, xs, ts);
    xs = xs.map((x, n) => x.map((xi, i) => {
      const moved = xi + alpha * Math.sign(g[n].reduce((s, gc, c) => s + gc * w[i][c], 0));
      return Math.min(1, Math.max(0, Math.min(x0[n][i] + eps, Math.max(x0[n][i] - eps, moved))));
    }));
  }
  return xs;
};
/** Gradient of the mean CE at x_adv with respect to (W, b), x_adv held constant. */
const ceWeightGradient = (w: Matrix, b: number[], xs: Matrix, ts: Matrix) => {
  const dW = w.map((row) => row.map(() => 0));
  const db = b.map(() => 0);
  dLogits(w, b, xs, ts).forEach((g, n) => g.forEach((gc, c) => ((db[c] += gc), xs[n].forEach((xi, i) => (dW[i][c] += xi * gc)))));
  return { dW, db };
};

/** Flatten → (Dropout) → Dense(3) with fixed weights; dropout is the identity in inference mode. */
function tinyModel(w: Matrix = W0, b: number[] = B0, dropoutRate = 0): tf.Sequential {
  const dropout = dropoutRate > 0 ? [tf.layers.dropout({ rate: dropoutRate })] : [];
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2, 1] }), ...dropout, tf.layers.dense({ units: 3 })] });
  model.setWeights([tf.tensor2d(w), tf.tensor1d(b)]);
  return model;
}
const batch = (xs: Matrix) => tf.tensor4d(xs.flat(), [xs.length, 2, 2, 1]);
const close = (actual: ArrayLike<number>, expected: number[], tol: number, what: string) => {
  assert.equal(actual.length, expected.length, what);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) <= tol, `${what}[${i}]: ${actual[i]} vs ${e}`));
};

function tinyConfig(overrides: Partial<TrainConfig>): TrainConfig {
  return trainConfig({
    dataset: 'mnist',
    method: 'distillation',
    members: 1,
    epochs: 1,
    seed: 3,
    trainLimit: 64,
    testLimit: 50,
    ...overrides,
  });
}

function ensdef(args: string[]): { stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [ENSDEF, '--backend', 'wasm', ...args], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return { stdout: result.stdout, stderr: result.stderr };
}

describe('defenses', () => {
  const roots: string[] = [];
  const tempRoot = () => {
    const root = mkdtempSync(join(tmpdir(), 'ensdef-def-'));
    roots.push(root);
    return root;
  };
  before(async () => {
    await initBackend('wasm');
  });
  after(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

  it('fgsmPerturbation is x + ε·sign(∇x J) clipped to [0, 1], from the inference-mode forward (hand-computed)', () => {
    // With dropout in the model, a training-mode gradient would come from a random sub-network and differ.
    const model = tinyModel(W0, B0, 0.5);
    const [x, y] = [batch(X), tf.tensor2d(Y)];
    const xAdv = fgsmPerturbation(model, x, y, 0.3);
    const expected = fgsmByHand(W0, B0, X, Y, 0.3);
    close(xAdv.dataSync(), expected.flat(), 1e-6, 'x_fgsm');
    assert.ok(expected.flat().some((v) => v === 0) && expected.flat().some((v) => v === 1), 'the hand case exercises clipping');
    tf.dispose([x, y, xAdv]);
    model.dispose();
  });

  it('J_AT = ρ·J(x) + (1 − ρ)·J(x_fgsm), for several ρ (hand-computed)', () => {
    const model = tinyModel();
    const [x, y] = [batch(X), tf.tensor2d(Y)];
    const xFgsm = fgsmByHand(W0, B0, X, Y, 0.3);
    for (const rho of [0.5, 0.2, 1]) {
      const expected = rho * meanCE(W0, B0, X, Y) + (1 - rho) * meanCE(W0, B0, xFgsm, Y);
      const loss = adversarialTrainingLoss(rho, 0.3)(model, x, y, 0);
      close(loss.dataSync(), [expected], 1e-5, `J_AT at ρ=${rho}`);
      loss.dispose();
    }
    tf.dispose([x, y]);
    model.dispose();
  });

  it('inside optimizer.minimize: x_adv is a constant recomputed from the current weights at every step', () => {
    const rho = 0.5;
    const eps = 0.3;
    const lr = 0.5;
    const model = tinyModel();
    const optimizer = tf.train.sgd(lr);
    const [x, y] = [batch(X), tf.tensor2d(Y)];
    const before = tf.memory().numTensors;
    let w = W0;
    let b = B0;
    for (let step = 0; step < 2; step++) {
      const loss = trainStep(model, optimizer, x, y, adversarialTrainingLoss(rho, eps));
      const xFgsm = fgsmByHand(w, b, X, Y, eps);
      close([loss], [rho * meanCE(w, b, X, Y) + (1 - rho) * meanCE(w, b, xFgsm, Y)], 1e-5, `loss at step ${step}`);
      const { dW, db } = atWeightGradient(w, b, X, Y, rho, eps);
      w = w.map((row, i) => row.map((v, c) => v - lr * dW[i][c]));
      b = b.map((v, c) => v - lr * db[c]);
      const [kernel, bias] = model.getWeights();
      close(kernel.dataSync(), w.flat(), 1e-5, `kernel after step ${step}`);
      close(bias.dataSync(), b, 1e-5, `bias after step ${step}`);
    }
    assert.equal(tf.memory().numTensors, before, 'no tensors leaked by the adversarial steps');
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  });

  it('pgdPerturbation is PGD from the seeded random start, inference-mode gradient, in the ε-ball and [0, 1] (hand-computed)', () => {
    const model = tinyModel(W0, B0, 0.5);
    const [x, y] = [batch(X), tf.tensor2d(Y)];
    const schedule = { eps: 0.3, alpha: 0.1, steps: 4 };
    const start = randomStart(x, schedule.eps, 11);
    const startRows = [0, 1].map((n) => Array.from(start.dataSync().slice(4 * n, 4 * n + 4)));
    const xPgd = pgdPerturbation(model, x, y, schedule, 11);
    const expected = pgdByHand(W0, B0, X, Y, schedule.eps, schedule.alpha, schedule.steps, startRows);
    close(xPgd.dataSync(), expected.flat(), 1e-6, 'x_pgd');
    assert.notDeepEqual(expected, pgdByHand(W0, B0, X, Y, schedule.eps, schedule.alpha, schedule.steps, X), 'the random start matters');
    assert.ok(expected.flat().some((v) => v === 0 || v === 1), 'the hand case exercises clipping to [0, 1]');
    tf.dispose([x, y, start, xPgd]);
    model.dispose();
  });

  for (const rampSteps of [0, 4]) {
    it(`PGD training${rampSteps ? ', ε and α ramped over 4 steps,' : ''}: each optimiser step minimises J at the PGD example of the current weights, its random start drawn from the step`, () => {
      const schedule = { eps: 0.3, alpha: 0.1, steps: 3 };
      // The ramp by hand: step s trains at share min(1, (s + 1) / 4) of ε and α.
      const share = (step: number) => (rampSteps ? Math.min(1, (step + 1) / rampSteps) : 1);
      const seed = 21;
      const lr = 0.5;
      const model = tinyModel();
      const optimizer = tf.train.sgd(lr);
      const [x, y] = [batch(X), tf.tensor2d(Y)];
      const loss = pgdTrainingLoss(rampedSchedule(schedule, rampSteps), seed);
      const before = tf.memory().numTensors;
      let w = W0;
      let b = B0;
      for (const step of [0, 1, 7]) {
        const [eps, alpha] = [schedule.eps * share(step), schedule.alpha * share(step)];
        const value = trainStep(model, optimizer, x, y, loss, step);
        const start = randomStart(x, eps, deriveSeed(seed, step));
        const startRows = [0, 1].map((n) => Array.from(start.dataSync().slice(4 * n, 4 * n + 4)));
        start.dispose();
        const xPgd = pgdByHand(w, b, X, Y, eps, alpha, schedule.steps, startRows);
        close([value], [meanCE(w, b, xPgd, Y)], 1e-5, `loss at step ${step}`);
        const { dW, db } = ceWeightGradient(w, b, xPgd, Y);
        w = w.map((row, i) => row.map((v, c) => v - lr * dW[i][c]));
        b = b.map((v, c) => v - lr * db[c]);
        const [kernel, bias] = model.getWeights();
        close(kernel.dataSync(), w.flat(), 1e-5, `kernel after step ${step}`);
        close(bias.dataSync(), b, 1e-5, `bias after step ${step}`);
      }
      assert.equal(tf.memory().numTensors, before, 'no tensors leaked by the PGD steps');
      tf.dispose([x, y]);
      model.dispose();
      optimizer.dispose();
    });
  }

  it('temperature loss is CE(targets, softmax(logits / T)) (hand-computed, soft targets)', () => {
    const model = tinyModel();
    const soft: Matrix = [
      [0.2, 0.3, 0.5],
      [0.7, 0.1, 0.2],
    ];
    const [x, t] = [batch(X), tf.tensor2d(soft)];
    for (const temperature of [1, 10]) {
      const loss = temperatureLoss(temperature)(model, x, t, 0);
      close(loss.dataSync(), [meanCE(W0, B0, X, soft, temperature)], 1e-6, `loss at T=${temperature}`);
      loss.dispose();
    }
    tf.dispose([x, t]);
    model.dispose();
  });

  it('soft labels are softmax(logits / T), sum to 1, and are batched correctly', () => {
    // 7 images in batches of 3: the last batch is partial.
    const images: Matrix = Array.from({ length: 7 }, (_, n) => [0, 1, 2, 3].map((i) => ((n * 5 + i * 3) % 11) / 10));
    const split = { images: Float32Array.from(images.flat()), labels: new Uint8Array(7), count: 7 };
    const model = tinyModel(W0.map((row) => row.map((v) => 8 * v))); // large logits, like a distilled net's
    const temperature = 10;
    const labels = softLabels(model, split, [2, 2, 1], temperature, 3);
    const scaledW = W0.map((row) => row.map((v) => 8 * v));
    const expected = images.flatMap((x) => softmax(logitsOf(scaledW, B0, x).map((z) => z / temperature)));
    close(labels, expected, 1e-6, 'soft labels');
    for (let n = 0; n < 7; n++) close([labels.subarray(n * 3, n * 3 + 3).reduce((a, v) => a + v, 0)], [1], 1e-6, `row ${n} sum`);
    const atOne = images.flatMap((x) => softmax(logitsOf(scaledW, B0, x)));
    assert.ok(atOne.some((p, i) => Math.abs(p - labels[i]) > 0.05), 'T really softens the labels');
    model.dispose();
  });

  it('bagging+distillation plans: teacher saved, trained and labelling on the member bootstrap replicate', async () => {
    const dir = join(tempRoot(), 'member');
    const config = tinyConfig({ method: 'bagging+distillation' });
    const dataset = loadDataset(config);
    const seed = deriveSeed(config.seed, 0);
    const phases = new Set<string>();
    const plan = await methodDefinition('bagging+distillation').plan({ config, params: methodParams(config), dataset, index: 0, seed, dir, onBatch: (_, phase) => phases.add(phase) });
    assert.deepEqual([...phases], ['teacher']);
    assert.deepEqual(plan.indices, bootstrapIndices(seed, dataset.train.count));
    assert.equal(plan.facts.uniqueFraction, new Set(plan.indices).size / dataset.train.count);
    assert.equal(plan.facts.temperature, 10);
    const teacher = await loadCheckpoint(join(dir, TEACHER_DIR));
    assert.equal(readCheckpointMeta(join(dir, TEACHER_DIR)).role, 'teacher');
    // The soft targets are the saved teacher's softmax at T on the training split.
    close(plan.softTargets!, Array.from(softLabels(teacher, dataset.train, dataset.imageShape, 10)), 1e-5, 'soft targets');
    teacher.dispose();
  });

  it('train --method distillation: teacher and student saved, manifest complete, student evaluated at T = 1', async () => {
    const root = tempRoot();
    const { stdout } = ensdef(['train', '--method', 'distillation', '--members', '1', '--epochs', '1', '--train-limit', '256', '--test-limit', '100', '--runs-dir', root, '--run', 'd']);
    const dir = join(root, 'd');
    const manifest = readManifest(dir);
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.config.temperature, 10);
    assert.equal(manifest.members.length, 1);
    const [record] = manifest.members;
    assert.equal(record.facts.temperature, 10);
    assert.equal(typeof record.facts.teacherTestAccuracy, 'number');
    const studentDir = memberDir(dir, 0);
    assert.ok(existsSync(join(studentDir, TEACHER_DIR, 'weights.bin')) && existsSync(join(studentDir, 'weights.bin')));
    assert.equal(readCheckpointMeta(studentDir).temperature, 10);

    const student = await loadCheckpoint(studentDir);
    const teacher = await loadCheckpoint(join(studentDir, TEACHER_DIR));
    const base = buildModel('mnist-base', 0);
    const layerKinds = (m: tf.LayersModel) => m.layers.map((l) => l.getClassName());
    assert.deepEqual(layerKinds(student), layerKinds(base), 'the student has no temperature layer: T is only in the loss');
    base.dispose();

    const test = loadDataset({ dataset: 'mnist', testLimit: 100 }).test;
    const x = tf.tensor4d(test.images, [100, 28, 28, 1]);
    const logits = student.predict(x) as tf.Tensor2D;
    const rows = (await logits.array()) as number[][];
    const argmax = (r: number[]) => r.indexOf(Math.max(...r));
    const accuracy = rows.filter((r, n) => argmax(r) === test.labels[n]).length / 100;
    assert.equal(record.testAccuracy, accuracy);
    assert.equal(manifest.evaluation!.memberAccuracy[0], accuracy);
    assert.match(stdout, new RegExp(`test accuracy ${accuracy.toFixed(4)}`));

    // What the ensemble (and so every attack) predicts with: softmax of the raw logits, i.e. T = 1.
    const ensemble = new Ensemble([student]);
    const probabilities = ensemble.probabilities(x);
    close(probabilities.dataSync(), rows.flatMap((r) => softmax(r)), 1e-5, 'probabilities at T = 1');
    const atT = rows.flatMap((r) => softmax(r.map((z) => z / 10)));
    assert.ok(Array.from(probabilities.dataSync()).some((p, i) => Math.abs(p - atT[i]) > 0.01), 'probabilities are not taken at T');
    tf.dispose([x, logits, probabilities]);
    ensemble.dispose();
    teacher.dispose();
  });

  it('train --method bagging+adversarial-training --members 2: bootstrap per member, both saved, manifest complete', async () => {
    const root = tempRoot();
    const { stdout } = ensdef([
      'train', '--method', 'bagging+adversarial-training', '--members', '2', '--workers', '1', '--epochs', '1',
      '--train-limit', '256', '--test-limit', '100', '--runs-dir', root, '--run', 'b', '--seed', '4',
    ]);
    const dir = join(root, 'b');
    const manifest = readManifest(dir);
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.members.length, 2);
    for (const record of manifest.members) {
      const unique = new Set(bootstrapIndices(deriveSeed(4, record.index), 256)).size / 256;
      assert.equal(record.facts.uniqueFraction, unique);
      assert.ok(unique > 0.55 && unique < 0.72, `unique fraction ${unique}`);
      assert.equal(record.facts.rho, 0.5);
      assert.equal(record.facts.atEps, 0.3);
      assert.ok(existsSync(join(memberDir(dir, record.index), 'weights.bin')));
    }
    assert.match(stdout, /ensemble test accuracy 0\.\d{4}/);
    const ensemble = await Ensemble.load(dir);
    assert.equal(ensemble.size, 2);
    ensemble.dispose();
  });
});
