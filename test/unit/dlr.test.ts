/**
 * The DLR loss (Croce & Hein 2020, eq. 5) and the APGD objectives: hand-computed values and gradients,
 * central differences of a float64 reference through a linear model and a linear ensemble's log p̄,
 * the loss's invariances, its sign, and the objectives' leak-freedom.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { crossEntropyObjective, dlrObjective, type Scores } from '../../src/attacks/apgd-core.ts';
import { crossEntropyLoss, dlrLoss, logMeanProbabilities } from '../../src/attacks/dlr.ts';
import { initBackend } from '../../src/backend/select.ts';
import { Rng } from '../../src/run/rng.ts';
import { uniform } from '../helpers/attack-fixtures.ts';

before(async () => {
  await initBackend('wasm');
});

const oneHotOf = (labels: number[], classes: number) => tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D);

/** DLR value and ∂/∂z of rows z with labels y, from tfjs. */
function dlrOnScores(rows: number[][], labels: number[]): { value: number[]; grad: number[][] } {
  const z = tf.tensor2d(rows);
  const y = oneHotOf(labels, rows[0].length);
  const { value, grad } = tf.valueAndGrad((s: tf.Tensor) => dlrLoss(s as tf.Tensor2D, y))(z);
  const out = { value: Array.from(value.dataSync()), grad: grad.arraySync() as number[][] };
  tf.dispose([z, y, value, grad]);
  return out;
}

/** float64 reference: −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e-12). */
function dlr64(z: number[], y: number): number {
  const sorted = [...z].sort((a, b) => b - a);
  const other = Math.max(...z.filter((_, i) => i !== y));
  return -(z[y] - other) / (sorted[0] - sorted[2] + 1e-12);
}

const CLASSES = 4;
const SHAPE: [number, number, number] = [3, 3, 2];
const D = 18;

/** Linear scores z = x·W + b as a tfjs function and as a float64 function of one flattened image. */
function linear(W: Float32Array, b: Float32Array): { scores: Scores; scores64: (x: number[]) => number[] } {
  const Wt = tf.tensor2d(W, [D, CLASSES]);
  const bt = tf.tensor1d(b);
  return {
    scores: (x) => tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], D]), Wt), bt) as tf.Tensor2D),
    scores64: (x) => Array.from({ length: CLASSES }, (_, c) => b[c] + x.reduce((s, v, d) => s + v * W[d * CLASSES + c], 0)),
  };
}

function logMeanSoftmax64(logitRows: number[][]): number[] {
  const probabilities = logitRows.map((l) => {
    const m = Math.max(...l);
    const e = l.map((v) => Math.exp(v - m));
    const s = e.reduce((a, v) => a + v, 0);
    return e.map((v) => v / s);
  });
  return probabilities[0].map((_, c) => Math.log(probabilities.reduce((s, p) => s + p[c], 0) / probabilities.length));
}

/** The tfjs objective's value and gradient against float64 central differences, example by example. */
function checkAgainstCentralDifferences(objective: ReturnType<typeof dlrObjective>, loss64: (x: number[], y: number) => number, images: Float32Array, labels: number[]): void {
  const n = labels.length;
  const x = tf.tensor4d(images, [n, ...SHAPE]);
  const y = oneHotOf(labels, CLASSES);
  const { value, gradient } = objective(x, y);
  const values = value.dataSync();
  const grads = gradient.dataSync();
  tf.dispose([x, y, value, gradient]);
  const h = 1e-6;
  let checked = 0;
  for (let b = 0; b < n; b++) {
    const image = Array.from(images.subarray(b * D, (b + 1) * D));
    const reference = loss64(image, labels[b]);
    assert.ok(Math.abs(values[b] - reference) <= 1e-5 * Math.max(1, Math.abs(reference)), `example ${b}: value ${values[b]} vs ${reference}`);
    let scale = 0;
    const numeric = image.map((_, d) => {
      const plus = [...image];
      const minus = [...image];
      plus[d] += h;
      minus[d] -= h;
      const g = (loss64(plus, labels[b]) - loss64(minus, labels[b])) / (2 * h);
      scale = Math.max(scale, Math.abs(g));
      return g;
    });
    // DLR is exactly 1, flat, where y is the third-ranked class: then the gradient must be 0 too.
    if (scale > 1e-3) checked++;
    numeric.forEach((g, d) => {
      assert.ok(Math.abs(grads[b * D + d] - g) <= 1e-4 * Math.max(scale, 0.1), `example ${b}, pixel ${d}: ∂ = ${grads[b * D + d]}, central difference ${g}`);
    });
  }
  assert.ok(checked >= n - 2, `only ${checked} of ${n} examples had a non-flat loss`);
}

