/**
 * APGD (apgd-core.ts): the threat model on random linear and conv models, the analytic optimum of a
 * two-class linear model, success on three-class linear models wherever an adversarial example exists,
 * the checkpoints against the paper's formula, the step-size halving (convergence to an interior maximum),
 * restarts (only unbroken examples rerun, the first success kept), zero gradients, seeds, leaks, arguments;
 * the per-example selection against tf.where with a broadcast [B, 1, 1, 1] condition (its earlier form).
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { selectExamples } from '../../src/attacks/iterative.ts';
import { apgd, apgdCheckpoints, crossEntropyObjective, dlrObjective, objectiveWithGradient, type ApgdParams, type Objective, type Scores } from '../../src/attacks/apgd-core.ts';
import { crossEntropyLoss, logMeanProbabilities } from '../../src/attacks/dlr.ts';
import { grad2 } from '../../src/attacks/gradients.ts';
import { ensemblePredictor, scorerOf, type Scorer } from '../../src/attacks/scoring.ts';
import { initBackend } from '../../src/backend/select.ts';
import { Ensemble } from '../../src/ensembles/ensemble.ts';
import { flagOf, ParamError, userMessage } from '../../src/errors.ts';
import { Rng } from '../../src/run/rng.ts';
import { linearModel, logitsOf, randomLinearModel, tinyConvEnsemble, uniform, worstLinearMargin } from '../helpers/attack-fixtures.ts';

const SHAPE: [number, number, number] = [6, 6, 1];
const D = 36;

before(async () => {
  await initBackend('wasm');
});

const oneHotOf = (labels: ArrayLike<number>, classes: number) => tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), classes).toFloat() as tf.Tensor2D);

/** The ensemble's scores for APGD: log p̄ (a single member: log softmax of its logits). */
const scoresOf = (ensemble: Ensemble): Scores => (x) => tf.tidy(() => logMeanProbabilities(ensemble.allMemberLogits(x)));

interface Values {
  adversarial: Float32Array;
  zeroGradient: Uint8Array;
}

function run(objective: Objective, images: Float32Array, labels: number[], classes: number, params: ApgdParams, isCorrect?: Scorer): Values {
  const x = tf.tensor4d(images, [labels.length, ...SHAPE]);
  const y = oneHotOf(labels, classes);
  const result = apgd(objective, x, y, params, isCorrect);
  const values = { adversarial: Float32Array.from(result.adversarial.dataSync()), zeroGradient: Uint8Array.from(result.zeroGradient.dataSync()) };
  tf.dispose([x, y, result.adversarial, result.zeroGradient]);
  return values;
}

function argmaxRows(rows: number[][]): number[] {
  return rows.map((row) => row.indexOf(Math.max(...row)));
}

function ensembleLabels(ensemble: Ensemble, images: Float32Array): number[] {
  const perMember = ensemble.members.map((m) => logitsOf(m, images, SHAPE));
  return argmaxRows(perMember[0].map((_, i) => perMember[0][i].map((_, c) => perMember.reduce((sum, rows) => sum + Math.exp(rows[i][c] - Math.max(...rows[i])) / rows[i].reduce((s, l) => s + Math.exp(l - Math.max(...rows[i])), 0), 0))));
}

function assertInThreatModel(what: string, adversarial: Float32Array, images: Float32Array, eps: number): number {
  let distance = 0;
  adversarial.forEach((v, j) => {
    assert.ok(v >= 0 && v <= 1, `${what}: pixel ${v} outside [0, 1]`);
    distance = Math.max(distance, Math.abs(v - images[j]));
  });
  assert.ok(distance <= eps + 1e-6, `${what}: ‖x_adv − x‖∞ = ${distance} > ε = ${eps}`);
  return distance;
}

/** Images with pixels on the box edges too, where the [0, 1] clip must bind. */
const boxImages = (rng: Rng, n: number) => uniform(rng, n * D, -0.3, 1.3).map((v) => Math.min(1, Math.max(0, v)));

