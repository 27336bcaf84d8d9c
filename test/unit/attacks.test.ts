/**
 * FGSM, BIM and PGD: the FGSM step against the analytic gradient of a linear softmax model, the threat-model
 * invariants over a list of ε, argument checks, PGD's worst case over restarts, exact zero gradients, leaks.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fgsm } from '../../src/attacks/catalog/fgsm.ts';
import type { AttackParams, AttackResult, AttackSpec } from '../../src/attacks/definition.ts';
import { grad1, grad3, gradientHooks, type GradientHooks, type GradientSource } from '../../src/attacks/gradients.ts';
import { exactSign } from '../../src/attacks/iterative.ts';
import { attackDefinition, ATTACKS } from '../../src/attacks/registry.ts';
import { ensemblePredictor, scorerOf, type Scorer } from '../../src/attacks/scoring.ts';
import { initBackend } from '../../src/backend/select.ts';
import { datasetDescriptor } from '../../src/datasets/registry.ts';
import { Ensemble } from '../../src/ensembles/ensemble.ts';
import { ParamError } from '../../src/errors.ts';
import { measure, runAttack, type ScoreTarget } from '../../src/eval/measure.ts';
import { Rng } from '../../src/run/rng.ts';
import { CLASSES, linearModel, logitsOf, oneHot, randomLinearModel, softmax64, tinyConvEnsemble, uniform } from '../helpers/attack-fixtures.ts';

const SHAPE: [number, number, number] = [6, 6, 1];

/** An attack from the registry as a function of (x, y), on batch 0. */
function attackOf(attack: string, params: AttackParams, source: GradientSource, scorer: Scorer, ensemble: Ensemble): (x: tf.Tensor4D, y: tf.Tensor2D) => AttackResult {
  return (x, y) => runAttack({ definition: attackDefinition(attack), params }, hooksWith(ensemble, source), x, y, { scorer, probabilities: (input) => ensemble.probabilities(input) }, 0);
}

/** Grad. 3's hooks of `ensemble`, with `source` as the job's ∇x J. */
function hooksWith(ensemble: Ensemble, source: GradientSource): GradientHooks {
  return { ...gradientHooks(ensemble, { grad: '3', member: 0, loss: 'logits' }), gradient: source };
}
const D = 36;

before(async () => {
  await initBackend('wasm');
});

interface Values {
  adversarial: Float32Array;
  zeroGradient: Uint8Array;
}

/** Runs an attack on plain arrays and reads the result back, disposing every tensor it made. */
function attackValues(attack: (x: tf.Tensor4D, y: tf.Tensor2D) => AttackResult, images: Float32Array, labels: number[]): Values {
  const x = tf.tensor4d(images, [labels.length, ...SHAPE]);
  const y = oneHot(labels);
  const result = attack(x, y);
  const values = { adversarial: result.adversarial.dataSync() as Float32Array, zeroGradient: result.zeroGradient.dataSync() as Uint8Array };
  tf.dispose([x, y, result.adversarial, result.zeroGradient]);
  return values;
}

function argmaxRows(rows: number[][]): number[] {
  return rows.map((row) => row.indexOf(Math.max(...row)));
}

/** Labels = the ensemble's own clean predictions, so clean accuracy is 1 and every error is the attack's. */
function ensembleLabels(ensemble: Ensemble, images: Float32Array): number[] {
  const perMember = ensemble.members.map((m) => logitsOf(m, images, SHAPE).map(softmax64));
  return argmaxRows(perMember[0].map((_, i) => perMember[0][i].map((_, c) => perMember.reduce((sum, p) => sum + p[i][c], 0))));
}

function ensembleAccuracy(ensemble: Ensemble, images: Float32Array, labels: number[]): number {
  const predicted = ensembleLabels(ensemble, images);
  return predicted.filter((p, i) => p === labels[i]).length / labels.length;
}

test('exactSign is Math.sign, also for |g| below float32 epsilon (where the wasm Sign kernel returns 0)', () => {
  const values = [7e-13, -3e-9, 1e-7, -1e-6, 0.5, 0, -0, 1e-30, -2, 3e-38];
  const signs = tf.tidy(() => exactSign(tf.tensor4d(values, [1, 1, values.length, 1])).dataSync());
  assert.deepEqual(Array.from(signs), values.map((v) => Math.sign(v) + 0));
});