describe('DLR by hand', () => {
  test('y on top: z = (3, 1, 2, 0), y = 0 → −(3 − 2)/(3 − 1) = −0.5, ∂/∂z = (−¼, −¼, ½, 0)', () => {
    const { value, grad } = dlrOnScores([[3, 1, 2, 0]], [0]);
    assert.ok(Math.abs(value[0] + 0.5) < 1e-6, `${value[0]}`);
    [-0.25, -0.25, 0.5, 0].forEach((g, i) => assert.ok(Math.abs(grad[0][i] - g) < 1e-6, `∂/∂z${i} = ${grad[0][i]}`));
  });

  test('y not on top: z = (1, 4, 2, 3), y = 0 → −(1 − 4)/(4 − 2) = 1.5, ∂/∂z = (−½, −¼, ¾, 0)', () => {
    const { value, grad } = dlrOnScores([[1, 4, 2, 3]], [0]);
    assert.ok(Math.abs(value[0] - 1.5) < 1e-6, `${value[0]}`);
    [-0.5, -0.25, 0.75, 0].forEach((g, i) => assert.ok(Math.abs(grad[0][i] - g) < 1e-6, `∂/∂z${i} = ${grad[0][i]}`));
  });

  test('y third: z = (2, 4, 3, 0), y = 0 → exactly 1, and flat (∂/∂z = 0)', () => {
    const { value, grad } = dlrOnScores([[2, 4, 3, 0]], [0]);
    assert.ok(Math.abs(value[0] - 1) < 1e-6, `${value[0]}`);
    grad[0].forEach((g, i) => assert.ok(Math.abs(g) < 1e-6, `∂/∂z${i} = ${g}`));
  });

  test('rows are independent, and a batch gives each row its own value', () => {
    const { value } = dlrOnScores([[3, 1, 2, 0], [1, 4, 2, 3], [0, 0, 5, 1]], [0, 0, 1]);
    assert.deepEqual(value.map((v) => Math.round(v * 1e6) / 1e6), [-0.5, 1.5, 1]);
  });

  test('refuses fewer than 3 classes', () => {
    const z = tf.tensor2d([[1, 2]]);
    const y = oneHotOf([0], 2);
    assert.throws(() => dlrLoss(z, y), /at least 3 classes/);
    tf.dispose([z, y]);
  });
});

describe('DLR properties on random scores', () => {
  const rng = new Rng(3);
  const rows = Array.from({ length: 40 }, () => Array.from(uniform(rng, 5, -4, 4)));
  const labels = rows.map((_, i) => i % 5);

  test('equals the float64 formula; positive exactly where argmax ≠ y', () => {
    const { value } = dlrOnScores(rows, labels);
    let positives = 0;
    rows.forEach((z, i) => {
      assert.ok(Math.abs(value[i] - dlr64(z, labels[i])) < 1e-5, `row ${i}`);
      const wrong = z.indexOf(Math.max(...z)) !== labels[i];
      assert.equal(value[i] > 0, wrong, `row ${i}`);
      if (wrong) positives++;
    });
    assert.ok(positives > 5 && positives < 35, `${positives} of 40 rows misclassified: the sign check sees too few of one kind`);
  });

  test('invariant to shifting and positively rescaling the scores', () => {
    const { value } = dlrOnScores(rows, labels);
    const moved = dlrOnScores(
      rows.map((z, i) => z.map((v) => 3 * v + i - 7)),
      labels,
    );
    value.forEach((v, i) => assert.ok(Math.abs(v - moved.value[i]) < 1e-5, `row ${i}: ${v} vs ${moved.value[i]}`));
  });
});

