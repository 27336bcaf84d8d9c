/**
 * The open-choices study against hand-computed cases: linear members whose input gradients are known in
 * closed form (each reading of Grad. 2, the attacked label, the step's projection and clipping, the scale of
 * ε), a decision where the majority vote and the mean of probabilities disagree, the gradient alignment's
 * cosines, and ensdef's own reading against the `bim` attack of the registry on the same ensemble.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { grad2 } from '../../src/attacks/gradients.ts';
import { attackDefinition } from '../../src/attacks/registry.ts';
import { initBackend } from '../../src/backend/select.ts';
import { Ensemble } from '../../src/ensembles/ensemble.ts';
import { alignmentSums } from '../../src/eval/alignment.ts';
import { choicesTable } from '../../src/eval/open-choices-run.ts';
import {
  CELLS,
  ENSDEF_READING,
  adversarialBatch,
  attackKey,
  choiceJobs,
  DECISION_PREDICTORS,
  hasPaperOrder,
  pixelStd,
  readingLoss,
  readings,
  stepDirection,
  type Cell,
  type PaperSchedules,
  type Reading,
} from '../../src/eval/open-choices.ts';
import { Rng } from '../../src/run/rng.ts';
import { linearModel, oneHot, tinyConvEnsemble, uniform } from '../helpers/attack-fixtures.ts';

const SHAPE: [number, number, number] = [1, 2, 1];
const MNIST_PAPER: PaperSchedules = { fgsm: { eps: 0.3 }, bim: { eps: 0.2, alpha: 0.025, steps: 8 } };
const cell = (id: string): Cell => CELLS.find((c) => c.id === id)!;

before(async () => {
  await initBackend('wasm');
});

/**
 * Three two-class linear members without bias. At x = 0 each predicts (½, ½), so with y = class 0 its input
 * gradient is ½ (W[:, 1] − W[:, 0]): A (1, −3), B (−2, 1), C (1, 1).
 */
function handEnsemble(scaleA = 1): Ensemble {
  const member = (column1: [number, number]) => linearModel(SHAPE, Float32Array.from([0, column1[0], 0, column1[1]]), Float32Array.from([0, 0])).model;
  return new Ensemble([member([2 * scaleA, -6 * scaleA]), member([-4, 2]), member([2, 2])]);
}

function values(t: tf.Tensor): number[] {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
}