describe('FGSM on a linear softmax model', () => {
  const rng = new Rng(21);
  const linear = randomLinearModel(rng, SHAPE);
  const single = new Ensemble([linear.model]);
  const n = 8;
  const labels = Array.from({ length: n }, (_, i) => i % CLASSES);

  test('the step is ε · sign(W(p − y)), the analytic input gradient', () => {
    const images = uniform(rng, n * D, 0.35, 0.65); // interior: the [0, 1] clip never binds for ε ≤ 0.3
    for (const eps of [0.05, 0.3]) {
      const { adversarial } = attackValues((x, y) => fgsm(grad1(single, 0, 'logits'), x, y, eps), images, labels);
      labels.forEach((label, b) => {
        const image = images.subarray(b * D, (b + 1) * D);
        const logits = Array.from({ length: CLASSES }, (_, c) => linear.b[c] + image.reduce((s, v, d) => s + v * linear.W[d * CLASSES + c], 0));
        const p = softmax64(logits);
        for (let d = 0; d < D; d++) {
          const gradient = p.reduce((s, pc, c) => s + linear.W[d * CLASSES + c] * (pc - (c === label ? 1 : 0)), 0);
          assert.ok(Math.abs(gradient) > 1e-6);
          assert.ok(Math.abs(adversarial[b * D + d] - image[d] - eps * Math.sign(gradient)) < 1e-6);
        }
      });
    }
  });

  test('it breaks a toy model: most of its own predictions flip at ε = 0.3', () => {
    const images = uniform(rng, 40 * D, 0, 1);
    const predicted = argmaxRows(logitsOf(linear.model, images, SHAPE));
    const { adversarial } = attackValues((x, y) => fgsm(grad1(single, 0, 'logits'), x, y, 0.3), images, predicted);
    const after = argmaxRows(logitsOf(linear.model, adversarial, SHAPE));
    assert.ok(after.filter((p, i) => p === predicted[i]).length / predicted.length < 0.5);
  });
});

describe('threat-model invariants over ε, for every attack', () => {
  const ensemble = tinyConvEnsemble([7, 8, 9], SHAPE);
  const rng = new Rng(4);
  const n = 6;
  // Pixels on the box edges too, where the [0, 1] clip must bind.
  const images = uniform(rng, n * D, -0.3, 1.3).map((v) => Math.min(1, Math.max(0, v)));
  const labels = ensembleLabels(ensemble, images);
  const source = grad3(ensemble, 'logits');
  const scorer = scorerOf(ensemblePredictor(ensemble));
  // Every attack of the registry, with its parameters from a few values where it takes them.
  const mnist = datasetDescriptor('mnist');
  const attacks = ATTACKS.map((definition) => [
    definition.id,
    (eps: number) => attackOf(definition.id, definition.resolve(mnist, { eps, alpha: eps === 0 ? undefined : eps / 4, steps: 6, restarts: 2, seed: 1 }), source, scorer, ensemble),
  ] as const);

  test('the registry holds the paper attacks and PGD', () => {
    assert.deepEqual(attacks.map(([id]) => id).slice(0, 3), ['fgsm', 'bim', 'pgd']);
  });

  for (const [name, attack] of attacks) {
    test(`${name}: ‖x_adv − x‖∞ ≤ ε, x_adv ∈ [0, 1], ε = 0 is the identity`, () => {
      for (const eps of [0, 0.01, 0.05, 0.1, 0.3, 1]) {
        const { adversarial, zeroGradient } = attackValues(attack(eps), images, labels);
        let distance = 0;
        adversarial.forEach((v, j) => {
          assert.ok(v >= 0 && v <= 1, `${name} ε=${eps}: pixel ${v} outside [0, 1]`);
          distance = Math.max(distance, Math.abs(v - images[j]));
        });
        assert.ok(distance <= eps + 1e-6, `${name} ε=${eps}: ‖x_adv − x‖∞ = ${distance}`);
        if (eps === 0) {
          assert.deepEqual(adversarial, images);
          assert.ok(zeroGradient.every((z) => z === 0));
        } else {
          assert.ok(distance > eps / 8, `${name} ε=${eps}: the attack did not move (${distance})`);
        }
      }
    });
  }
});

