/**
 * This machine's speed on a data set's network, measured in a few seconds before a reproduction starts, so
 * the plan's estimate is in this machine's seconds: training samples per second (Adam steps on the paper's
 * network, batch 128) and input gradients per second (one model, in the batches attacks run). Random pixels:
 * speed does not depend on the images.
 */
import * as tf from '@tensorflow/tfjs';
import { adam } from '../backend/fused-adam.ts';
import { TRAIN_DEFAULTS } from '../config/train-config.ts';
import { ATTACK_BATCH_SIZE } from '../eval/attack-run.ts';
import type { DatasetDescriptor } from '../datasets/descriptor.ts';
import { baseModelFor, buildModel } from '../datasets/registry.ts';
import { crossEntropyFromLogits } from '../models/loss.ts';
import { trainStep } from '../models/train-member.ts';
import { Rng } from '../run/rng.ts';

export interface MachineSpeed {
  trainSamplesPerSecond: number;
  gradientsPerSecond: number;
}

const TRAIN_BATCH = 128;
// Per-batch costs are a visible part of a gradient here: at 100 images the probe read 0.6–0.7x what attacks in batches of 200 do.
const GRADIENT_BATCH = ATTACK_BATCH_SIZE;

/** `count` images of uniform random pixels with random one-hot labels (for timing: speed does not depend on them). */
export function randomBatch(dataset: Pick<DatasetDescriptor, 'imageShape' | 'numClasses'>, count: number, seed = 1): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const rng = new Rng(seed);
  const [h, w, c] = dataset.imageShape;
  const pixels = Float32Array.from({ length: count * h * w * c }, () => rng.next());
  const labels = Int32Array.from({ length: count }, () => rng.int(dataset.numClasses));
  return tf.tidy(() => ({ x: tf.tensor4d(pixels, [count, h, w, c]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), dataset.numClasses).toFloat() as tf.Tensor2D }));
}

/** Median seconds of `repeats` calls after one warm-up call. */
function secondsPer(run: () => void, repeats: number): number {
  run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    run();
    times.push((performance.now() - started) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

export function measureSpeed(dataset: DatasetDescriptor, repeats = 3): MachineSpeed {
  const model = buildModel(baseModelFor(dataset.name), 0);
  const optimizer = adam(TRAIN_DEFAULTS.learningRate);
  const train = randomBatch(dataset, TRAIN_BATCH);
  const attack = randomBatch(dataset, GRADIENT_BATCH);
  const gradient = tf.grad((input: tf.Tensor) => crossEntropyFromLogits(attack.y, model.apply(input, { training: false }) as tf.Tensor2D));
  try {
    const trainSeconds = secondsPer(() => trainStep(model, optimizer, train.x, train.y), repeats);
    const gradientSeconds = secondsPer(() => tf.tidy(() => void gradient(attack.x).dataSync()), repeats);
    return { trainSamplesPerSecond: TRAIN_BATCH / trainSeconds, gradientsPerSecond: GRADIENT_BATCH / gradientSeconds };
  } finally {
    tf.dispose([train.x, train.y, attack.x, attack.y]);
    optimizer.dispose();
    model.dispose();
  }
}
