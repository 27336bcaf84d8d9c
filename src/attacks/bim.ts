/**
 * BIM — Kurakin, Goodfellow & Bengio, "Adversarial Examples in the Physical World" (2016).
 * Distance: L∞. x_0 = x; x_i = clip_{x,ε}(x_{i−1} + α · sign(∇x J(x_{i−1}, y))), n steps.
 * Arguments: ε, α, n (MNIST .2 / .025 / 8; CIFAR-10 .02 / .0025 / 8). BIM is PGD without the random start.
 */
import * as tf from '@tensorflow/tfjs';
import type { GradientSource } from './gradients.ts';
import { unchanged, validateBim, type AttackResult, type BimParams } from './params.ts';
import { signedGradientStep } from './project.ts';

/** n projected signed-gradient steps from `start` (which must lie in the threat model around x). */
export function iterateFrom(source: GradientSource, x: tf.Tensor4D, y: tf.Tensor2D, start: tf.Tensor4D, params: BimParams): AttackResult {
  return tf.tidy(() => {
    let adversarial = start.clone();
    let zeroGradient = tf.ones([x.shape[0]], 'bool') as tf.Tensor1D;
    for (let step = 0; step < params.steps; step++) {
      // Each step keeps only the new iterate and the running flag, so memory does not grow with n.
      const result = signedGradientStep(source, x, y, adversarial, params.alpha, params.eps);
      const stillZero = tf.logicalAnd(zeroGradient, result.zeroGradient) as tf.Tensor1D;
      tf.dispose([adversarial, zeroGradient, result.zeroGradient]);
      adversarial = result.next;
      zeroGradient = stillZero;
    }
    return { adversarial, zeroGradient };
  });
}

export function bim(source: GradientSource, x: tf.Tensor4D, y: tf.Tensor2D, params: BimParams): AttackResult {
  validateBim(params);
  if (params.eps === 0) return unchanged(x);
  return iterateFrom(source, x, y, x, params);
}
