/**
 * The Square attack (square-core.ts): the threat model (every pixel at x ± ε, clipped) on random linear
 * and conv models; the query count against the forward passes it made, image by image; success exactly
 * where a two-class linear model can be fooled at ε, never a false claim; the stripe start; the p schedule;
 * seeds (and images independent of their batch-mates); leaks; argument checks.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { square, squareP, squareSide, type SquareParams, type SquareResult } from '../../src/attacks/square-core.ts';
import { initBackend } from '../../src/backend/select.ts';
import { Ensemble } from '../../src/ensembles/ensemble.ts';
import { flagOf, ParamError, userMessage } from '../../src/errors.ts';
import { Rng } from '../../src/run/rng.ts';
import { linearModel, randomLinearModel, softmax64, tinyConvEnsemble, uniform, logitsOf, worstLinearMargin } from '../helpers/attack-fixtures.ts';

before(async () => {
  await initBackend('wasm');
});

type Shape = [number, number, number];
type ScoresFn = (x: tf.Tensor4D) => tf.Tensor2D;

interface Values {
  adversarial: Float32Array;
  queries: Int32Array;
  success: Uint8Array;
}

function attack(scores: ScoresFn, images: Float32Array, labels: number[], shape: Shape, params: SquareParams): Values {
  const x = tf.tensor4d(images, [labels.length, ...shape]);
  const l = tf.tensor1d(labels, 'int32');
  const result: SquareResult = square(scores, x, l, params);
  const values = { adversarial: Float32Array.from(result.adversarial.dataSync()), queries: result.queries, success: result.success };
  tf.dispose([x, l, result.adversarial]);
  return values;
}

const probabilitiesOf = (ensemble: Ensemble): ScoresFn => (x) => ensemble.probabilities(x);

/** Class predicted by the ensemble's mean softmax, in float64 from its members' logits. */
function predict(ensemble: Ensemble, images: Float32Array, shape: Shape): number[] {
  const perMember = ensemble.members.map((m) => logitsOf(m, images, shape).map(softmax64));
  return perMember[0].map((_, i) => {
    const mean = perMember[0][i].map((_, c) => perMember.reduce((s, p) => s + p[i][c], 0));
    return mean.indexOf(Math.max(...mean));
  });
}

/** Every pixel is x + ε or x − ε, clipped to [0, 1] (so ‖x_adv − x‖∞ ≤ ε and x_adv ∈ [0, 1]). */
function assertVertices(what: string, adversarial: Float32Array, images: Float32Array, eps: number): void {
  adversarial.forEach((v, j) => {
    assert.ok(v >= 0 && v <= 1, `${what}: pixel ${v} outside [0, 1]`);
    assert.ok(Math.abs(v - images[j]) <= eps + 1e-6, `${what}: |x_adv − x| = ${Math.abs(v - images[j])} > ε`);
    const up = Math.min(images[j] + eps, 1);
    const down = Math.max(images[j] - eps, 0);
    assert.ok(Math.abs(v - up) < 1e-6 || Math.abs(v - down) < 1e-6, `${what}: pixel ${j} = ${v} is neither x + ε nor x − ε (x = ${images[j]})`);
  });
}

const boxImages = (rng: Rng, size: number) => uniform(rng, size, -0.3, 1.3).map((v) => Math.min(1, Math.max(0, v)));

describe('threat model', () => {
  test('random linear models (3 channels) and random inputs, several seeds and ε', () => {
    const shape: Shape = [5, 5, 3];
    for (const seed of [1, 2, 3]) {
      const rng = new Rng(200 + seed);
      const single = new Ensemble([randomLinearModel(rng, shape, 0.3).model]);
      const n = 4;
      const images = boxImages(rng, n * 75);
      const labels = predict(single, images, shape);
      for (const eps of [0.01, 0.1, 0.3, 1]) {
        const { adversarial } = attack(probabilitiesOf(single), images, labels, shape, { eps, queries: 40, seed });
        assertVertices(`seed ${seed} ε=${eps}`, adversarial, images, eps);
      }
      single.dispose();
    }
  });

  test('a tiny conv ensemble, several seeds', () => {
    const shape: Shape = [6, 6, 1];
    const ensemble = tinyConvEnsemble([7, 8], shape);
    for (const seed of [4, 5]) {
      const images = boxImages(new Rng(seed), 4 * 36);
      const labels = predict(ensemble, images, shape);
      for (const eps of [0.05, 0.3]) {
        const result = attack(probabilitiesOf(ensemble), images, labels, shape, { eps, queries: 40, seed });
        assertVertices(`conv seed ${seed} ε=${eps}`, result.adversarial, images, eps);
      }
    }
    ensemble.dispose();
  });

  test('ε = 0 returns x after one query, success where x is already misclassified', () => {
    const shape: Shape = [6, 6, 1];
    const single = new Ensemble([randomLinearModel(new Rng(9), shape).model]);
    const images = uniform(new Rng(10), 4 * 36, 0, 1);
    const predicted = predict(single, images, shape);
    const labels = predicted.map((p, i) => (i < 2 ? p : (p + 1) % 3));
    const { adversarial, queries, success } = attack(probabilitiesOf(single), images, labels, shape, { eps: 0, queries: 50, seed: 1 });
    assert.deepEqual(adversarial, images);
    assert.deepEqual(Array.from(queries), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(success), [0, 0, 1, 1]);
    single.dispose();
  });
});