describe('objectives against central differences of a float64 reference', () => {
  const rng = new Rng(11);
  const n = 6;
  const labels = [0, 1, 2, 3, 0, 1];
  const images = uniform(rng, n * D, 0, 1);

  test('DLR of a linear model’s logits', () => {
    const model = linear(uniform(rng, D * CLASSES, -1, 1), uniform(rng, CLASSES, -0.5, 0.5));
    checkAgainstCentralDifferences(dlrObjective(model.scores), (x, y) => dlr64(model.scores64(x), y), images, labels);
  });

  test('DLR of a two-member linear ensemble’s log p̄ (logMeanProbabilities)', () => {
    const members = [0, 1].map(() => linear(uniform(rng, D * CLASSES, -1.5, 1.5), uniform(rng, CLASSES, -0.5, 0.5)));
    const scores: Scores = (x) => tf.tidy(() => logMeanProbabilities(members.map((m) => m.scores(x))));
    const scores64 = (x: number[]) => logMeanSoftmax64(members.map((m) => m.scores64(x)));
    checkAgainstCentralDifferences(dlrObjective(scores), (x, y) => dlr64(scores64(x), y), images, labels);
  });

  test('cross-entropy of the same log p̄, and of logits', () => {
    const members = [0, 1].map(() => linear(uniform(rng, D * CLASSES, -1.5, 1.5), uniform(rng, CLASSES, -0.5, 0.5)));
    const scores: Scores = (x) => tf.tidy(() => logMeanProbabilities(members.map((m) => m.scores(x))));
    const ce64 = (z: number[], y: number) => -logMeanSoftmax64([z])[y];
    checkAgainstCentralDifferences(crossEntropyObjective(scores), (x, y) => ce64(logMeanSoftmax64(members.map((m) => m.scores64(x))), y), images, labels);
    checkAgainstCentralDifferences(crossEntropyObjective(members[0].scores), (x, y) => ce64(members[0].scores64(x), y), images, labels);
  });
});

describe('helpers', () => {
  test('cross-entropy of log-probabilities equals that of the logits they come from', () => {
    const logits = tf.tensor2d([[2, -1, 0.5], [0, 0, 9]]);
    const y = oneHotOf([1, 2], 3);
    const a = tf.tidy(() => crossEntropyLoss(logits, y).dataSync());
    const b = tf.tidy(() => crossEntropyLoss(tf.logSoftmax(logits) as tf.Tensor2D, y).dataSync());
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-5, `row ${i}: ${v} from logits, ${b[i]} from log-probabilities`));
    tf.dispose([logits, y]);
  });

  test('logMeanProbabilities stays finite where a mean probability underflows float32', () => {
    const member = tf.tensor2d([[0, -200, -120]]);
    const out = tf.tidy(() => logMeanProbabilities([member, member]).dataSync());
    assert.ok(out.every(Number.isFinite), `${Array.from(out)}`);
    assert.ok(Math.abs(out[1] + 200) < 1e-3, `log p̄_1 = ${out[1]}, expected −200`);
    member.dispose();
  });

  test('the objectives leave only their value and gradient', () => {
    const model = linear(uniform(new Rng(1), D * CLASSES, -1, 1), new Float32Array(CLASSES));
    const x = tf.tensor4d(uniform(new Rng(2), 2 * D, 0, 1), [2, ...SHAPE]);
    const y = oneHotOf([0, 3], CLASSES);
    for (const objective of [dlrObjective(model.scores), crossEntropyObjective(model.scores)]) {
      const before = tf.memory().numTensors;
      const { value, gradient } = objective(x, y);
      assert.equal(tf.memory().numTensors, before + 2);
      tf.dispose([value, gradient]);
    }
    tf.dispose([x, y]);
  });
});
