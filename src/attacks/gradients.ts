/**
 * Gradient sources: the hook an attack calls for ∇x J (Foolbox's `value_and_grad`). Swapping the source
 * switches between the paper's Grad. 1 and Grad. 2, the ensemble's true gradient (Grad. 3), and a
 * transfer attack (any of them built on another run's ensemble, the surrogate).
 *
 * J is summed over the batch, so row b of the result is exactly ∇ J(x_b, y_b) of example b alone.
 */
import * as tf from '@tensorflow/tfjs';
import type { Ensemble } from '../ensembles/ensemble.ts';
import type { Scores, ScoreLoss } from './definition.ts';

/** (x [B,H,W,C], one-hot y [B,classes]) → ∇x J, same shape as x. */
export type GradientSource = (x: tf.Tensor4D, y: tf.Tensor2D) => tf.Tensor4D;

export const GRAD_NAMES = ['1', '2', '3'] as const;
export type GradName = (typeof GRAD_NAMES)[number];

/**
 * `logits`: softmax cross-entropy computed from logits (stable; the honest attack).
 * `clipped-probs`: the Keras form −log(clip(softmax, 1e-7, 1 − 1e-7)) in float32; its gradient is exactly
 * zero wherever the true class's probability rounds to ≥ 1 − 1e-7 (or ≤ 1e-7).
 */
export const LOSS_FORMS = ['logits', 'clipped-probs'] as const;
export type LossForm = (typeof LOSS_FORMS)[number];

/** Keras' backend epsilon, the clip bound of its cross-entropy on probabilities. */
export const KERAS_EPSILON = 1e-7;

function clippedCrossEntropy(probabilities: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(probabilities, KERAS_EPSILON, 1 - KERAS_EPSILON))), 1)) as tf.Tensor1D);
}

/** Per-example cross-entropy of one model's prediction. */
export function memberLoss(logits: tf.Tensor2D, y: tf.Tensor2D, form: LossForm): tf.Tensor1D {
  return tf.tidy(() => (form === 'logits' ? (tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1)) as tf.Tensor1D) : clippedCrossEntropy(tf.softmax(logits), y)));
}

/**
 * Per-example cross-entropy −log p̄_y of the ensemble's prediction (the mean of its members' softmax
 * probabilities), from the members' true-class losses ℓ_i = −log p_i,y [n, B].
 */
function ensembleLossOfMemberLosses(memberLosses: tf.Tensor2D, form: LossForm): tf.Tensor1D {
  return tf.tidy(() => {
    const meanTrueProbability = (): tf.Tensor1D => tf.mean(tf.exp(tf.neg(memberLosses)), 0) as tf.Tensor1D;
    if (form === 'clipped-probs') return tf.neg(tf.log(tf.clipByValue(meanTrueProbability(), KERAS_EPSILON, 1 - KERAS_EPSILON))) as tf.Tensor1D;
    // log p̄_y = logsumexp_i(−ℓ_i) − log n, stable where some p_i,y underflow.
    return tf.neg(tf.sub(tf.logSumExp(tf.neg(memberLosses), 0), Math.log(memberLosses.shape[0]))) as tf.Tensor1D;
  });
}

function gradientOf(batchLoss: (x: tf.Tensor4D, y: tf.Tensor2D) => tf.Scalar): GradientSource {
  return (x, y) => tf.tidy(() => tf.grad((input) => batchLoss(input as tf.Tensor4D, y))(x) as tf.Tensor4D);
}

/** Grad. 1: ∇x J(θ_i, x, y) of member i alone. */
export function grad1(ensemble: Ensemble, member: number, form: LossForm): GradientSource {
  if (!Number.isInteger(member) || member < 0 || member >= ensemble.size) throw new RangeError(`member ${member} is not in [0, ${ensemble.size - 1}]`);
  return gradientOf((x, y) => tf.sum(memberLoss(ensemble.memberLogits(x, member), y, form)));
}

/**
 * Grad. 2: (1/n) Σ_i ∇x J(θ_i, x, y), summed member by member: the same arithmetic as one backward pass
 * through all members, but only one member's activations are alive at a time (a 10-member CIFAR-10
 * batch of 200 peaked at 4.2 GiB in one pass).
 */
export function grad2(ensemble: Ensemble, form: LossForm): GradientSource {
  const members = Array.from({ length: ensemble.size }, (_, i) => grad1(ensemble, i, form));
  return (x, y) => tf.tidy(() => tf.div(tf.addN(members.map((gradient) => gradient(x, y))), ensemble.size) as tf.Tensor4D);
}

/**
 * Grad. 3: ∇x of the cross-entropy of the ensemble's averaged probabilities — what it predicts with.
 * By the chain rule through ℓ_i = −log p_i,y, it is Σ_i (∂J/∂ℓ_i) ∇x ℓ_i, with ∂J/∂ℓ_i = p_i,y / (n p̄_y)
 * (zero where the clipped form clips p̄_y). Summed member by member like Grad. 2, so one member's
 * activations are alive at a time: a 10-member CIFAR-10 batch of 200 took 4.2 GiB as one backward pass.
 */