describe('queries', () => {
  const shape: Shape = [6, 6, 1];
  const ensemble = tinyConvEnsemble([11, 12, 13], shape);
  const n = 12;
  const images = uniform(new Rng(14), n * 36, 0, 1);
  const labels = predict(ensemble, images, shape);
  const eps = 0.03;

  test('per image, the count equals the forward passes that image went through; at most the budget', () => {
    // Each queried row lies within ε of exactly one clean image (they are further apart than 2ε).
    // It also replays the acceptance rule, to check that no query is spent on a candidate equal to the
    // image's current best point (the reference code redraws such squares).
    const perImage = new Int32Array(n);
    const bestRow: (Float32Array | undefined)[] = Array(n).fill(undefined);
    const bestMargin = new Float64Array(n).fill(Infinity);
    let calls = 0;
    const counting: ScoresFn = (x) => {
      calls++;
      const rows = Float32Array.from(x.dataSync());
      const out = ensemble.probabilities(x);
      const scores = out.arraySync();
      for (let r = 0; r < x.shape[0]; r++) {
        const row = rows.subarray(r * 36, (r + 1) * 36);
        const owners = labels.map((_, b) => b).filter((b) => row.every((v, d) => Math.abs(v - images[b * 36 + d]) <= eps + 1e-6));
        assert.equal(owners.length, 1, 'a queried row belongs to exactly one image');
        const b = owners[0];
        perImage[b]++;
        assert.ok(!bestRow[b] || row.some((v, d) => v !== bestRow[b]![d]), `image ${b}: query ${perImage[b]} repeats the current best point`);
        const z = scores[r];
        const margin = z[labels[b]] - Math.max(...z.filter((_, k) => k !== labels[b]));
        if (margin < bestMargin[b] || z.indexOf(Math.max(...z)) !== labels[b]) {
          bestMargin[b] = margin;
          bestRow[b] = Float32Array.from(row);
        }
      }
      return out;
    };
    const budget = 80;
    const { queries, success, adversarial } = attack(counting, images, labels, shape, { eps, queries: budget, seed: 3 });
    assert.deepEqual(Array.from(queries), Array.from(perImage));
    assert.equal(calls, Math.max(...queries), 'one batched forward pass per iteration, the start included');
    const fooled = success.reduce((s, v) => s + v, 0);
    assert.ok(fooled > 0 && fooled < n, `ε chosen badly: ${fooled} of ${n} fooled`);
    const after = predict(ensemble, adversarial, shape);
    for (let b = 0; b < n; b++) {
      assert.ok(queries[b] >= 1 && queries[b] <= budget, `image ${b}: ${queries[b]} queries for a budget of ${budget}`);
      if (!success[b]) assert.equal(queries[b], budget, `image ${b} unfooled but stopped early`);
      assert.equal(after[b] !== labels[b], success[b] === 1, `image ${b}: success flag ${success[b]} but predicted ${after[b]} for label ${labels[b]}`);
    }
    assert.ok(new Set(Array.from(queries)).size > 2, 'every image stopped at the same query: the count is not per image');
  });

  test('a budget of 1 is the vertical-stripe start: each column of each channel all at x + ε or all at x − ε', () => {
    const stripeShape: Shape = [4, 5, 2];
    const stripeImages = uniform(new Rng(15), 3 * 40, 0.2, 0.8);
    const single = new Ensemble([randomLinearModel(new Rng(16), stripeShape).model]);
    const { adversarial, queries } = attack(probabilitiesOf(single), stripeImages, [0, 1, 2], stripeShape, { eps: 0.1, queries: 1, seed: 2 });
    assert.deepEqual(Array.from(queries), [1, 1, 1]);
    let ups = 0;
    for (let b = 0; b < 3; b++) {
      for (let col = 0; col < 5; col++) {
        for (let c = 0; c < 2; c++) {
          const sides = [0, 1, 2, 3].map((row) => {
            const j = b * 40 + (row * 5 + col) * 2 + c;
            return adversarial[j] > stripeImages[j];
          });
          assert.ok(sides.every((s) => s === sides[0]), `image ${b} column ${col} channel ${c} is not one stripe`);
          if (sides[0]) ups++;
        }
      }
    }
    assert.ok(ups > 5 && ups < 25, `${ups} of 30 stripes up: the signs are not random`);
    single.dispose();
  });
});