describe('argument checks (cleverhans style, one-line usage errors)', () => {
  const ensemble = tinyConvEnsemble([1], SHAPE);
  const source = grad1(ensemble, 0, 'logits');
  const scorer = scorerOf(ensemblePredictor(ensemble));
  const images = new Float32Array(2 * D).fill(0.5);
  const cases: [string, AttackSpec, string][] = [
    ['ε < 0', { definition: attackDefinition('fgsm'), params: { eps: -0.1 } }, 'eps'],
    ['ε not a number', { definition: attackDefinition('fgsm'), params: { eps: NaN } }, 'eps'],
    ['α = 0', { definition: attackDefinition('bim'), params: { eps: 0.2, alpha: 0, steps: 8 } }, 'alpha'],
    ['α > ε', { definition: attackDefinition('bim'), params: { eps: 0.2, alpha: 0.3, steps: 8 } }, 'alpha'],
    ['n = 0', { definition: attackDefinition('bim'), params: { eps: 0.2, alpha: 0.02, steps: 0 } }, 'steps'],
    ['n not an integer', { definition: attackDefinition('pgd'), params: { eps: 0.2, alpha: 0.02, steps: 1.5, restarts: 1, seed: 0 } }, 'steps'],
    ['R = 0', { definition: attackDefinition('pgd'), params: { eps: 0.2, alpha: 0.02, steps: 2, restarts: 0, seed: 0 } }, 'restarts'],
  ];
  for (const [what, spec, param] of cases) {
    test(`${spec.definition.id} refuses ${what}, naming the parameter`, () => {
      const x = tf.tensor4d(images, [2, ...SHAPE]);
      const y = oneHot([0, 1]);
      assert.throws(() => runAttack(spec, hooksWith(ensemble, source), x, y, { scorer, probabilities: (input) => ensemble.probabilities(input) }, 0), (e: unknown) => e instanceof ParamError && e.exitCode === 2 && e.param === param && !e.message.includes('\n'));
      tf.dispose([x, y]);
    });
  }

  test('ε = 0 returns x whatever α is', () => {
    const { adversarial } = attackValues(attackOf('bim', { eps: 0, alpha: 0.5, steps: 3 }, source, scorer, ensemble), images, [0, 1]);
    assert.deepEqual(adversarial, images);
  });
});

describe('PGD', () => {
  const ensemble = tinyConvEnsemble([31, 32, 33], SHAPE);
  const rng = new Rng(9);
  const n = 40;
  const images = uniform(rng, n * D, 0, 1);
  const labels = ensembleLabels(ensemble, images);
  const source = grad3(ensemble, 'logits');
  const scorer: Scorer = scorerOf(ensemblePredictor(ensemble));
  const params = { eps: 0.04, alpha: 0.01, steps: 4 };
  const run = (restarts: number, seed: number) => attackValues(attackOf('pgd', { ...params, restarts, seed }, source, scorer, ensemble), images, labels);

  test('more restarts never score higher than one restart with the same seed, example by example', () => {
    let improved = 0;
    for (const seed of [1, 2, 3]) {
      const one = ensembleLabels(ensemble, run(1, seed).adversarial);
      const many = ensembleLabels(ensemble, run(6, seed).adversarial);
      one.forEach((p, i) => {
        if (p !== labels[i]) assert.notEqual(many[i], labels[i], `seed ${seed}: example ${i} broken by restart 0 but not kept`);
        if (p === labels[i] && many[i] !== labels[i]) improved++;
      });
    }
    const single = ensembleAccuracy(ensemble, run(1, 1).adversarial, labels);
    assert.ok(single > 0 && single < 1, `ε chosen badly: one restart leaves accuracy ${single}`);
    assert.ok(improved > 0, 'restarts never found anything restart 0 missed: the test cannot tell the restarts apart');
  });

  test('a seed fixes the random starts; another seed changes them', () => {
    assert.deepEqual(run(2, 5).adversarial, run(2, 5).adversarial);
    assert.notDeepEqual(run(2, 5).adversarial, run(2, 6).adversarial);
  });
});