describe('threat model: ‖x_adv − x‖∞ ≤ ε and x_adv ∈ [0, 1]', () => {
  test('random linear models and random inputs, CE and DLR, with and without a success test, several seeds', () => {
    for (const seed of [1, 2, 3]) {
      const rng = new Rng(100 + seed);
      const single = new Ensemble([randomLinearModel(rng, SHAPE, 0.5).model]);
      const n = 5;
      const images = boxImages(rng, n);
      const labels = Array.from({ length: n }, () => rng.int(3));
      const scorer = scorerOf(ensemblePredictor(single));
      for (const eps of [0, 0.01, 0.1, 0.3, 1]) {
        for (const [name, objective] of [['ce', crossEntropyObjective(scoresOf(single))], ['dlr', dlrObjective(scoresOf(single))]] as const) {
          for (const isCorrect of [undefined, scorer]) {
            const what = `seed ${seed} ${name} ε=${eps}${isCorrect ? ' scored' : ''}`;
            const { adversarial, zeroGradient } = run(objective, images, labels, 3, { eps, steps: 6, restarts: 2, seed }, isCorrect);
            const distance = assertInThreatModel(what, adversarial, images, eps);
            if (eps === 0) {
              assert.deepEqual(adversarial, images, `${what}: ε = 0 must return x`);
              assert.ok(zeroGradient.every((z) => z === 0), `${what}: ε = 0 evaluates no gradient`);
            } else {
              assert.ok(distance > eps / 2, `${what}: the attack did not move (${distance})`);
            }
          }
        }
      }
      single.dispose();
    }
  });

  test('a tiny conv ensemble on log p̄, several seeds', () => {
    const ensemble = tinyConvEnsemble([7, 8], SHAPE);
    const scorer = scorerOf(ensemblePredictor(ensemble));
    for (const seed of [4, 5]) {
      const images = boxImages(new Rng(seed), 4);
      const labels = ensembleLabels(ensemble, images);
      for (const eps of [0.05, 0.3]) {
        const { adversarial } = run(dlrObjective(scoresOf(ensemble)), images, labels, 3, { eps, steps: 5, restarts: 2, seed }, scorer);
        assertInThreatModel(`conv seed ${seed} ε=${eps}`, adversarial, images, eps);
      }
    }
    ensemble.dispose();
  });
});

describe('a two-class linear model: APGD-CE reaches the optimum x* = P(x − ε·sign(w_y − w_k))', () => {
  const rng = new Rng(31);
  const W = uniform(rng, D * 2, -1, 1);
  const b = uniform(rng, 2, -0.5, 0.5);
  const single = new Ensemble([linearModel(SHAPE, W, b).model]);
  const n = 8;
  const images = boxImages(rng, n);
  const labels = Array.from({ length: n }, (_, i) => i % 2);
  const margin64 = (x: ArrayLike<number>, y: number) => {
    let m = b[y] - b[1 - y];
    for (let d = 0; d < D; d++) m += x[d] * (W[d * 2 + y] - W[d * 2 + 1 - y]);
    return m;
  };
  const optimum = (image: Float32Array, y: number, eps: number) =>
    Array.from(image, (v, d) => (W[d * 2 + y] - W[d * 2 + 1 - y] > 0 ? Math.max(v - eps, 0) : Math.min(v + eps, 1)));

  for (const scored of [false, true]) {
    test(`every example, ε ∈ {0.02, 0.1}${scored ? ', with a success test' : ''}`, () => {
      let flipped = 0;
      for (const eps of [0.02, 0.1]) {
        const { adversarial } = run(crossEntropyObjective(scoresOf(single)), images, labels, 2, { eps, steps: 20, restarts: 1, seed: 3 }, scored ? scorerOf(ensemblePredictor(single)) : undefined);
        for (let i = 0; i < n; i++) {
          const best = optimum(images.subarray(i * D, (i + 1) * D), labels[i], eps);
          const found = adversarial.subarray(i * D, (i + 1) * D);
          const optimal = margin64(best, labels[i]);
          assert.ok(Math.abs(margin64(found, labels[i]) - optimal) < 1e-4, `ε=${eps} example ${i}: margin ${margin64(found, labels[i])}, optimum ${optimal}`);
          best.forEach((v, d) => assert.ok(Math.abs(found[d] - v) < 1e-6, `ε=${eps} example ${i} pixel ${d}: ${found[d]} vs ${v}`));
          if (optimal < 0) flipped++;
        }
      }
      assert.ok(flipped > 0 && flipped < 2 * n, `ε chosen badly: ${flipped} of ${2 * n} optima flip the prediction`);
    });
  }
});

