/**
 * The threat model, enforced in one place for every attack (as Foolbox does): each iterate is projected
 * onto the L∞ ball of radius ε around the clean x and onto the valid pixel box [0, 1].
 */
import * as tf from '@tensorflow/tfjs';
import type { GradientSource } from './gradients.ts';

export function projectToThreatModel(candidate: tf.Tensor4D, x: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.minimum(tf.maximum(candidate, tf.sub(x, eps)), tf.add(x, eps)), 0, 1) as tf.Tensor4D);
}

/**
 * sign(g) exactly: +1, −1, or 0 only where g is exactly 0. tf.sign is not used because the wasm backend's
 * Sign kernel returns 0 for every |g| < FLT_EPSILON (1.19e-7) — tiny input gradients of confident examples
 * would silently leave pixels unattacked, a masking effect of the backend rather than of the model.
 */
export function exactSign(g: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.cast(tf.greater(g, 0), 'float32'), tf.cast(tf.less(g, 0), 'float32')) as tf.Tensor4D);
}

export type StepResult = {
  next: tf.Tensor4D;
  /** Per example (bool): the gradient at `current` was exactly all-zero, so sign(0) = 0 left it in place. */
  zeroGradient: tf.Tensor1D;
};

/** current + stepSize · sign(∇x J(current, y)), projected; the step every attack is made of. */
export function signedGradientStep(
  source: GradientSource,
  x: tf.Tensor4D,
  y: tf.Tensor2D,
  current: tf.Tensor4D,
  stepSize: number,
  eps: number,
): StepResult {
  return tf.tidy(() => {
    const gradient = source(current, y);
    const zeroGradient = tf.all(tf.equal(gradient, 0), [1, 2, 3]) as tf.Tensor1D;
    const next = projectToThreatModel(tf.add(current, tf.mul(exactSign(gradient), stepSize)), x, eps);
    return { next, zeroGradient };
  });
}