describe('the square update', () => {
  test('the second query changes one s × s square (s = round(√(0.8·h·w)) = 4), one sign per channel, nothing else', () => {
    const shape: Shape = [5, 5, 3];
    const n = 10;
    const eps = 0.1;
    const images = uniform(new Rng(71), n * 75, 0.2, 0.8);
    const calls: Float32Array[] = [];
    // Constant scores: nothing is ever accepted, so query 2 is the stripe start plus one square.
    const constant: ScoresFn = (x) => {
      calls.push(Float32Array.from(x.dataSync()));
      return tf.tile(tf.tensor2d([[0.2, 0.5, 0.3]]), [x.shape[0], 1]) as tf.Tensor2D;
    };
    attack(constant, images, Array(n).fill(1), shape, { eps, queries: 2, seed: 4 });
    assert.equal(calls.length, 2);
    const up = (v: number, j: number) => v > images[j];
    let mixedSigns = 0;
    for (let b = 0; b < n; b++) {
      const at = (row: number, col: number, c: number) => b * 75 + (row * 5 + col) * 3 + c;
      const fits = [0, 1].flatMap((top) =>
        [0, 1].filter((left) => {
          for (let row = 0; row < 5; row++) {
            for (let col = 0; col < 5; col++) {
              const inside = row >= top && row < top + 4 && col >= left && col < left + 4;
              for (let c = 0; c < 3; c++) {
                const j = at(row, col, c);
                if (inside ? up(calls[1][j], j) !== up(calls[1][at(top, left, c)], at(top, left, c)) : calls[1][j] !== calls[0][j]) return false;
              }
            }
          }
          return true;
        }).map((left) => [top, left]),
      );
      assert.ok(fits.length >= 1, `image ${b}: query 2 is not the start with one 4 × 4 square changed`);
      const [top, left] = fits[0];
      const sides = [0, 1, 2].map((c) => up(calls[1][at(top, left, c)], at(top, left, c)));
      if (new Set(sides).size > 1) mixedSigns++;
    }
    assert.ok(mixedSigns > 0, 'every square has one sign for all channels: the signs are not drawn per channel');
  });

  test('a tie is judged as tf.argMax judges it: a candidate tied with an earlier class is a success', () => {
    // Label 1. Pixel (0, 0) up: scores (0.5, 0.5, 0), argmax 0, margin 0 — fooled. Down: (0, 0.5, 0.5),
    // argmax 1, margin 0 — correct. The margin never decreases; only the tie rule can accept the change.
    const shape: Shape = [3, 3, 1];
    const n = 8;
    const images = new Float32Array(n * 9).fill(0.5);
    const tie: ScoresFn = (x) =>
      tf.tidy(() => {
        const upper = tf.cast(tf.greater(tf.reshape(tf.slice(x, [0, 0, 0, 0], [-1, 1, 1, 1]), [-1, 1]), 0.5), 'float32');
        return tf.add(tf.mul(upper, tf.tensor2d([[0.5, 0.5, 0]])), tf.mul(tf.sub(1, upper), tf.tensor2d([[0, 0.5, 0.5]]))) as tf.Tensor2D;
      });
    const { success, queries, adversarial } = attack(tie, images, Array(n).fill(1), shape, { eps: 0.1, queries: 200, seed: 8 });
    assert.ok(queries.some((q) => q > 1), 'every stripe start was already a success: the test cannot see the rule');
    assert.deepEqual(Array.from(success), Array(n).fill(1));
    const predicted = tf.tidy(() => tf.argMax(tie(tf.tensor4d(adversarial, [n, ...shape])), 1).dataSync());
    assert.deepEqual(Array.from(predicted), Array(n).fill(0), 'a claimed success that tf.argMax does not confirm');
  });
});