describe('exactly zero gradients (the Keras clipped form on a saturated model)', () => {
  const W = new Float32Array(D * CLASSES);
  for (let d = 0; d < D; d++) W.set([2, 0.5, -0.5], d * CLASSES);
  const saturated = new Ensemble([linearModel(SHAPE, W, new Float32Array(CLASSES)).model]);
  const images = uniform(new Rng(2), 3 * D, 0.4, 0.6);
  const labels = [0, 0, 0];

  test('FGSM and BIM leave x in place and flag every example; with logits they move it', () => {
    const scorer = scorerOf(ensemblePredictor(saturated));
    const fgsmSpec: AttackSpec = { definition: attackDefinition('fgsm'), params: { eps: 0.3 } };
    const bimSpec: AttackSpec = { definition: attackDefinition('bim'), params: { eps: 0.3, alpha: 0.05, steps: 6 } };
    for (const spec of [fgsmSpec, bimSpec]) {
      const attack = (source: GradientSource) => attackOf(spec.definition.id, spec.params, source, scorer, saturated);
      const clipped = attackValues(attack(grad1(saturated, 0, 'clipped-probs')), images, labels);
      assert.deepEqual(clipped.adversarial, images);
      assert.deepEqual(Array.from(clipped.zeroGradient), [1, 1, 1]);
      const logits = attackValues(attack(grad1(saturated, 0, 'logits')), images, labels);
      assert.notDeepEqual(logits.adversarial, images);
      assert.deepEqual(Array.from(logits.zeroGradient), [0, 0, 0]);
    }
  });
});

