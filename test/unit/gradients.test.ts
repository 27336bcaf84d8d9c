/**
 * Gradient sources against independent truth: the analytic input gradient of linear softmax models,
 * central differences of a float64 reference loss on a tiny conv ensemble, and the Keras clipped form's
 * exact zero where the softmax saturates.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { grad1, grad2, grad3, LOSS_FORMS, type GradientSource } from '../../src/attacks/gradients.ts';
import { initBackend } from '../../src/backend/select.ts';
import { Ensemble } from '../../src/ensembles/ensemble.ts';
import { Rng } from '../../src/run/rng.ts';
import { CLASSES, linearModel, logitsOf, maxAbsDifference, oneHot, randomLinearModel, softmax64, tinyConvEnsemble, uniform, type LinearModel } from '../helpers/attack-fixtures.ts';

const SHAPE: [number, number, number] = [6, 6, 1];
const D = 36;
const LABELS = [0, 1, 2, 1];

before(async () => {
  await initBackend('wasm');
});

function gradientValues(source: GradientSource, images: Float32Array, labels: number[]): Float32Array {
  const g = tf.tidy(() => source(tf.tensor4d(images, [labels.length, ...SHAPE]), oneHot(labels)));
  const values = g.dataSync() as Float32Array;
  g.dispose();
  return values;
}

/** Softmax probabilities of a linear model, in float64 from the float32 inputs and weights. */
function linearProbabilities(m: LinearModel, image: Float32Array): number[] {
  const logits = Array.from({ length: CLASSES }, (_, c) => m.b[c] + image.reduce((sum, v, d) => sum + v * m.W[d * CLASSES + c], 0));
  return softmax64(logits);
}

/** W (p − y), weighted: Σ_c W[d, c] · coefficient_c. */
function weightTimes(m: LinearModel, coefficients: number[]): number[] {
  return Array.from({ length: D }, (_, d) => coefficients.reduce((sum, k, c) => sum + m.W[d * CLASSES + c] * k, 0));
}

function minus(p: number[], label: number): number[] {
  return p.map((v, c) => v - (c === label ? 1 : 0));
}

describe('on linear softmax models (analytic gradients)', () => {
  const rng = new Rng(11);
  const models = [randomLinearModel(rng, SHAPE), randomLinearModel(rng, SHAPE)];
  const ensemble = new Ensemble(models.map((m) => m.model));
  const images = uniform(rng, LABELS.length * D, 0, 1);
  const image = (b: number) => images.subarray(b * D, (b + 1) * D);

  for (const form of LOSS_FORMS) {
    test(`grad1 is W(p − y) for each member [${form}]`, () => {
      models.forEach((m, i) => {
        const expected = LABELS.flatMap((y, b) => weightTimes(m, minus(linearProbabilities(m, image(b)), y)));
        assert.ok(maxAbsDifference(gradientValues(grad1(ensemble, i, form), images, LABELS), expected) < 1e-5);
      });
    });

    test(`grad2 is the mean over members of W_i(p_i − y) [${form}]`, () => {
      const expected = LABELS.flatMap((y, b) => {
        const perMember = models.map((m) => weightTimes(m, minus(linearProbabilities(m, image(b)), y)));
        return perMember[0].map((_, d) => (perMember[0][d] + perMember[1][d]) / 2);
      });
      assert.ok(maxAbsDifference(gradientValues(grad2(ensemble, form), images, LABELS), expected) < 1e-5);
    });

    test(`grad3 is Σ_i (p_i,y / (n·p̄_y)) W_i(p_i − y), the gradient of −log p̄_y [${form}]`, () => {
      const expected = LABELS.flatMap((y, b) => {
        const p = models.map((m) => linearProbabilities(m, image(b)));
        const meanTrue = (p[0][y] + p[1][y]) / 2;
        const perMember = models.map((m, i) => weightTimes(m, minus(p[i], y).map((v) => (v * p[i][y]) / (2 * meanTrue))));
        return perMember[0].map((_, d) => perMember[0][d] + perMember[1][d]);
      });
      const got = gradientValues(grad3(ensemble, form), images, LABELS);
      assert.ok(maxAbsDifference(got, expected) < 1e-5);
      // Grad. 3 is not Grad. 2: the ensemble weighs members by their confidence in the true class.
      assert.ok(maxAbsDifference(got, gradientValues(grad2(ensemble, form), images, LABELS)) > 1e-3);
    });
  }

  test('with one member, Grad. 1, 2 and 3 coincide', () => {
    const single = new Ensemble([models[0].model]);
    const g1 = gradientValues(grad1(single, 0, 'logits'), images, LABELS);
    assert.ok(maxAbsDifference(g1, gradientValues(grad2(single, 'logits'), images, LABELS)) < 1e-6);
    assert.ok(maxAbsDifference(g1, gradientValues(grad3(single, 'logits'), images, LABELS)) < 1e-6);
  });
});

