/**
 * Square — Andriushchenko et al., "Square Attack: a query-efficient black-box adversarial attack via
 * random search" (ECCV 2020). L∞, score-based: no gradient, so no --grad and no --loss; it queries the
 * scored model's probabilities (for an ensemble, their mean) and keeps a random square update when the
 * margin p_y − max_{k≠y} p_k falls (src/attacks/square-core.ts). Queries are batched forward passes,
 * counted per image. Arguments: ε (BIM's), q = 5000 queries (AutoAttack's), seed.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttackDefinition } from '../definition.ts';
import { EPS, QUERIES, SEED } from '../params.ts';
import { checkSquare, square, SQUARE_DEFAULTS } from '../square-core.ts';

export const attack: AttackDefinition = {
  id: 'square',
  title: 'Square',
  summary: 'gradient-free random search with square updates, a query budget per image (Andriushchenko et al. 2020)',
  order: 60,
  params: [EPS, QUERIES, SEED],
  paper: false,
  dependsOnScorer: true,
  usesGradient: false,
  defaultsHelp: { eps: "BIM's", queries: String(SQUARE_DEFAULTS.queries), seed: '0' },
  resolve(dataset, given) {
    const params = { eps: given.eps ?? dataset.paperAttacks.bim.eps, queries: given.queries ?? SQUARE_DEFAULTS.queries, seed: given.seed ?? 0 };
    checkSquare(params);
    return params;
  },
  run(inputs, params) {
    const labels = tf.tidy(() => tf.cast(tf.argMax(inputs.y, 1), 'int32') as tf.Tensor1D);
    const result = square(inputs.probabilities, inputs.x, labels, { eps: params.eps, queries: params.queries, seed: inputs.seed });
    labels.dispose();
    return tf.tidy(() => ({
      adversarial: result.adversarial,
      // No gradient is evaluated: nothing can be exactly zero.
      zeroGradient: tf.zeros([inputs.x.shape[0]], 'bool') as tf.Tensor1D,
      queries: tf.tensor1d(result.queries, 'int32'),
    }));
  },
  costIsBound: true,
  cost: ({ queries }) => queries,
  column: ({ queries }) => `square_q${queries}`,
};
