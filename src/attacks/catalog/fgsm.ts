/**
 * FGSM — Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples" (2015).
 * Distance: L∞. x_adv = clip_[0,1](x + ε · sign(∇x J(x, y))). Arguments: ε (the paper: MNIST .3, CIFAR-10 .03).
 */
import type * as tf from '@tensorflow/tfjs';
import { checkEps, unchanged, type AttackDefinition, type AttackResult } from '../definition.ts';
import type { GradientSource } from '../gradients.ts';
import { gradientDescent, LINF_FROM_X } from '../iterative.ts';
import { EPS } from '../params.ts';

/** The FGSM example of x (also what adversarial training trains on). */
export function fgsm(gradient: GradientSource, x: tf.Tensor4D, y: tf.Tensor2D, eps: number): AttackResult {
  checkEps(eps);
  if (eps === 0) return unchanged(x);
  return gradientDescent({ x, y, gradient }, { eps, alpha: eps, steps: 1 }, LINF_FROM_X);
}

export const attack: AttackDefinition = {
  id: 'fgsm',
  title: 'FGSM',
  summary: 'one signed-gradient step of size ε (Goodfellow et al. 2015)',
  order: 10,
  params: [EPS],
  paper: true,
  dependsOnScorer: false,
  usesGradient: true,
  defaultsHelp: { eps: "the paper's: 0.3 mnist, 0.03 cifar10" },
  resolve(dataset, given) {
    const params = { eps: given.eps ?? dataset.paperAttacks.fgsm.eps };
    checkEps(params.eps);
    return params;
  },
  run: ({ gradient, x, y }, { eps }) => fgsm(gradient, x, y, eps),
  cost: () => 1,
  column: ({ eps }) => `fgsm_e${eps}`,
  reproduce: { sweep: true },
};