describe('on a tiny conv ensemble (central differences)', () => {
  const ensemble = tinyConvEnsemble([101, 202, 303], SHAPE);
  const rng = new Rng(5);
  const images = uniform(rng, LABELS.length * D, 0.2, 0.8);
  const H = 1e-2;
  const coordinates = LABELS.flatMap((_, b) => [0, 7, 14, 21, 35].map((d) => ({ b, d })));

  /** Per-example float64 losses of the three sources, from the members' float32 logits. */
  const referenceLosses = (batch: Float32Array, labels: number[]) => {
    const probabilities = ensemble.members.map((m) => logitsOf(m, batch, SHAPE).map(softmax64));
    return labels.map((y, row) => {
      const perMember = probabilities.map((p) => -Math.log(p[row][y]));
      return {
        member: perMember,
        meanOfMembers: perMember.reduce((a, b) => a + b, 0) / perMember.length,
        ofEnsemble: -Math.log(probabilities.reduce((sum, p) => sum + p[row][y], 0) / probabilities.length),
      };
    });
  };

  type Reference = ReturnType<typeof referenceLosses>[number];

  /** Central differences of `pick`, at each coordinate, using the float32 values actually fed to the model. */
  const centralDifferences = (pick: (r: Reference) => number) => {
    const batch = new Float32Array(2 * coordinates.length * D);
    const labels: number[] = [];
    const steps: number[] = [];
    coordinates.forEach(({ b, d }, k) => {
      for (const [copy, sign] of [[2 * k, 1], [2 * k + 1, -1]]) {
        batch.set(images.subarray(b * D, (b + 1) * D), copy * D);
        batch[copy * D + d] = images[b * D + d] + sign * H;
        labels.push(LABELS[b]);
      }
      steps.push(batch[2 * k * D + d] - batch[(2 * k + 1) * D + d]);
    });
    const losses = referenceLosses(batch, labels).map(pick);
    return coordinates.map((_, k) => (losses[2 * k] - losses[2 * k + 1]) / steps[k]);
  };

  const check = (source: GradientSource, pick: (r: Reference) => number) => {
    const gradient = gradientValues(source, images, LABELS);
    const analytic = coordinates.map(({ b, d }) => gradient[b * D + d]);
    const numeric = centralDifferences(pick);
    const scale = Math.max(...numeric.map(Math.abs));
    assert.ok(scale > 1e-2, `gradients too small to test (${scale})`);
    const error = maxAbsDifference(analytic, numeric);
    assert.ok(error < 5e-4 * scale, `max |autodiff − central difference| ${error} vs scale ${scale}`);
  };

  for (const form of LOSS_FORMS) {
    test(`grad1 matches central differences of member 1's loss [${form}]`, () => check(grad1(ensemble, 1, form), (r) => r.member[1]));
    test(`grad2 matches central differences of the mean member loss [${form}]`, () => check(grad2(ensemble, form), (r) => r.meanOfMembers));
    test(`grad3 matches central differences of −log of the mean probability [${form}]`, () => check(grad3(ensemble, form), (r) => r.ofEnsemble));

    test(`grad2 equals the mean of the members' grad1 [${form}]`, () => {
      const perMember = ensemble.members.map((_, i) => gradientValues(grad1(ensemble, i, form), images, LABELS));
      const mean = perMember[0].map((_, j) => perMember.reduce((sum, g) => sum + g[j], 0) / perMember.length);
      assert.ok(maxAbsDifference(gradientValues(grad2(ensemble, form), images, LABELS), mean) < 1e-6);
    });
  }
});

describe('clipped-probs on a saturated softmax', () => {
  // A linear model with logits ≈ (36, 9, −9) on mid-grey images: float32 softmax rounds p_0 to exactly 1.
  const rng = new Rng(3);
  const W = new Float32Array(D * CLASSES);
  for (let d = 0; d < D; d++) W.set([2, 0.5, -0.5], d * CLASSES);
  const saturating = linearModel(SHAPE, W, new Float32Array([0, 0, 0]));
  const images = uniform(rng, 2 * D, 0.4, 0.6);
  const ensemble = new Ensemble([saturating.model, randomLinearModel(rng, SHAPE, 0.01).model]);
  const single = new Ensemble([saturating.model]);

  test('the setup saturates: float32 softmax of the true class is exactly 1', () => {
    const p = tf.tidy(() => tf.softmax(saturating.model.predict(tf.tensor4d(images, [2, ...SHAPE])) as tf.Tensor2D).arraySync());
    assert.deepEqual(p.map((row) => row[0]), [1, 1]);
  });

  test('the Keras form gives an exactly zero gradient; the logits form does not', () => {
    const clipped = gradientValues(grad1(single, 0, 'clipped-probs'), images, [0, 0]);
    assert.ok(clipped.every((v) => v === 0));
    const logits = gradientValues(grad1(single, 0, 'logits'), images, [0, 0]);
    // tiny (p_1 ≈ 2e-12) but not zero, so sign() still moves every pixel
    assert.ok(logits.every((v) => v !== 0));
  });

  test('a confidently wrong example (p_y < 1e-7) is clipped too', () => {
    assert.ok(gradientValues(grad1(single, 0, 'clipped-probs'), images, [2, 2]).every((v) => v === 0));
  });

  test('Grad. 3 with clipped-probs clips the averaged probabilities: non-zero unless the average saturates', () => {
    // The second member is unsure, so the mean probability of class 0 is ~(1 + 1/3)/2: not clipped.
    assert.ok(gradientValues(grad3(ensemble, 'clipped-probs'), images, [0, 0]).some((v) => v !== 0));
    // Grad. 2 averages the members' own clipped gradients; the saturated member contributes exactly 0.
    const g2 = gradientValues(grad2(ensemble, 'clipped-probs'), images, [0, 0]);
    const secondOnly = gradientValues(grad1(ensemble, 1, 'clipped-probs'), images, [0, 0]);
    assert.ok(maxAbsDifference(g2, secondOnly.map((v) => v / 2)) < 1e-7);
  });

  test('Grad. 3 with clipped-probs is exactly zero when the averaged probability saturates', () => {
    const saturatedPair = new Ensemble([saturating.model, saturating.model]);
    assert.ok(gradientValues(grad3(saturatedPair, 'clipped-probs'), images, [0, 0]).every((v) => v === 0));
    assert.ok(gradientValues(grad3(saturatedPair, 'logits'), images, [0, 0]).every((v) => v !== 0));
  });
});
