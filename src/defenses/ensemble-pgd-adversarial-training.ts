/**
 * Ensemble PGD adversarial training: the ensemble, trained as a whole, against its own PGD —
 * min_θ E[max_{‖δ‖∞ ≤ ε} J(θ, x + δ, y)] with J = −log p̄_y, p̄ = (1/n) Σ_i softmax(logits_i), the
 * probabilities the ensemble predicts with. Every training batch is replaced by the PGD examples of the
 * ensemble's averaged prediction (Grad. 3 of the current weights: the attack an adversary of the ensemble
 * runs), and every member takes one optimiser step on J at those examples. J's gradient reaches member i
 * through the mean of probabilities, weighted by p_i,y / (n p̄_y): the members are trained jointly, for the
 * ensemble to be right, not each for itself (`random-init+pgd-adversarial-training`).
 */
import * as tf from '@tensorflow/tfjs';
import { grad3, logMeanProbabilities } from '../attacks/gradients.ts';
import { gradientDescent, LINF_RANDOM_START, type DescentSchedule } from '../attacks/iterative.ts';
import { baseModelFor } from '../datasets/registry.ts';
import { Ensemble } from '../ensembles/ensemble.ts';
import { allIndices, type MethodDefinition } from '../ensembles/method.ts';
import type { EnsembleBatchLoss } from '../models/loss.ts';
import { deriveSeed } from '../run/rng.ts';
import { asConstant } from './adversarial-training.ts';
import { AT_ALPHA, AT_EPS, AT_RAMP_EPOCHS, AT_STEPS } from './params.ts';
import { checkStepSize, pgdScheduleAtStep, REPRODUCE_PGD_TRAINING, type ScheduleAtStep } from './pgd-adversarial-training.ts';

/** Mean over the batch of −Σ_c y_c log p̄_c, from the members' logits (log space: no probability underflows to log 0). */
export function ensembleCrossEntropy(memberLogits: tf.Tensor2D[], targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logMean = logMeanProbabilities(memberLogits.map((logits) => tf.logSoftmax(logits) as tf.Tensor2D));
    return tf.neg(tf.mean(tf.sum(tf.mul(targets, logMean), 1))) as tf.Scalar;
  });
}

/**
 * The PGD example of the ensemble's current weights (Grad. 3, inference-mode forward, as the attacks have
 * it) from a random start drawn with `seed`, as a constant (no path from the weights through the steps).
 */
export function ensemblePgdPerturbation(models: readonly tf.LayersModel[], x: tf.Tensor4D, targets: tf.Tensor2D, schedule: DescentSchedule, seed: number): tf.Tensor4D {
  const gradient = grad3(new Ensemble([...models]), 'logits');
  const { adversarial, zeroGradient } = gradientDescent({ x, y: targets, gradient }, schedule, LINF_RANDOM_START, seed);
  zeroGradient.dispose();
  return asConstant(adversarial);
}

/** J(θ, x_PGD, y) of the ensemble, training-mode forwards; the batch at `step` starts from the random point deriveSeed(seed, step). */
export function ensemblePgdTrainingLoss(schedule: ScheduleAtStep, seed: number): EnsembleBatchLoss {
  return (models, x, targets, step) =>
    tf.tidy(() => {
      const xAdv = ensemblePgdPerturbation(models, x, targets, schedule(step), deriveSeed(seed, step));
      return ensembleCrossEntropy(models.map((model) => model.apply(xAdv, { training: true }) as tf.Tensor2D), targets);
    });
}

export const ensemblePgdAdversarialTraining: MethodDefinition = {
  name: 'ensemble-pgd-adversarial-training',
  summary: 'the ensemble trained as a whole on the PGD examples of its averaged prediction (one process; no --member)',
  size: 'ensemble',
  paperRows: {},
  params: [AT_EPS, AT_ALPHA, AT_STEPS, AT_RAMP_EPOCHS],
  check: checkStepSize,
  // Per sample and member: n input gradients through the member, then its training step.
  workPerSample: ({ atSteps }) => atSteps + 1,
  plan: (ctx) => ({
    model: baseModelFor(ctx.dataset.name),
    indices: allIndices(ctx.dataset.train.count),
    facts: { ...ctx.params, adversarialGradient: "PGD on the ensemble's mean probabilities (Grad. 3), inference-mode forward, fresh per batch", jointTraining: true },
  }),
  joint: { loss: (params, seed, stepsPerEpoch) => ensemblePgdTrainingLoss(pgdScheduleAtStep(params, stepsPerEpoch), seed) },
  reproduce: { beyond: [REPRODUCE_PGD_TRAINING] },
};