describe('three-class linear models: APGD-DLR breaks every example that can be broken at ε', () => {
  test('success iff min_k min_{x\'} (z_y − z_k)(x\') < 0, found analytically per class pair', () => {
    let breakable = 0;
    let robust = 0;
    for (const seed of [41, 42, 43]) {
      const rng = new Rng(seed);
      const linear = randomLinearModel(rng, SHAPE, 0.3);
      const single = new Ensemble([linear.model]);
      const n = 10;
      const images = boxImages(rng, n);
      const labels = argmaxRows(logitsOf(linear.model, images, SHAPE));
      const eps = 0.06;
      const { adversarial } = run(dlrObjective(scoresOf(single)), images, labels, 3, { eps, steps: 30, restarts: 2, seed }, scorerOf(ensemblePredictor(single)));
      const after = argmaxRows(logitsOf(linear.model, adversarial, SHAPE));
      for (let i = 0; i < n; i++) {
        const y = labels[i];
        const image = images.subarray(i * D, (i + 1) * D);
        const worst = worstLinearMargin(linear, image, y, eps);
        if (Math.abs(worst) < 1e-3) continue; // too close to call in float32
        if (worst < 0) {
          breakable++;
          assert.notEqual(after[i], y, `seed ${seed} example ${i}: breakable (optimal margin ${worst}) but not broken`);
        } else {
          robust++;
          assert.equal(after[i], y, `seed ${seed} example ${i}: broken although the optimal margin is ${worst}`);
        }
      }
      single.dispose();
    }
    assert.ok(breakable >= 5 && robust >= 5, `ε chosen badly: ${breakable} breakable, ${robust} robust`);
  });
});

