/** Layer builders shared by the paper's two networks: seeded Glorot-uniform kernels, zero biases. */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../run/rng.ts';
import { ConvRelu } from './conv-relu-layer.ts';
import { SeededDropout } from './seeded-dropout.ts';

/** Hands out one derived seed per layer, in build order. */
export class LayerSeeds {
  private index = 0;
  constructor(private readonly seed: number) {}
  next(): number {
    return deriveSeed(this.seed, this.index++);
  }
}

/**
 * 3×3 convolution + bias + relu, then 2×2 max pooling if `pool` (ConvRelu: fused where the backend can,
 * tf.layers.conv2d's and maxPooling2d's computation elsewhere).
 */
export function conv(seeds: LayerSeeds, filters: number, padding: 'same' | 'valid', options: { inputShape?: number[]; pool?: boolean } = {}): tf.layers.Layer {
  return new ConvRelu({ filters, padding, seed: seeds.next(), pool: options.pool ?? false, ...(options.inputShape ? { inputShape: options.inputShape } : {}) });
}

export function dense(seeds: LayerSeeds, units: number, activation: 'relu' | 'linear'): tf.layers.Layer {
  return tf.layers.dense({ units, activation, kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.next() }) });
}

export function dropout(seeds: LayerSeeds, rate: number): tf.layers.Layer {
  return new SeededDropout({ rate, seed: seeds.next() });
}