describe('no tensor leaks', () => {
  const ensemble = tinyConvEnsemble([41, 42], SHAPE);
  const images = uniform(new Rng(8), 5 * D, 0, 1);
  const labels = [0, 1, 2, 0, 1];
  const scorer = scorerOf(ensemblePredictor(ensemble));
  const source = grad3(ensemble, 'clipped-probs');

  test('every attack, whatever its number of steps and restarts, leaves no tensor behind', () => {
    const x = tf.tensor4d(images, [5, ...SHAPE]);
    const y = oneHot(labels);
    const specs: AttackSpec[] = [
      { definition: attackDefinition('fgsm'), params: { eps: 0.1 } },
      { definition: attackDefinition('bim'), params: { eps: 0.1, alpha: 0.02, steps: 1 } },
      { definition: attackDefinition('bim'), params: { eps: 0.1, alpha: 0.02, steps: 9 } },
      { definition: attackDefinition('pgd'), params: { eps: 0.1, alpha: 0.02, steps: 1, restarts: 1, seed: 0 } },
      { definition: attackDefinition('pgd'), params: { eps: 0.1, alpha: 0.02, steps: 5, restarts: 3, seed: 0 } },
      { definition: attackDefinition('apgd-dlr'), params: { eps: 0.1, steps: 4, restarts: 2, seed: 0 } },
      { definition: attackDefinition('square'), params: { eps: 0.1, queries: 12, seed: 0 } },
      { definition: attackDefinition('worst-case'), params: { eps: 0.1, steps: 3, restarts: 1, queries: 8, seed: 0, stages: 3 } },
    ];
    const owned = (result: AttackResult): tf.Tensor[] => [result.adversarial, result.zeroGradient, ...(result.queries ? [result.queries] : []), ...(result.stages ?? []).flatMap(owned)];
    for (const spec of specs) {
      const before = tf.memory().numTensors;
      const result = runAttack(spec, hooksWith(ensemble, source), x, y, { scorer, probabilities: (input) => ensemble.probabilities(input) }, 0);
      const tensors = owned(result);
      assert.equal(tf.memory().numTensors, before + tensors.length, `${spec.definition.id}: the result should be the only new tensors`);
      tf.dispose(tensors);
      assert.equal(tf.memory().numTensors, before, `${spec.definition.id} leaked`);
    }
    tf.dispose([x, y]);
  });

  test('measure() leaves no tensor behind', () => {
    const before = tf.memory().numTensors;
    measure({
      ensemble,
      split: { images, labels: Uint8Array.from(labels), count: 5 },
      imageShape: SHAPE,
      numClasses: CLASSES,
      attack: { spec: { definition: attackDefinition('pgd'), params: { eps: 0.1, alpha: 0.02, steps: 2, restarts: 2, seed: 0 } }, hooks: hooksWith(ensemble, source) },
      targets: [{ scoredOn: 'single', member: 1 }, { scoredOn: 'ensemble' }],
      batchSize: 2,
    });
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('measure()', () => {
  const ensemble = tinyConvEnsemble([51, 52, 53], SHAPE);
  const n = 7;
  const images = uniform(new Rng(6), n * D, 0, 1);
  const labels = [0, 1, 2, 0, 1, 2, 0];
  const split = { images, labels: Uint8Array.from(labels), count: n };
  const targets: ScoreTarget[] = [{ scoredOn: 'single', member: 2 }, { scoredOn: 'ensemble' }];
  const accuracyOf = (predicted: number[]) => predicted.filter((p, i) => p === labels[i]).length / n;

  test('clean accuracy matches the argmax of member logits and of the mean softmax', () => {
    const [single, whole] = measure({ ensemble, split, imageShape: SHAPE, numClasses: CLASSES, targets, batchSize: 3 });
    assert.equal(single.accuracy, accuracyOf(argmaxRows(logitsOf(ensemble.members[2], images, SHAPE))));
    assert.equal(whole.accuracy, accuracyOf(ensembleLabels(ensemble, images)));
    assert.equal(whole.zeroGradFraction, null);
    assert.equal(whole.queries, null);
    assert.equal(whole.n, n);
  });

  test('batch by batch it scores the same examples as one batch of the attack', () => {
    const source = grad1(ensemble, 2, 'logits');
    const [single, whole] = measure({ ensemble, split, imageShape: SHAPE, numClasses: CLASSES, attack: { spec: { definition: attackDefinition('fgsm'), params: { eps: 0.2 } }, hooks: hooksWith(ensemble, source) }, targets, batchSize: 3 });
    const { adversarial } = attackValues((x, y) => fgsm(source, x, y, 0.2), images, labels);
    assert.equal(single.accuracy, accuracyOf(argmaxRows(logitsOf(ensemble.members[2], adversarial, SHAPE))));
    assert.equal(whole.accuracy, accuracyOf(ensembleLabels(ensemble, adversarial)));
    assert.equal(whole.zeroGradFraction, 0);
  });
});

describe('score-based attacks and suites in measure()', () => {
  const ensemble = tinyConvEnsemble([61, 62, 63], SHAPE);
  const n = 8;
  const images = uniform(new Rng(12), n * D, 0, 1);
  // Labels = the ensemble's own clean predictions: every image starts classified correctly.
  const labels = ensembleLabels(ensemble, images);
  const split = { images, labels: Uint8Array.from(labels), count: n };
  const hooks = gradientHooks(ensemble, { grad: '3', member: 0, loss: 'logits' });
  const run = (attack: string, params: AttackParams) =>
    measure({ ensemble, split, imageShape: SHAPE, numClasses: CLASSES, attack: { spec: { definition: attackDefinition(attack), params }, hooks }, targets: [{ scoredOn: 'ensemble' }], batchSize: 4 });

  test("Square records its queries per image, within the budget; gradient attacks record none", () => {
    const [square] = run('square', { eps: 0.1, queries: 30, seed: 3 });
    assert.ok(square.queries !== null && square.queries >= 1 && square.queries <= 30, String(square.queries));
    assert.equal(square.zeroGradFraction, 0);
    assert.equal(run('fgsm', { eps: 0.1 })[0].queries, null);
  });

  test('the worst-case suite gives one measurement per stage; robust accuracy never rises from stage to stage, and stage 1 is APGD-CE itself', () => {
    const params = { eps: 0.05, steps: 5, restarts: 1, queries: 20, seed: 4, stages: 3 };
    const stages = run('worst-case', params);
    assert.deepEqual(stages.map((m) => m.stage), [0, 1, undefined]);
    for (let k = 1; k < stages.length; k++) assert.ok(stages[k].accuracy <= stages[k - 1].accuracy, stages.map((m) => m.accuracy).join(' '));
    const [apgdCe] = run('apgd-ce', { eps: 0.05, steps: 5, restarts: 1, seed: 4 });
    assert.equal(stages[0].accuracy, apgdCe.accuracy);
    assert.ok(stages[0].accuracy > 0 && stages[0].accuracy < 1, `ε chosen badly: APGD-CE leaves ${stages[0].accuracy}`);
    // Only Square queries: the mean over every image of the queries it made on the survivors.
    assert.equal(stages[0].queries, null);
    assert.equal(stages[1].queries, null);
    assert.ok(stages[2].queries !== null && stages[2].queries <= 20 * stages[1].accuracy + 1e-9);
  });
});