describe('a two-class linear model: success exactly where an adversarial example exists at ε', () => {
  // margin(x') = (w_y − w_k)·x' + b_y − b_k is minimised over the ball ∩ [0, 1] pixel by pixel at
  // x* = P(x − ε·sign(w_y − w_k)); an adversarial example exists iff margin(x*) < 0.
  const shape: Shape = [6, 6, 1];
  const D = 36;

  test('several models, ε ∈ {0.08, 0.2}, 300 queries', () => {
    let breakable = 0;
    let robust = 0;
    for (const seed of [51, 52, 53]) {
      const rng = new Rng(seed);
      const W = uniform(rng, D * 2, -1, 1);
      const b = uniform(rng, 2, -0.5, 0.5);
      const single = new Ensemble([linearModel(shape, W, b).model]);
      const n = 10;
      const images = boxImages(rng, n * D);
      const labels = predict(single, images, shape);
      for (const eps of [0.08, 0.2]) {
        const { success, adversarial } = attack(probabilitiesOf(single), images, labels, shape, { eps, queries: 300, seed });
        const after = predict(single, adversarial, shape);
        for (let i = 0; i < n; i++) {
          const y = labels[i];
          let optimal = b[y] - b[1 - y];
          for (let d = 0; d < D; d++) {
            const v = W[d * 2 + y] - W[d * 2 + 1 - y];
            const x = images[i * D + d];
            optimal += v * (v > 0 ? Math.max(x - eps, 0) : Math.min(x + eps, 1));
          }
          assert.equal(after[i] !== y, success[i] === 1, `seed ${seed} ε=${eps} image ${i}: success flag disagrees with the model`);
          if (optimal < -1e-3) {
            breakable++;
            assert.equal(success[i], 1, `seed ${seed} ε=${eps} image ${i}: breakable (optimal margin ${optimal}) but not broken`);
          } else if (optimal > 1e-3) {
            robust++;
            assert.equal(success[i], 0, `seed ${seed} ε=${eps} image ${i}: success claimed although the optimal margin is ${optimal}`);
          }
        }
      }
      single.dispose();
    }
    assert.ok(breakable >= 10 && robust >= 10, `ε chosen badly: ${breakable} breakable, ${robust} robust`);
  });

  test('three classes: never a success where no class can overtake y', () => {
    let robust = 0;
    let found = 0;
    for (const seed of [61, 62]) {
      const rng = new Rng(seed);
      const linear = randomLinearModel(rng, shape, 0.3);
      const single = new Ensemble([linear.model]);
      const n = 12;
      const images = boxImages(rng, n * D);
      const labels = predict(single, images, shape);
      const eps = 0.05;
      const { success, adversarial } = attack(probabilitiesOf(single), images, labels, shape, { eps, queries: 200, seed });
      const after = predict(single, adversarial, shape);
      for (let i = 0; i < n; i++) {
        const y = labels[i];
        const worst = worstLinearMargin(linear, images.subarray(i * D, (i + 1) * D), y, eps);
        assert.equal(after[i] !== y, success[i] === 1);
        if (worst > 1e-3) {
          robust++;
          assert.equal(success[i], 0, `seed ${seed} image ${i}: success claimed although no class can overtake (${worst})`);
        } else if (success[i]) found++;
      }
      single.dispose();
    }
    assert.ok(robust >= 4 && found >= 4, `ε chosen badly: ${robust} robust, ${found} broken`);
  });
});

describe('the p schedule', () => {
  test('halvings after iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10,000, rescaled to the budget', () => {
    const expected = (it: number) => {
      const thresholds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
      return 0.8 / 2 ** thresholds.filter((t) => it > t).length;
    };
    for (const it of [0, 10, 11, 50, 51, 200, 201, 500, 501, 1000, 1001, 2000, 2001, 4000, 4001, 6000, 6001, 8000, 8001, 9999]) {
      assert.equal(squareP(0.8, it, 10000), expected(it), `iteration ${it} of 10,000`);
      assert.equal(squareP(0.8, it, 10000, false), expected(it));
    }
    // Budget 1000: iteration i sits at ⌊i·10⌋ on the 10,000 scale (the reference's int(it / n · 10000)).
    assert.equal(squareP(0.8, 1, 1000), 0.8);
    assert.equal(squareP(0.8, 2, 1000), 0.4);
    assert.equal(squareP(0.8, 5, 1000), 0.4);
    assert.equal(squareP(0.8, 6, 1000), 0.2);
    assert.equal(squareP(0.8, 999, 1000), 0.8 / 512);
    // Not rescaled (AutoAttack's standard run): 5000 queries never reach the last two halvings.
    assert.equal(squareP(0.8, 4999, 5000, false), 0.8 / 128);
  });

  test('side round(√(p·h·w)), between 1 and min(h, w)', () => {
    assert.equal(squareSide(0.8, 28, 28), 25);
    assert.equal(squareSide(0.05, 32, 32), 7);
    assert.equal(squareSide(0.8 / 512, 28, 28), 1);
    assert.equal(squareSide(1, 3, 8), 3);
  });
});