describe('step-size control', () => {
  test('checkpoints follow the paper: p₀ = 0, p₁ = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)', () => {
    for (const steps of [100, 1000]) {
      const paper: number[] = [];
      let [previous, current] = [0, 0.22];
      while (current <= 1) {
        paper.push(Math.ceil(Math.round(current * steps * 1e6) / 1e6));
        [previous, current] = [current, current + Math.max(current - previous - 0.03, 0.06)];
      }
      assert.deepEqual(apgdCheckpoints(steps), paper, `n = ${steps}`);
    }
    assert.deepEqual(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
    assert.deepEqual(apgdCheckpoints(5), [1, 2, 3, 4, 5]);
  });

  test('until the first checkpoint each step is x_{k+1} = P(x_k + α(P(x_k + 2ε·sign g_k) − x_k) + (1 − α)(x_k − x_{k−1}))', () => {
    // n = 20: first checkpoint after ⌊0.22·20⌋ = 4 iterations, so x_1..x_4 all use η = 2ε; x_1 has α = 1.
    const eps = 0.1;
    const n = 2;
    const rng = new Rng(17);
    const images = uniform(rng, n * D, 0.3, 0.7);
    const centres = images.map((v) => v + (rng.next() - 0.5) * 3 * eps); // some inside the ball, some outside
    const centre = tf.tensor4d(centres, [n, ...SHAPE]);
    const seen: Float32Array[] = [];
    const objective: Objective = (x) =>
      tf.tidy(() => {
        seen.push(Float32Array.from(x.dataSync()));
        const { value, grad } = tf.valueAndGrad((input: tf.Tensor) => tf.neg(tf.sum(tf.square(tf.sub(input, centre)), [1, 2, 3])))(x);
        return { value: value as tf.Tensor1D, gradient: grad as tf.Tensor4D };
      });
    for (const momentum of [0.75, 0.5]) {
      seen.length = 0;
      run(objective, images, [0, 1], 2, { eps, steps: 20, restarts: 1, seed: 4, momentum }, undefined);
      const project = (v: number, j: number) => Math.min(Math.max(v, images[j] - eps, 0), images[j] + eps, 1);
      for (let k = 0; k < 4; k++) {
        const weight = k === 0 ? 1 : momentum;
        seen[k + 1].forEach((actual, j) => {
          const x = seen[k][j];
          const z = project(x + 2 * eps * Math.sign(centres[j] - x), j);
          const expected = project(x + weight * (z - x) + (1 - weight) * (k === 0 ? 0 : x - seen[k - 1][j]), j);
          assert.ok(Math.abs(actual - expected) < 1e-6, `α=${momentum} x_${k + 1}[${j}] = ${actual}, expected ${expected}`);
        });
      }
    }
    centre.dispose();
  });

  describe('the two halving conditions, on scripted losses (gradient all ones: every iterate sits at the + corner)', () => {
    // n = 20: checkpoints after iterations 4, 7, 9, 10, ... A halving restarts from x_max (here the random
    // start s, whose scripted loss 10 is never beaten) with η = ε, so the next iterate is
    // P(s + α(P(s + ε) − s) + (1 − α)(s − corner)) instead of the corner.
    const eps = 0.1;
    const images = uniform(new Rng(23), 2 * D, 0.3, 0.7);
    const project = (v: number, j: number) => Math.min(Math.max(v, images[j] - eps, 0), images[j] + eps, 1);
    const corner = images.map((v, j) => project(v + eps, j));
    /** `flipAt`: the call whose gradient is −1 instead (a restart must use x_max's gradient, not that one). */
    const trace = (losses: number[], rho: number, flipAt = -1) => {
      const seen: Float32Array[] = [];
      const objective: Objective = (x) =>
        tf.tidy(() => {
          seen.push(Float32Array.from(x.dataSync()));
          const sign = seen.length - 1 === flipAt ? -1 : 1;
          return { value: tf.fill([x.shape[0]], losses[seen.length - 1] ?? 0) as tf.Tensor1D, gradient: tf.mul(tf.onesLike(x), sign) as tf.Tensor4D };
        });
      run(objective, images, [0, 1], 2, { eps, steps: 20, restarts: 1, seed: 6, rho });
      return seen;
    };
    const restarted = (seen: Float32Array[], at: number) =>
      seen[at].every((actual, j) => {
        const s = seen[0][j];
        return Math.abs(actual - project(s + 0.75 * (project(s + eps, j) - s) + 0.25 * (s - corner[j]), j)) < 1e-6;
      });
    const atCorner = (iterate: Float32Array) => iterate.every((v, j) => Math.abs(v - corner[j]) < 1e-6);

    test('(1) at most ρ of the steps since the last checkpoint increased the loss → halve at the first checkpoint', () => {
      const falling = trace([10, 4, 3, 2, 1], 0.75, 4); // no increase in 4 steps
      assert.ok(atCorner(falling[4]), 'x_4 is not at the corner');
      assert.ok(restarted(falling, 5), 'no halving and restart at the checkpoint after iteration 4');
      const rising = trace([10, 1, 2, 3, 4], 0.75); // 3 increases in 4 steps (≤ 0.75·4: halve, as the reference's ≤)
      assert.ok(restarted(rising, 5), '3 increases in 4 steps (≤ ρ·4) but no halving');
      const risingMore = trace([10, 1, 2, 3, 4], 0.5); // 3 > 0.5·4: keep η
      assert.ok(atCorner(risingMore[5]), 'halved although the loss rose in more than ρ of the steps');
    });

    test('(2) η not halved at the last checkpoint and the best loss unchanged since → halve', () => {
      // ρ = 0.5: 3/4 and then 2/3 increases never trigger (1); the best loss stays at the start's 10.
      const stalled = trace([10, 0, 1, 2, 3, 0, 1, 2], 0.5, 7);
      assert.ok(atCorner(stalled[5]), 'condition (2) cannot hold at the first checkpoint');
      assert.ok(atCorner(stalled[7]), 'x_7 is not at the corner');
      assert.ok(restarted(stalled, 8), 'no halving at the checkpoint after iteration 7');
      const improving = trace([10, 0, 1, 2, 3, 0, 11, 12], 0.5); // a new best since the last checkpoint
      assert.ok(atCorner(improving[8]), 'halved although the best loss improved');
    });
  });

  test('halving η converges to a maximum inside the ball, which a fixed step of 2ε cannot', () => {
    // f(x) = −Σ (x − c)² with c inside the ε-ball of x: sign steps of fixed size overshoot c by up to η.
    const n = 4;
    const rng = new Rng(7);
    const eps = 0.1;
    const images = uniform(rng, n * D, 0.3, 0.7);
    const centres = images.map((v) => v + (rng.next() - 0.5) * eps);
    const centre = tf.tensor4d(centres, [n, ...SHAPE]);
    let calls = 0;
    const objective: Objective = (x) =>
      tf.tidy(() => {
        calls++;
        const { value, grad } = tf.valueAndGrad((input: tf.Tensor) => tf.neg(tf.sum(tf.square(tf.sub(input, centre)), [1, 2, 3])))(x);
        return { value: value as tf.Tensor1D, gradient: grad as tf.Tensor4D };
      });
    const { adversarial } = run(objective, images, [0, 1, 0, 1], 2, { eps, steps: 100, restarts: 1, seed: 2 });
    centre.dispose();
    assert.equal(calls, 101, 'one gradient at the start and one per iteration');
    const error = Math.max(...Array.from(adversarial, (v, j) => Math.abs(v - centres[j])));
    assert.ok(error < eps / 50, `best point ${error} from the maximum (η halved at most 8 times: 2ε/256 = ${(2 * eps) / 256})`);
  });
});

describe('restarts', () => {
  // All images 0.5; f = (mean(x − 0.5)/ε)²: the first step goes to the corner x ± ε on the side the
  // random start leans to, and "fooled" means the + corner. Each restart fools about half of the rest.
  const n = 16;
  const eps = 0.1;
  const images = new Float32Array(n * D).fill(0.5);
  const labels = Array.from({ length: n }, () => 0);
  const batches: number[] = [];
  const lean = (x: tf.Tensor4D) => tf.div(tf.mean(tf.sub(x, 0.5), [1, 2, 3]), eps);
  const objective: Objective = (x) =>
    tf.tidy(() => {
      batches.push(x.shape[0]);
      const { value, grad } = tf.valueAndGrad((input: tf.Tensor) => tf.square(lean(input as tf.Tensor4D)))(x);
      return { value: value as tf.Tensor1D, gradient: grad as tf.Tensor4D };
    });
  const isCorrect: Scorer = (x) => tf.tidy(() => tf.less(lean(x), 0.5) as tf.Tensor1D);
  const fooled = (adversarial: Float32Array) => Array.from({ length: n }, (_, i) => adversarial.subarray(i * D, (i + 1) * D).every((v) => Math.abs(v - 0.6) < 1e-6));

  test('later restarts run only on the unbroken examples and keep the first success', () => {
    batches.length = 0;
    const one = run(objective, images, labels, 2, { eps, steps: 3, restarts: 1, seed: 9 }, isCorrect);
    const firstBroken = fooled(one.adversarial);
    batches.length = 0;
    const many = run(objective, images, labels, 2, { eps, steps: 3, restarts: 4, seed: 9 }, isCorrect);
    const manyBroken = fooled(many.adversarial);
    const count = (flags: boolean[]) => flags.filter(Boolean).length;
    assert.ok(count(firstBroken) > 0 && count(firstBroken) < n, `restart 0 broke ${count(firstBroken)} of ${n}`);
    assert.ok(count(manyBroken) > count(firstBroken), 'later restarts broke nothing more: the test cannot see them');
    firstBroken.forEach((broken, i) => {
      if (broken) assert.ok(manyBroken[i], `example ${i} broken by restart 0 but not kept`);
    });
    // Restart 0 on all n (4 evaluations), restart 1 on the n − broken ones, and so on, never growing.
    assert.deepEqual(batches.slice(0, 4), [n, n, n, n]);
    assert.equal(batches[4], n - count(firstBroken));
    for (let i = 1; i < batches.length; i++) assert.ok(batches[i] <= batches[i - 1], `evaluation ${i} on ${batches[i]} examples after ${batches[i - 1]}`);
    assert.equal(batches.length % 4, 0);
    // Unbroken examples keep their highest-loss point, the − corner (loss 1 as well): still in the ball.
    assertInThreatModel('restarts', many.adversarial, images, eps);
  });

  test('without a success test every restart runs on every example', () => {
    batches.length = 0;
    run(objective, images, labels, 2, { eps, steps: 3, restarts: 3, seed: 9 });
    assert.deepEqual(batches, Array(12).fill(n));
  });
});

describe('seeds', () => {
  const ensemble = tinyConvEnsemble([21, 22], SHAPE);
  const images = uniform(new Rng(12), 6 * D, 0, 1);
  const labels = ensembleLabels(ensemble, images);
  const attack = (seed: number) => run(crossEntropyObjective(scoresOf(ensemble)), images, labels, 3, { eps: 0.05, steps: 5, restarts: 2, seed }, scorerOf(ensemblePredictor(ensemble))).adversarial;

  test('the same seed gives the same examples; another seed other ones', () => {
    assert.deepEqual(attack(5), attack(5));
    assert.notDeepEqual(attack(5), attack(6));
  });
});

describe('exactly zero gradients', () => {
  // f = Σ x · y₁: example b's gradient is all-ones where its label is 1 and exactly zero where it is 0.
  const objective: Objective = (x, y) =>
    tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad((input: tf.Tensor) => tf.mul(tf.sum(input, [1, 2, 3]), tf.squeeze(tf.slice(y, [0, 1], [-1, 1]), [1])))(x);
      return { value: value as tf.Tensor1D, gradient: grad as tf.Tensor4D };
    });
  const images = uniform(new Rng(5), 4 * D, 0.2, 0.8);

  test('flagged per example, over every restart', () => {
    const { zeroGradient, adversarial } = run(objective, images, [0, 1, 1, 0], 2, { eps: 0.1, steps: 4, restarts: 2, seed: 1 });
    assert.deepEqual(Array.from(zeroGradient), [1, 0, 0, 1]);
    assertInThreatModel('zero gradients', adversarial, images, 0.1);
  });
});

