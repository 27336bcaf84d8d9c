/** Training losses. Computed from logits (numerically stable); the same function as softmax + cross-entropy. */
import * as tf from '@tensorflow/tfjs';

/** Mean softmax cross-entropy between target distributions [B, C] and logits [B, C]. */
export function crossEntropyFromLogits(targets: tf.Tensor2D, logits: tf.Tensor2D): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(targets, logits) as tf.Scalar;
}

/**
 * A batch loss: what one optimiser step minimises. The default trains on clean inputs; adversarial
 * training and distillation supply their own. `step` counts batches from the member's first (epoch ×
 * steps per epoch + batch), so a loss that draws random numbers (PGD's random start) draws the same ones
 * when training resumes from a checkpoint.
 */
export type BatchLoss = (model: tf.LayersModel, x: tf.Tensor4D, targets: tf.Tensor2D, step: number) => tf.Scalar;

export const standardLoss: BatchLoss = (model, x, targets) =>
  crossEntropyFromLogits(targets, model.apply(x, { training: true }) as tf.Tensor2D);

/**
 * A batch loss of several models trained together (an ensemble trained as a whole): one objective whose
 * gradient reaches every model, minimised by one optimiser step of all of them. `step` as for BatchLoss.
 */
export type EnsembleBatchLoss = (models: readonly tf.LayersModel[], x: tf.Tensor4D, targets: tf.Tensor2D, step: number) => tf.Scalar;
