/**
 * The paper's MNIST network (Table 1): Conv 32 3×3 relu (valid) → MaxPool 2×2 → Flatten → Dense 128 relu
 * → Dropout 0.5 → Dense 10 (the convolution and its pooling are one layer: models/conv-relu-layer.ts).
 * Outputs logits; the paper's softmax is applied by the loss / the ensemble.
 */
import * as tf from '@tensorflow/tfjs';
import { conv, dense, dropout, LayerSeeds } from './layers.ts';

export interface MnistNetOptions {
  /** Filters of the first conv layer (32 in the paper; 64 in the "wide" mixed-model variant). */
  firstFilters?: number;
  /** Adds a second 3×3 conv before pooling (the "deep" mixed-model variant). */
  extraConv?: boolean;
}

export function mnistNet(seed: number, options: MnistNetOptions = {}): tf.Sequential {
  const seeds = new LayerSeeds(seed);
  const model = tf.sequential();
  const inputShape = [28, 28, 1];
  if (options.extraConv) {
    model.add(conv(seeds, options.firstFilters ?? 32, 'valid', { inputShape }));
    model.add(conv(seeds, 32, 'valid', { pool: true }));
  } else {
    model.add(conv(seeds, options.firstFilters ?? 32, 'valid', { inputShape, pool: true }));
  }
  model.add(tf.layers.flatten());
  model.add(dense(seeds, 128, 'relu'));
  model.add(dropout(seeds, 0.5));
  model.add(dense(seeds, 10, 'linear'));
  return model;
}