describe('selecting examples', () => {
  test('bit for bit what tf.where gives with the condition broadcast from [B, 1, 1, 1], NaN, ±0 and ±∞ included', () => {
    const shape: [number, number, number, number] = [5, 3, 2, 4];
    const rng = new Rng(12);
    const special = [Number.NaN, -0, 0, Infinity, -Infinity];
    const values = () => Float32Array.from({ length: 5 * 24 }, (_, i) => (i % 7 === 0 ? special[i % special.length] : rng.next() * 2 - 1));
    const a = tf.tensor4d(values(), shape);
    const b = tf.tensor4d(values(), shape);
    for (const mask of [[0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 1, 0], [0, 1, 1, 0, 1]]) {
      const broadcast = tf.tidy(() => tf.where(tf.tensor4d(Uint8Array.from(mask), [5, 1, 1, 1], 'bool'), a, b).dataSync());
      const before = tf.memory().numTensors;
      const selected = selectExamples(mask, a, b);
      assert.equal(tf.memory().numTensors, before + 1, 'only the selection is left');
      const got = selected.dataSync();
      selected.dispose();
      assert.ok(got.every((v, i) => Object.is(v, broadcast[i])), `mask ${mask}`);
    }
    tf.dispose([a, b]);
  });
});

describe('no tensor leaks', () => {
  const ensemble = tinyConvEnsemble([41, 42], SHAPE);
  const images = uniform(new Rng(8), 5 * D, 0, 1);
  const labels = ensembleLabels(ensemble, images);

  test('whatever the objective, steps, restarts and success test, only the result is left', () => {
    const x = tf.tensor4d(images, [5, ...SHAPE]);
    const y = oneHotOf(labels, 3);
    const scorer = scorerOf(ensemblePredictor(ensemble));
    const cases: [Objective, ApgdParams, Scorer | undefined][] = [
      [crossEntropyObjective(scoresOf(ensemble)), { eps: 0.1, steps: 1, restarts: 1, seed: 0 }, undefined],
      [dlrObjective(scoresOf(ensemble)), { eps: 0.1, steps: 7, restarts: 3, seed: 0 }, scorer],
      [crossEntropyObjective(scoresOf(ensemble)), { eps: 0.3, steps: 7, restarts: 3, seed: 0 }, scorer],
      [dlrObjective(scoresOf(ensemble)), { eps: 0, steps: 7, restarts: 3, seed: 0 }, scorer],
    ];
    for (const [objective, params, isCorrect] of cases) {
      const before = tf.memory().numTensors;
      const result = apgd(objective, x, y, params, isCorrect);
      assert.equal(tf.memory().numTensors, before + 2, `${JSON.stringify(params)}: the result should be the only new tensors`);
      tf.dispose([result.adversarial, result.zeroGradient]);
    }
    tf.dispose([x, y]);
  });
});

