/**
 * The losses APGD maximises, per example, on class scores z [B, K]: logits for a single model, or for an
 * ensemble the log of its averaged probabilities (log p̄ = logits up to a per-example shift, and both losses
 * below are shift-invariant, so the two are attacked alike).
 *
 * DLR — Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks" (ICML 2020), eq. 5:
 *   DLR(z, y) = −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e-12),   π: the classes by decreasing z.
 * Invariant to shifting and to positively rescaling z (so to temperature and to the saturation that makes
 * cross-entropy gradients vanish); positive exactly where the model misclassifies. Needs K ≥ 3.
 *
 * Everything here is differentiable with tfjs' registered gradients (TopK has none, so π1..π3 are found by
 * masking out one maximum at a time, the order a sort gives, ties included).
 */
import * as tf from '@tensorflow/tfjs';

/** Per-example cross-entropy −log softmax(z)_y. For log-probabilities z it is −log p_y itself. */
export function crossEntropyLoss(scores: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(scores)), 1)) as tf.Tensor1D);
}

/** `scores` with, per row, the position of its first maximum set to −∞ (a bool mask, no gradient through it). */
function withoutFirstMax(scores: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const first = tf.cast(tf.oneHot(tf.argMax(scores, 1), scores.shape[1]), 'bool');
    return tf.where(first, tf.fill(scores.shape, -Infinity), scores) as tf.Tensor2D;
  });
}

/** Per-example DLR loss of scores z [B, K ≥ 3] against one-hot labels y [B, K]; positive iff misclassified. */
export function dlrLoss(scores: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor1D {
  const classes = scores.shape[1];
  if (classes < 3) throw new RangeError(`the DLR loss needs at least 3 classes (got ${classes}): it divides by z_π1 − z_π3`);
  return tf.tidy(() => {
    const trueScore = tf.sum(tf.mul(y, scores), 1);
    const bestOther = tf.max(tf.where(tf.cast(y, 'bool'), tf.fill(scores.shape, -Infinity), scores), 1);
    const first = tf.max(scores, 1);
    const third = tf.max(withoutFirstMax(withoutFirstMax(scores)), 1);
    return tf.neg(tf.div(tf.sub(trueScore, bestOther), tf.add(tf.sub(first, third), 1e-12))) as tf.Tensor1D;
  });
}

/**
 * log p̄ of an ensemble from its members' logits [n] × [B, K]: log of the mean softmax, computed as
 * logsumexp_i(log softmax_i) − log n, so no probability underflows to log 0 = −∞ (which would make DLR NaN).
 */
export function logMeanProbabilities(memberLogits: tf.Tensor2D[]): tf.Tensor2D {
  if (memberLogits.length === 0) throw new RangeError('logMeanProbabilities needs at least one member');
  return tf.tidy(() => tf.sub(tf.logSumExp(tf.stack(memberLogits.map((l) => tf.logSoftmax(l))), 0), Math.log(memberLogits.length)) as tf.Tensor2D);
}
