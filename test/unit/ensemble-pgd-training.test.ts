/**
 * Ensemble PGD adversarial training on tiny linear members: the ensemble objective −log p̄_y and its
 * gradient with respect to each member's weights (against central differences of a float64 reference),
 * the PGD examples of the ensemble (in the threat model, raising the ensemble's loss), and one joint
 * training step (every member moves along the gradient of the ensemble's loss at x_PGD; nothing leaks).
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { randomStart } from '../../src/attacks/iterative.ts';
import { initBackend } from '../../src/backend/select.ts';
import { ensembleCrossEntropy, ensemblePgdPerturbation, ensemblePgdTrainingLoss } from '../../src/defenses/ensemble-pgd-adversarial-training.ts';
import { deriveSeed, Rng } from '../../src/run/rng.ts';
import { CLASSES, oneHot, randomLinearModel, softmax64, uniform, type LinearModel } from '../helpers/attack-fixtures.ts';

const SHAPE: [number, number, number] = [2, 2, 1];
const D = 4;

before(async () => {
  await initBackend('wasm');
});

/** Float64 −(1/B) Σ_b log((1/n) Σ_i softmax(x_b W_i + b_i)_{y_b}) for members given as (W, b) arrays. */
function ensembleLoss64(members: { W: ArrayLike<number>; b: ArrayLike<number> }[], images: ArrayLike<number>, labels: number[]): number {
  let total = 0;
  labels.forEach((label, n) => {
    const mean =
      members.reduce((sum, { W, b }) => {
        const logits = Array.from({ length: CLASSES }, (_, c) => b[c] + Array.from({ length: D }, (_, d) => images[n * D + d] * W[d * CLASSES + c]).reduce((a, v) => a + v, 0));
        return sum + softmax64(logits)[label];
      }, 0) / members.length;
    total -= Math.log(mean);
  });
  return total / labels.length;
}

/** Central differences of ensembleLoss64 with respect to member i's kernel and bias, in float64. */
function referenceGradient(members: LinearModel[], i: number, images: ArrayLike<number>, labels: number[]): { dW: number[]; db: number[] } {
  const h = 1e-6;
  const params = members.map((m) => ({ W: Float64Array.from(m.W), b: Float64Array.from(m.b) }));
  const along = (array: Float64Array, k: number) => {
    const saved = array[k];
    array[k] = saved + h;
    const up = ensembleLoss64(params, images, labels);
    array[k] = saved - h;
    const down = ensembleLoss64(params, images, labels);
    array[k] = saved;
    return (up - down) / (2 * h);
  };
  return { dW: Array.from(params[i].W, (_, k) => along(params[i].W, k)), db: Array.from(params[i].b, (_, k) => along(params[i].b, k)) };
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let k = 0; k < actual.length; k++) assert.ok(Math.abs(actual[k] - expected[k]) <= tolerance, `${what}[${k}]: ${actual[k]} vs ${expected[k]}`);
}

function fixture(seed: number, members = 3, batch = 5) {
  const rng = new Rng(seed);
  const linear = Array.from({ length: members }, () => randomLinearModel(rng, SHAPE, 1.5));
  const images = uniform(rng, batch * D, 0, 1);
  const labels = Array.from({ length: batch }, (_, n) => n % CLASSES);
  return { linear, models: linear.map((l) => l.model), images, labels };
}

test('the ensemble objective −log p̄_y and its gradient with respect to each member’s weights match a float64 reference', () => {
  const { linear, models, images, labels } = fixture(3);
  const x = tf.tensor4d(images, [labels.length, ...SHAPE]);
  const y = oneHot(labels);
  const objective = () => ensembleCrossEntropy(models.map((m) => m.apply(x) as tf.Tensor2D), y);
  const value = objective();
  close(value.dataSync(), [ensembleLoss64(linear, images, labels)], 1e-5, 'J');
  value.dispose();
  for (const i of [0, 2]) {
    const [kernel, bias] = models[i].trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(objective, [kernel, bias]);
    const reference = referenceGradient(linear, i, images, labels);
    close(grads[kernel.name].dataSync(), reference.dW, 1e-5, `∂J/∂W of member ${i}`);
    close(grads[bias.name].dataSync(), reference.db, 1e-5, `∂J/∂b of member ${i}`);
    tf.dispose(Object.values(grads));
  }
  tf.dispose([x, y]);
  models.forEach((m) => m.dispose());
});

test('the ensemble’s PGD examples stay in the ε-ball and [0, 1] and raise the ensemble’s loss', () => {
  const { linear, models, images, labels } = fixture(5, 3, 12);
  const x = tf.tensor4d(images, [labels.length, ...SHAPE]);
  const y = oneHot(labels);
  const schedule = { eps: 0.2, alpha: 0.05, steps: 10 };
  const before = tf.memory().numTensors;
  const xPgd = ensemblePgdPerturbation(models, x, y, schedule, 9);
  assert.equal(tf.memory().numTensors, before + 1, 'only the PGD example is left');
  const adversarial = xPgd.dataSync();
  for (let k = 0; k < images.length; k++) {
    assert.ok(Math.abs(adversarial[k] - images[k]) <= schedule.eps + 1e-6, `pixel ${k} leaves the ε-ball`);
    assert.ok(adversarial[k] >= 0 && adversarial[k] <= 1, `pixel ${k} leaves [0, 1]`);
  }
  const start = randomStart(x, schedule.eps, 9);
  const clean = ensembleLoss64(linear, images, labels);
  const fromStart = ensembleLoss64(linear, start.dataSync(), labels);
  const attacked = ensembleLoss64(linear, adversarial, labels);
  assert.ok(attacked > clean + 0.1 && attacked > fromStart + 0.1, `loss: clean ${clean}, random start ${fromStart}, PGD ${attacked}`);
  tf.dispose([x, y, xPgd, start]);
  models.forEach((m) => m.dispose());
});

test('one joint training step moves every member along −∇J of the ensemble at its PGD examples, leaking no tensors', () => {
  const { linear, models, images, labels } = fixture(7, 2, 6);
  const x = tf.tensor4d(images, [labels.length, ...SHAPE]);
  const y = oneHot(labels);
  const schedule = { eps: 0.1, alpha: 0.04, steps: 3 };
  const [seed, step, lr] = [13, 4, 0.5];
  const xPgd = ensemblePgdPerturbation(models, x, y, schedule, deriveSeed(seed, step));
  const atPgd = xPgd.dataSync().slice();
  xPgd.dispose();
  const expected = linear.map((_, i) => referenceGradient(linear, i, atPgd, labels));
  const optimizer = tf.train.sgd(lr);
  const loss = ensemblePgdTrainingLoss(() => schedule, seed);
  const before = tf.memory().numTensors;
  const cost = optimizer.minimize(() => loss(models, x, y, step), true)!;
  close(cost.dataSync(), [ensembleLoss64(linear, atPgd, labels)], 1e-5, 'J at x_PGD');
  cost.dispose();
  assert.equal(tf.memory().numTensors, before, 'no tensors leaked by the joint step');
  models.forEach((model, i) => {
    const [kernel, bias] = model.getWeights();
    close(kernel.dataSync(), Array.from(linear[i].W, (w, k) => w - lr * expected[i].dW[k]), 1e-5, `member ${i} kernel`);
    close(bias.dataSync(), Array.from(linear[i].b, (b, k) => b - lr * expected[i].db[k]), 1e-5, `member ${i} bias`);
  });
  tf.dispose([x, y]);
  optimizer.dispose();
  models.forEach((m) => m.dispose());
});