describe('objectiveWithGradient (APGD on the paper\'s Grad. 2)', () => {
  test('the value of the ensemble\'s loss, the gradient of the other source, no tensor left behind', () => {
    const ensemble = tinyConvEnsemble([61, 62], SHAPE);
    const images = uniform(new Rng(13), 3 * D, 0, 1);
    const x = tf.tensor4d(images, [3, ...SHAPE]);
    const y = oneHotOf([0, 1, 2], 3);
    const source = grad2(ensemble, 'logits');
    const mixed = objectiveWithGradient(crossEntropyLoss, scoresOf(ensemble), source)(x, y);
    const own = crossEntropyObjective(scoresOf(ensemble))(x, y);
    const expected = source(x, y);
    assert.deepEqual(mixed.value.dataSync(), own.value.dataSync());
    assert.deepEqual(mixed.gradient.dataSync(), expected.dataSync());
    assert.notDeepEqual(mixed.gradient.dataSync(), own.gradient.dataSync(), 'Grad. 2 and the ensemble\'s own gradient coincide: the test cannot tell them apart');
    const before = tf.memory().numTensors;
    const result = apgd(objectiveWithGradient(crossEntropyLoss, scoresOf(ensemble), source), x, y, { eps: 0.1, steps: 4, restarts: 1, seed: 0 });
    assert.equal(tf.memory().numTensors, before + 2);
    assertInThreatModel('grad 2', Float32Array.from(result.adversarial.dataSync()), images, 0.1);
    tf.dispose([x, y, mixed.value, mixed.gradient, own.value, own.gradient, expected, result.adversarial, result.zeroGradient]);
    ensemble.dispose();
  });
});

