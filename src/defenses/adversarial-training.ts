/**
 * Adversarial training (Goodfellow et al. 2015; the paper's section 4.3):
 *   J_AT = ρ·J(θ, x, y) + (1 − ρ)·J(θ, x + ε·sign(∇x J(θ, x, y)), y),  ρ = 0.5, ε = the dataset's FGSM ε.
 * The adversarial half is recomputed from the current weights inside every optimiser step.
 */
import * as tf from '@tensorflow/tfjs';
import type { MethodDefinition, MethodParam } from '../ensembles/method.ts';
import { baseModelFor } from '../datasets/registry.ts';
import { fgsm } from '../attacks/catalog/fgsm.ts';
import { memberLoss, type GradientSource } from '../attacks/gradients.ts';
import { crossEntropyFromLogits, type BatchLoss } from '../models/loss.ts';
import { AT_EPS } from './params.ts';
import { memberTrainingSet } from './training-set.ts';

/**
 * The FGSM example of src/attacks/fgsm.ts (exact sign, [0, 1] projection) from the current weights, as a
 * constant: a fresh tensor with no history, so a surrounding gradient tape (optimizer.minimize) sees no
 * path from the weights through the sign. That path has zero derivative anyway, but following it would
 * mean differentiating the backward pass itself (second-order gradients of conv/max-pool backprop, which
 * tfjs does not define).
 *
 * The input gradient uses the inference-mode forward (dropout off): x_adv is then exactly the FGSM
 * example an attacker computes from the current weights (the attacks use inference mode too), not one
 * aimed at a random dropout sub-network.
 */
export function fgsmPerturbation(model: tf.LayersModel, x: tf.Tensor4D, targets: tf.Tensor2D, eps: number): tf.Tensor4D {
  const { adversarial, zeroGradient } = fgsm(inferenceGradient(model), x, targets, eps);
  zeroGradient.dispose();
  return asConstant(adversarial);
}

/** ∇x J of the model's current weights, J from logits, through the inference-mode forward (dropout off), as an attacker has it. */
export function inferenceGradient(model: tf.LayersModel): GradientSource {
  return (input, y) => tf.tidy(() => tf.grad((z) => tf.sum(memberLoss(model.apply(z, { training: false }) as tf.Tensor2D, y, 'logits')))(input) as tf.Tensor4D);
}

/** A copy of `t` with no history (disposing `t`): a gradient tape around it sees a constant. */
export function asConstant(t: tf.Tensor4D): tf.Tensor4D {
  const constant = tf.tensor4d(t.dataSync(), t.shape);
  t.dispose();
  return constant;
}

/** ρ·J(x) + (1 − ρ)·J(x_fgsm), both halves with the training-mode forward (dropout on), as ordinary training. */
export function adversarialTrainingLoss(rho: number, eps: number): BatchLoss {
  return (model, x, targets) =>
    tf.tidy(() => {
      const clean = crossEntropyFromLogits(targets, model.apply(x, { training: true }) as tf.Tensor2D);
      const xAdv = fgsmPerturbation(model, x, targets, eps);
      const adversarial = crossEntropyFromLogits(targets, model.apply(xAdv, { training: true }) as tf.Tensor2D);
      return tf.add(tf.mul(rho, clean), tf.mul(1 - rho, adversarial)) as tf.Scalar;
    });
}

export const RHO: MethodParam = { key: 'rho', symbol: 'ρ', help: 'adversarial training: weight of the clean loss', integer: false, min: 0, max: 1, default: () => 0.5, defaultHelp: "the paper's" };

function adversarialTrainingMethod(bootstrap: boolean): Omit<MethodDefinition, 'name' | 'summary' | 'size' | 'paperRows'> {
  return {
    params: [RHO, AT_EPS],
    // A clean forward, an inference-mode forward and backward for the FGSM step, a second training forward.
    workPerSample: () => 3,
    plan: (ctx) => {
      const { rho, atEps } = ctx.params;
      const { indices, facts } = memberTrainingSet(ctx, bootstrap);
      return {
        model: baseModelFor(ctx.dataset.name),
        indices,
        loss: adversarialTrainingLoss(rho, atEps),
        facts: { ...facts, rho, atEps, adversarialGradient: 'inference-mode forward, fresh per batch' },
      };
    },
  };
}

export const adversarialTraining: MethodDefinition = {
  name: 'adversarial-training',
  summary: 'ρ·J(x) + (1 − ρ)·J(x_FGSM) (Goodfellow et al. 2015)',
  size: 'defense',
  paperRows: { table4: 'adversarial_training' },
  ...adversarialTrainingMethod(false),
};

/** Bagging + adversarial training: each member adversarially trained on its own bootstrap replicate. */
export const baggingAdversarialTraining: MethodDefinition = {
  name: 'bagging+adversarial-training',
  summary: 'bagging, every member adversarially trained',
  size: 'ensemble',
  paperRows: { table4: 'bagging+adversarial_training' },
  ...adversarialTrainingMethod(true),
};
