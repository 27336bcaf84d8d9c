/**
 * PGD — Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks" (2018).
 * Distance: L∞. BIM from a uniform random start in the ε-ball, R restarts; per example the first restart
 * that fools the scorer is kept (restart 0's result where none does), so an example counts as broken if
 * any restart breaks it. Arguments: ε, α, n as BIM; R (default 5); seed.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../run/rng.ts';
import { iterateFrom } from './bim.ts';
import type { GradientSource } from './gradients.ts';
import { unchanged, validatePgd, type AttackResult, type PgdParams } from './params.ts';
import { projectToThreatModel } from './project.ts';
import type { Scorer } from './scoring.ts';

export function randomStart(x: tf.Tensor4D, eps: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => projectToThreatModel(tf.add(x, tf.randomUniform(x.shape, -eps, eps, 'float32', seed)), x, eps));
}

export function pgd(source: GradientSource, x: tf.Tensor4D, y: tf.Tensor2D, params: PgdParams, scorer: Scorer): AttackResult {
  validatePgd(params);
  if (params.eps === 0) return unchanged(x);
  return tf.tidy(() => {
    const labels = tf.argMax(y, 1) as tf.Tensor1D;
    let best: AttackResult | undefined;
    let fooled = tf.zeros([x.shape[0]], 'bool') as tf.Tensor1D;
    for (let restart = 0; restart < params.restarts; restart++) {
      const start = randomStart(x, params.eps, deriveSeed(params.seed, restart));
      const attempt = iterateFrom(source, x, y, start, params);
      start.dispose();
      const kept = tf.tidy(() => {
        const fooledNow = tf.logicalNot(scorer(attempt.adversarial, labels));
        if (!best) return { adversarial: attempt.adversarial.clone(), zeroGradient: attempt.zeroGradient.clone(), fooled: fooledNow };
        const take = tf.logicalAnd(fooledNow, tf.logicalNot(fooled));
        return {
          adversarial: tf.where(tf.reshape(take, [-1, 1, 1, 1]), attempt.adversarial, best.adversarial) as tf.Tensor4D,
          zeroGradient: tf.logicalAnd(best.zeroGradient, attempt.zeroGradient) as tf.Tensor1D,
          fooled: tf.logicalOr(fooled, fooledNow) as tf.Tensor1D,
        };
      });
      tf.dispose([attempt.adversarial, attempt.zeroGradient, fooled]);
      if (best) tf.dispose([best.adversarial, best.zeroGradient]);
      best = { adversarial: kept.adversarial, zeroGradient: kept.zeroGradient };
      fooled = kept.fooled;
    }
    return best!;
  });
}