describe('open choices', () => {
  test("each reading of Grad. 2's direction, by hand", () => {
    const ensemble = handEnsemble();
    const expected: Record<Reading['grad2'], number[]> = {
      // mean (0, −1/3) and sum (0, −1) have the same sign
      'sign-of-mean': [0, -1],
      'sign-of-sum': [0, -1],
      // signs (1, −1), (−1, 1), (1, 1)
      'mean-of-signs': [1 / 3, 1 / 3],
      'sign-vote': [1, 1],
    };
    for (const [grad2, direction] of Object.entries(expected)) {
      const got = values(tf.tidy(() => stepDirection(ensemble, cell('fgsm-grad2'), { ...ENSDEF_READING, grad2: grad2 as Reading['grad2'] }, tf.zeros([1, ...SHAPE]) as tf.Tensor4D, oneHot([0], 2))));
      got.forEach((v, i) => assert.ok(Math.abs(v - direction[i]) < 1e-6, `${grad2}: got ${got}, expected ${direction}`));
    }
    ensemble.dispose();
  });

  test('the attacked label: the true one, or the model’s own prediction', () => {
    // At (½, ½) member 0 predicts class 1 (z = (0, 1)); its gradient at the true class 0 is p₁ (2, −6), at class 1 (p₁ − 1)(2, −6).
    const member = linearModel(SHAPE, Float32Array.from([0, 2, 0, -6]), Float32Array.from([0, 3])).model;
    const ensemble = new Ensemble([member, linearModel(SHAPE, Float32Array.from([0, 0, 0, 0]), Float32Array.from([0, 0])).model]);
    const x = tf.tensor4d([0.5, 0.5], [1, ...SHAPE]);
    const fgsm = { ...cell('bim-grad1-single'), attack: 'fgsm' as const };
    for (const [label, expected] of [
      ['true', [0.8, 0.2]],
      ['predicted', [0.2, 0.8]],
    ] as const) {
      const result = adversarialBatch(ensemble, fgsm, { ...ENSDEF_READING, label }, MNIST_PAPER, 1, x, oneHot([0], 2));
      const got = values(result.adversarial);
      result.zeroGradient.dispose();
      got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${label}: ${got}`));
    }
    x.dispose();
    ensemble.dispose();
  });

  test("the step's projection and clipping, and the scale ε is given on", () => {
    const ensemble = handEnsemble();
    // Member 0's gradient at y = 0 is p₁ (2, −6): the FGSM step is ε (1, −1) whatever x is.
    const fgsm = { ...cell('bim-grad1-single'), attack: 'fgsm' as const };
    const run = (reading: Partial<Reading>, image: number[]) =>
      tf.tidy(() => {
        const result = adversarialBatch(ensemble, fgsm, { ...ENSDEF_READING, ...reading }, MNIST_PAPER, 0.25, tf.tensor4d(image, [1, ...SHAPE]), oneHot([0], 2));
        return result.adversarial;
      });
    const close = (got: number[], expected: number[]) => got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${got} vs ${expected}`));
    close(values(run({ step: 'project-and-clip' }, [0.9, 0.1])), [1, 0]);
    close(values(run({ step: 'clip-only' }, [0.9, 0.1])), [1, 0]);
    close(values(run({ step: 'project-only' }, [0.9, 0.1])), [1.2, -0.2]);
    close(values(run({ step: 'neither' }, [0.9, 0.1])), [1.2, -0.2]);
    close(values(run({ scale: 'symmetric' }, [0.5, 0.5])), [0.65, 0.35]);
    close(values(run({ scale: 'bytes' }, [0.5, 0.5])), [0.5 + 0.3 / 255, 0.5 - 0.3 / 255]);
    // standardized: ε times the std the caller measured (0.25 here)
    close(values(run({ scale: 'standardized' }, [0.5, 0.5])), [0.575, 0.425]);
    ensemble.dispose();
  });

  test('majority vote and mean probabilities can disagree', () => {
    // Two members give class 0 a bare majority (p₀ = 0.51), one gives class 1 p₁ = 0.99: the mean says 1, the vote 0.
    const biased = (b: [number, number]) => linearModel(SHAPE, new Float32Array(4), Float32Array.from(b)).model;
    const weak = Math.log(0.51 / 0.49);
    const ensemble = new Ensemble([biased([weak, 0]), biased([weak, 0]), biased([0, Math.log(99)])]);
    const x = tf.zeros([1, ...SHAPE]) as tf.Tensor4D;
    assert.deepEqual(values(DECISION_PREDICTORS['mean-probabilities'](ensemble)(x)), [1]);
    assert.deepEqual(values(DECISION_PREDICTORS['majority-vote'](ensemble)(x)), [0]);
    x.dispose();
    ensemble.dispose();
  });

  test('the squared error of probabilities, by hand', () => {
    // softmax(0, 0) = (½, ½) against (1, 0): (½ − 1)² + ½² = ½
    assert.ok(Math.abs(values(tf.tidy(() => readingLoss(tf.zeros([1, 2]) as tf.Tensor2D, oneHot([0], 2), 'squared-probs')))[0] - 0.5) < 1e-7);
  });

  test('pixelStd against a hand-computed case', () => {
    assert.ok(Math.abs(pixelStd(Float32Array.from([0, 1, 0, 1])) - 0.5) < 1e-12);
  });

  test("gradient alignment: the members' cosines, by hand", () => {
    const ensemble = handEnsemble();
    const [pairwise, toMean, agreement] = values(tf.tidy(() => alignmentSums(ensemble, tf.zeros([1, ...SHAPE]) as tf.Tensor4D, oneHot([0], 2))));
    // A (1, −3), B (−2, 1), C (1, 1); their mean (0, −1/3), its sign (0, −1)
    const expectedPairwise = (-5 / Math.sqrt(50) - 2 / Math.sqrt(20) - 1 / Math.sqrt(10)) / 3;
    const expectedToMean = (3 / Math.sqrt(10) - 1 / Math.sqrt(5) - 1 / Math.sqrt(2)) / 3;
    assert.ok(Math.abs(pairwise - expectedPairwise) < 1e-6, `pairwise ${pairwise} vs ${expectedPairwise}`);
    assert.ok(Math.abs(toMean - expectedToMean) < 1e-6, `to mean ${toMean} vs ${expectedToMean}`);
    assert.ok(Math.abs(agreement - 1 / 6) < 1e-6, `agreement ${agreement}`);
    ensemble.dispose();
  });

  test("gradient alignment: a saturated member's tiny gradient keeps its direction", () => {
    // A scaled by 1e-24: its squares underflow float32, its direction is still (1, −3). The mean is
    // (−1/3, 2/3) to float precision, its sign (−1, 1).
    const ensemble = handEnsemble(1e-24);
    const [pairwise, toMean, agreement] = values(tf.tidy(() => alignmentSums(ensemble, tf.zeros([1, ...SHAPE]) as tf.Tensor4D, oneHot([0], 2))));
    const expectedPairwise = (-5 / Math.sqrt(50) - 2 / Math.sqrt(20) - 1 / Math.sqrt(10)) / 3;
    const meanNorm = Math.sqrt(1 / 9 + 4 / 9);
    const cosToMean = ([u, v]: number[]) => (u * (-1 / 3) + v * (2 / 3)) / (Math.hypot(u, v) * meanNorm);
    const expectedToMean = (cosToMean([1, -3]) + cosToMean([-2, 1]) + cosToMean([1, 1])) / 3;
    assert.ok(Math.abs(pairwise - expectedPairwise) < 1e-6, `pairwise ${pairwise} vs ${expectedPairwise}`);
    assert.ok(Math.abs(toMean - expectedToMean) < 1e-6, `to mean ${toMean} vs ${expectedToMean}`);
    // signs A (1, −1), B (−1, 1), C (1, 1) against (−1, 1): 0, 1, ½
    assert.ok(Math.abs(agreement - 0.5) < 1e-6, `agreement ${agreement}`);
    ensemble.dispose();
  });

  test("ensdef's reading is the registry's BIM with Grad. 2, bit for bit", () => {
    const shape: [number, number, number] = [6, 6, 1];
    const ensemble = tinyConvEnsemble([3, 7, 11], shape);
    const images = uniform(new Rng(5), 4 * 36, 0, 1);
    const before = tf.memory().numTensors;
    const [ours, registry] = tf.tidy(() => {
      const x = tf.tensor4d(images, [4, ...shape]);
      const y = oneHot([0, 1, 2, 1]);
      const study = adversarialBatch(ensemble, cell('bim-grad2'), ENSDEF_READING, MNIST_PAPER, 1, x, y);
      const bim = attackDefinition('bim').run({ x, y, gradient: grad2(ensemble, 'logits') } as never, MNIST_PAPER.bim);
      return [study.adversarial, bim.adversarial];
    });
    assert.deepEqual(values(ours), values(registry));
    assert.equal(tf.memory().numTensors, before);
    ensemble.dispose();
  });

  test('readings that differ only in what a cell ignores share its measurement', () => {
    const list = readings();
    const jobs = choiceJobs(list);
    const keys = new Set(list.flatMap(({ reading }) => CELLS.map((c) => attackKey(c, reading))));
    assert.equal(jobs.length, keys.size);
    // The decision changes no adversarial example; Grad. 2's combination changes none of Grad. 1's.
    const decision = { ...ENSDEF_READING, decision: 'majority-vote' as const };
    const vote = { ...ENSDEF_READING, grad2: 'sign-vote' as const };
    for (const c of CELLS) assert.equal(attackKey(c, decision), attackKey(c, ENSDEF_READING));
    assert.equal(attackKey(cell('bim-grad1-single'), vote), attackKey(cell('bim-grad1-single'), ENSDEF_READING));
    assert.notEqual(attackKey(cell('bim-grad2'), vote), attackKey(cell('bim-grad2'), ENSDEF_READING));
  });

  test("the paper's order, and the table marks it", () => {
    assert.equal(hasPaperOrder([0.8875, 0.6518, 0.4517, 0.0906]), true);
    assert.equal(hasPaperOrder([0.01, 0.09, 0.03, 0.0]), false);
    assert.equal(hasPaperOrder([0.5, 0.5, 0.4, 0.1]), false);
    const reading = ENSDEF_READING;
    const rows = CELLS.map((c, i) => ({ attackKey: attackKey(c, reading), scoreKey: c.scoredOn === 'single' ? 'member 0' : 'ensemble decision=mean-probabilities', correct: [90, 60, 40, 10][i], zeroDirection: 0, n: 100, seconds: 1 }));
    const clean = { 'member 0': 0.99, 'ensemble decision=mean-probabilities': 0.99, 'ensemble decision=majority-vote': 0.98 };
    const table = choicesTable([{ name: 'ensdef', reading }], rows, clean, { dataset: 'mnist', n: 100, std: 0.3, runName: 'r', members: 3 });
    assert.match(table, /\| paper \(random-init\) \| 0\.8875 \| 0\.6518 \| 0\.4517 \| 0\.0906 \| yes \|/);
    assert.match(table, /\| ensdef \| 0\.90 \[0\.83, 0\.94\] \| 0\.60 \[/);
    assert.match(table, /\*\*yes\*\* \|$/m);
  });
});