describe('nothing to do', () => {
  test('ε = 0 returns a clone of x without evaluating the objective', () => {
    let calls = 0;
    const objective: Objective = (x) => tf.tidy(() => (calls++, { value: tf.zeros([x.shape[0]]) as tf.Tensor1D, gradient: tf.onesLike(x) }));
    const x = tf.tensor4d(uniform(new Rng(3), 2 * D, 0, 1), [2, ...SHAPE]);
    const y = oneHotOf([0, 1], 3);
    const result = apgd(objective, x, y, { eps: 0, steps: 3, restarts: 2, seed: 0 });
    assert.equal(calls, 0);
    assert.notEqual(result.adversarial, x, 'a clone the caller owns, not x itself');
    assert.deepEqual(result.adversarial.dataSync(), x.dataSync());
    tf.dispose([x, y, result.adversarial, result.zeroGradient]);
  });

  test('an empty batch returns an empty batch without evaluating the objective', () => {
    let calls = 0;
    const objective: Objective = (x) => tf.tidy(() => (calls++, { value: tf.zeros([x.shape[0]]) as tf.Tensor1D, gradient: tf.zerosLike(x) }));
    const x = tf.zeros([0, ...SHAPE]) as tf.Tensor4D;
    const y = tf.zeros([0, 3]) as tf.Tensor2D;
    const result = apgd(objective, x, y, { eps: 0.1, steps: 3, restarts: 2, seed: 0 });
    assert.deepEqual(result.adversarial.shape, [0, ...SHAPE]);
    assert.equal(calls, 0);
    tf.dispose([x, y, result.adversarial, result.zeroGradient]);
  });
});

describe('argument checks', () => {
  const objective: Objective = (x) => tf.tidy(() => ({ value: tf.zeros([x.shape[0]]) as tf.Tensor1D, gradient: tf.zerosLike(x) }));
  const base = { eps: 0.1, steps: 10, restarts: 1, seed: 0 };
  const cases: [string, ApgdParams, string][] = [
    ['ε < 0', { ...base, eps: -0.1 }, 'eps'],
    ['n = 0', { ...base, steps: 0 }, 'steps'],
    ['n not an integer', { ...base, steps: 2.5 }, 'steps'],
    ['R = 0', { ...base, restarts: 0 }, 'restarts'],
    ['ρ = 0', { ...base, rho: 0 }, 'rho'],
    ['momentum > 1', { ...base, momentum: 1.5 }, 'momentum'],
  ];
  for (const [what, params, param] of cases) {
    test(`refuses ${what}, naming the parameter ${param}`, () => {
      const x = tf.zeros([1, ...SHAPE]) as tf.Tensor4D;
      const y = oneHotOf([0], 3);
      assert.throws(() => apgd(objective, x, y, params), (e: unknown) => e instanceof ParamError && e.exitCode === 2 && e.param === param && userMessage(e).startsWith(`${flagOf(param)}: `) && !userMessage(e).includes('\n'));
      tf.dispose([x, y]);
    });
  }
});