export function grad3(ensemble: Ensemble, form: LossForm): GradientSource {
  return (x, y) =>
    tf.tidy(() => {
      const perMember = Array.from({ length: ensemble.size }, (_, i) =>
        tf.valueAndGrad((input) => memberLoss(ensemble.memberLogits(input as tf.Tensor4D, i), y, 'logits'))(x),
      );
      const memberLosses = tf.stack(perMember.map((m) => m.value)) as tf.Tensor2D;
      const weights = tf.grad((losses) => tf.sum(ensembleLossOfMemberLosses(losses as tf.Tensor2D, form)))(memberLosses);
      const perExample = [x.shape[0], 1, 1, 1];
      return tf.addN(perMember.map((m, i) => tf.mul(m.grad, tf.reshape(tf.gather(weights, i), perExample)))) as tf.Tensor4D;
    });
}

/** log p̄ of an ensemble: logsumexp_i(log softmax_i) − log n, so no probability underflows to log 0. */
export function logMeanProbabilities(memberLogSoftmax: tf.Tensor2D[]): tf.Tensor2D {
  return tf.tidy(() => tf.sub(tf.logSumExp(tf.stack(memberLogSoftmax), 0), Math.log(memberLogSoftmax.length)) as tf.Tensor2D);
}

/**
 * ∇x of Σ_b loss(scores_b, y_b) under a gradient choice, for any loss of the class scores (APGD-DLR's DLR):
 * Grad. 1 — of member i's logits; Grad. 2 — the mean over members of the gradient of the loss of their own
 * logits; Grad. 3 — of the loss of the ensemble's log mean probabilities z = log p̄. Grad. 3 goes member by
 * member like grad3: ∂z_c/∂x = Σ_i r_i,c ∇x log p_i,c with r_i,c = p_i,c / (n p̄_c) ≤ 1, so with w = ∂loss/∂z
 * at the current z (a constant), ∇x = Σ_i ∇x ⟨w ⊙ r_i, log softmax(logits_i)⟩, one member's activations
 * alive at a time, r_i computed in log space (nothing underflows).
 */
export function lossGradient(ensemble: Ensemble, choice: GradientChoice, loss: ScoreLoss): GradientSource {
  const memberGradient = (i: number): GradientSource => gradientOf((x, y) => tf.sum(loss(ensemble.memberLogits(x, i), y)));
  if (choice.grad === '1') return memberGradient(choice.member);
  if (choice.grad === '2') {
    const members = Array.from({ length: ensemble.size }, (_, i) => memberGradient(i));
    return (x, y) => tf.tidy(() => tf.div(tf.addN(members.map((gradient) => gradient(x, y))), ensemble.size) as tf.Tensor4D);
  }
  return (x, y) =>
    tf.tidy(() => {
      const logSoftmax = ensemble.allMemberLogits(x).map((logits) => tf.logSoftmax(logits) as tf.Tensor2D);
      const z = logMeanProbabilities(logSoftmax);
      const w = tf.grad((scores) => tf.sum(loss(scores as tf.Tensor2D, y)))(z);
      const perMember = logSoftmax.map((ls, i) => {
        const coefficient = tf.mul(w, tf.exp(tf.sub(tf.sub(ls, Math.log(ensemble.size)), z)));
        return tf.grad((input) => tf.sum(tf.mul(tf.logSoftmax(ensemble.memberLogits(input as tf.Tensor4D, i)), coefficient)))(x);
      });
      return tf.addN(perMember) as tf.Tensor4D;
    });
}

/** The scores a gradient choice attacks: member i's logits (Grad. 1), the ensemble's log mean probabilities (Grad. 2 / 3). */
export function scoresOf(ensemble: Ensemble, choice: GradientChoice): Scores {
  if (choice.grad === '1') return (x) => ensemble.memberLogits(x, choice.member);
  return (x) => tf.tidy(() => logMeanProbabilities(ensemble.allMemberLogits(x).map((logits) => tf.logSoftmax(logits) as tf.Tensor2D)));
}

export interface GradientChoice {
  grad: GradName;
  /** Member whose gradient Grad. 1 uses. */
  member: number;
  loss: LossForm;
}

/** The hooks an attack finds in its inputs for a gradient choice: ∇x J, ∇x of another loss, the scores attacked. */
export interface GradientHooks {
  gradient: GradientSource;
  lossGradient: (loss: ScoreLoss) => GradientSource;
  scores: Scores;
}

/** The hooks of a choice; pass another run's ensemble (a surrogate) for a transfer attack. */
export function gradientHooks(ensemble: Ensemble, choice: GradientChoice): GradientHooks {
  return { gradient: gradientSource(ensemble, choice), lossGradient: (loss) => lossGradient(ensemble, choice, loss), scores: scoresOf(ensemble, choice) };
}

const gradientFree = (): never => {
  throw new Error('a gradient-free attack asked for a gradient');
};
/** What a score-based attack gets: any gradient hook is a bug. */
export const NO_GRADIENT: GradientHooks = { gradient: gradientFree, lossGradient: gradientFree, scores: gradientFree };

/** The source for a choice; pass another run's ensemble (a surrogate) for a transfer attack. */
export function gradientSource(ensemble: Ensemble, choice: GradientChoice): GradientSource {
  if (choice.grad === '1') return grad1(ensemble, choice.member, choice.loss);
  return choice.grad === '2' ? grad2(ensemble, choice.loss) : grad3(ensemble, choice.loss);
}

/** e.g. "Grad. 1 (member 0) [logits]"; `member` may be 'all' (Grad. 1 averaged over members). */
export function describeGradient(grad: GradName, member: number | string, loss: LossForm): string {
  return `Grad. ${grad}${grad === '1' ? ` (member ${member})` : ''} [${loss}]`;
}
