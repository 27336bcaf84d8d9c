/**
 * FGSM — Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples" (2015).
 * Distance: L∞. x_adv = clip_[0,1](x + ε · sign(∇x J(x, y))). Arguments: ε (MNIST .3, CIFAR-10 .03).
 */
import type * as tf from '@tensorflow/tfjs';
import type { GradientSource } from './gradients.ts';
import { unchanged, validateEps, type AttackResult, type FgsmParams } from './params.ts';
import { signedGradientStep } from './project.ts';

export function fgsm(source: GradientSource, x: tf.Tensor4D, y: tf.Tensor2D, params: FgsmParams): AttackResult {
  validateEps(params.eps);
  if (params.eps === 0) return unchanged(x);
  const { next, zeroGradient } = signedGradientStep(source, x, y, x, params.eps, params.eps);
  return { adversarial: next, zeroGradient };
}
