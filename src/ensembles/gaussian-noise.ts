/** Gaussian noise (section 3): fresh N(0, σ²) noise on every training batch, clipped to [0, 1]. */
import * as tf from '@tensorflow/tfjs';
import { baseModelFor } from '../datasets/registry.ts';
import { deriveSeed } from '../run/rng.ts';
import { allIndices, MEMBER_STREAMS, type MethodDefinition, type MethodParam } from './method.ts';

/** x + N(0, σ²), clipped to [0, 1]; the noise seed is derived from the member seed and the step. */
export function addGaussianNoise(x: tf.Tensor4D, sigma: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.add(x, tf.randomNormal(x.shape, 0, sigma, 'float32', seed)), 0, 1) as tf.Tensor4D);
}

export const NOISE_SIGMA: MethodParam = {
  key: 'noiseSigma',
  symbol: 'σ',
  help: 'gaussian-noise σ (pixels in [0, 1])',
  integer: false,
  min: 0,
  max: 10,
  // Calibrated per data set (docs/NOISE-CALIBRATION.md).
  default: (dataset) => dataset.training.noiseSigma,
};

export const gaussianNoise: MethodDefinition = {
  name: 'gaussian-noise',
  summary: 'fresh N(0, σ²) noise on every training batch',
  size: 'ensemble',
  paperRows: { table2: 'gaussian_noise' },
  params: [NOISE_SIGMA],
  workPerSample: () => 1,
  plan: ({ dataset, seed, params }) => {
    const noiseSeed = deriveSeed(seed, MEMBER_STREAMS.noise);
    return {
      model: baseModelFor(dataset.name),
      indices: allIndices(dataset.train.count),
      transformBatch: (x, step) => addGaussianNoise(x, params.noiseSigma, deriveSeed(noiseSeed, step)),
      facts: { noiseSigma: params.noiseSigma },
    };
  },
};
