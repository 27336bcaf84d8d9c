/** One entry point over the three attacks, for code that takes the attack as data (the CLI, Table 2). */
import type * as tf from '@tensorflow/tfjs';
import { bim } from './bim.ts';
import { fgsm } from './fgsm.ts';
import type { GradientSource } from './gradients.ts';
import type { AttackResult, AttackSpec } from './params.ts';
import { pgd } from './pgd.ts';
import type { Scorer } from './scoring.ts';

/** `scorer` is the model PGD keeps the worst case against; FGSM and BIM do not look at it. */
export function runAttack(spec: AttackSpec, source: GradientSource, x: tf.Tensor4D, y: tf.Tensor2D, scorer: Scorer): AttackResult {
  if (spec.name === 'fgsm') return fgsm(source, x, y, spec);
  if (spec.name === 'bim') return bim(source, x, y, spec);
  return pgd(source, x, y, spec, scorer);
}

/** Whether the adversarial examples depend on the scorer, so each scored model needs its own run. */
export function dependsOnScorer(spec: AttackSpec): boolean {
  return spec.name === 'pgd';
}
