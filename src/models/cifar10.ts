/**
 * The paper's CIFAR-10 network (Table 3): three blocks [Conv, Conv, MaxPool 2, Dropout] with 32, 64, 128
 * filters and dropout .2/.3/.4, then Dense 512 relu → Dropout .5 → Dense 10 (logits).
 * The paper leaves padding open; as in Keras' CIFAR example the first conv of each pair is `same`,
 * the second `valid` (32→30→15→13→6→4→2, so Flatten gives 512).
 */
import * as tf from '@tensorflow/tfjs';
import { conv, dense, dropout, LayerSeeds } from './layers.ts';

export interface CifarNetOptions {
  /** Filters of the first block (32 in the paper; 64 in the "wide" variant). */
  firstFilters?: number;
  /** Adds a third, `same`-padded conv to the last block (the "deep" variant). */
  extraConv?: boolean;
}

export function cifar10Net(seed: number, options: CifarNetOptions = {}): tf.Sequential {
  const seeds = new LayerSeeds(seed);
  const model = tf.sequential();
  const blocks: Array<[number, number]> = [
    [options.firstFilters ?? 32, 0.2],
    [64, 0.3],
    [128, 0.4],
  ];
  blocks.forEach(([filters, rate], i) => {
    model.add(conv(seeds, filters, 'same', i === 0 ? { inputShape: [32, 32, 3] } : {}));
    if (options.extraConv && i === blocks.length - 1) model.add(conv(seeds, filters, 'same'));
    model.add(conv(seeds, filters, 'valid', { pool: true }));
    model.add(dropout(seeds, rate));
  });
  model.add(tf.layers.flatten());
  model.add(dense(seeds, 512, 'relu'));
  model.add(dropout(seeds, 0.5));
  model.add(dense(seeds, 10, 'linear'));
  return model;
}
