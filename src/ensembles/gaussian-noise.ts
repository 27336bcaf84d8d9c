/** Gaussian noise (section 3): fresh N(0, σ²) noise on every training batch, clipped to [0, 1]. */
import * as tf from '@tensorflow/tfjs';
import { baseModelFor } from '../datasets/registry.ts';
import { deriveSeed } from '../run/rng.ts';
import { allIndices, MEMBER_STREAMS, type EnsembleMethod } from './method.ts';

/** x + N(0, σ²), clipped to [0, 1]; the noise seed is derived from the member seed and the step. */
export function addGaussianNoise(x: tf.Tensor4D, sigma: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.add(x, tf.randomNormal(x.shape, 0, sigma, 'float32', seed)), 0, 1) as tf.Tensor4D);
}

export const gaussianNoise: EnsembleMethod = {
  plan: ({ dataset, seed, config }) => {
    const noiseSeed = deriveSeed(seed, MEMBER_STREAMS.noise);
    return {
      model: baseModelFor(dataset.name),
      indices: allIndices(dataset.train.count),
      transformBatch: (x, step) => addGaussianNoise(x, config.noiseSigma, deriveSeed(noiseSeed, step)),
      facts: { noiseSigma: config.noiseSigma },
    };
  },
};