describe('seeds', () => {
  const shape: Shape = [6, 6, 1];
  const ensemble = tinyConvEnsemble([21, 22], shape);
  const images = uniform(new Rng(12), 6 * 36, 0, 1);
  const labels = predict(ensemble, images, shape);
  const run = (seed: number, pixels = images) => attack(probabilitiesOf(ensemble), pixels, labels, shape, { eps: 0.05, queries: 60, seed });

  test('the same seed gives the same examples and counts; another seed other ones', () => {
    assert.deepEqual(run(5), run(5));
    assert.notDeepEqual(run(5).adversarial, run(6).adversarial);
  });

  test('an image’s result does not depend on the other images of its batch', () => {
    const changed = Float32Array.from(images);
    for (let d = 0; d < 36; d++) changed[2 * 36 + d] = 1 - changed[2 * 36 + d]; // another image 2
    const a = run(5);
    const b = run(5, changed);
    for (const i of [0, 1, 3, 4, 5]) {
      assert.deepEqual(a.adversarial.subarray(i * 36, (i + 1) * 36), b.adversarial.subarray(i * 36, (i + 1) * 36), `image ${i}`);
      assert.equal(a.queries[i], b.queries[i]);
    }
  });
});

describe('no tensor leaks', () => {
  test('only the adversarial batch is left, whatever the budget and ε', () => {
    const shape: Shape = [6, 6, 1];
    const ensemble = tinyConvEnsemble([41, 42], shape);
    const x = tf.tensor4d(uniform(new Rng(8), 5 * 36, 0, 1), [5, ...shape]);
    const labels = tf.tensor1d([0, 1, 2, 0, 1], 'int32');
    for (const params of [{ eps: 0.1, queries: 1, seed: 0 }, { eps: 0.1, queries: 30, seed: 0 }, { eps: 0, queries: 30, seed: 0 }]) {
      const before = tf.memory().numTensors;
      const result = square(probabilitiesOf(ensemble), x, labels, params);
      assert.equal(tf.memory().numTensors, before + 1, JSON.stringify(params));
      result.adversarial.dispose();
    }
    tf.dispose([x, labels]);
    ensemble.dispose();
  });
});

describe('an empty batch', () => {
  test('returns an empty batch without a query', () => {
    let calls = 0;
    const x = tf.zeros([0, 6, 6, 1]) as tf.Tensor4D;
    const labels = tf.tensor1d([], 'int32');
    const result = square((z) => (calls++, tf.zeros([z.shape[0], 3])), x, labels, { eps: 0.1, queries: 10, seed: 0 });
    assert.deepEqual(result.adversarial.shape, [0, 6, 6, 1]);
    assert.equal(calls, 0);
    assert.equal(result.queries.length, 0);
    tf.dispose([x, labels, result.adversarial]);
  });
});

describe('argument checks', () => {
  const cases: [string, SquareParams, string][] = [
    ['a budget of 0 queries', { eps: 0.1, queries: 0, seed: 0 }, 'queries'],
    ['a fractional budget', { eps: 0.1, queries: 2.5, seed: 0 }, 'queries'],
    ['ε < 0', { eps: -1, queries: 10, seed: 0 }, 'eps'],
    ['p_init = 0', { eps: 0.1, queries: 10, seed: 0, pInit: 0 }, 'pInit'],
    ['p_init > 1', { eps: 0.1, queries: 10, seed: 0, pInit: 1.5 }, 'pInit'],
  ];
  for (const [what, params, param] of cases) {
    test(`refuses ${what}, naming the parameter ${param}`, () => {
      const x = tf.zeros([1, 6, 6, 1]) as tf.Tensor4D;
      const labels = tf.tensor1d([0], 'int32');
      assert.throws(() => square((z) => tf.zeros([z.shape[0], 3]), x, labels, params), (e: unknown) => e instanceof ParamError && e.exitCode === 2 && e.param === param && userMessage(e).startsWith(`${flagOf(param)}: `) && !userMessage(e).includes('\n'));
      tf.dispose([x, labels]);
    });
  }
});
