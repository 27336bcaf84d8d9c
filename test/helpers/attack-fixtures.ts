/** Hand-made models for the attack and gradient tests: fixed-weight linear softmax models and tiny smooth conv nets. */
import * as tf from '@tensorflow/tfjs';
import { Ensemble } from '../../src/ensembles/ensemble.ts';
import { Rng } from '../../src/run/rng.ts';

export const CLASSES = 3;

export function uniform(rng: Rng, n: number, low: number, high: number): Float32Array {
  return Float32Array.from({ length: n }, () => low + (high - low) * rng.next());
}

export interface LinearModel {
  model: tf.Sequential;
  /** [D × C] row-major, as the Dense kernel holds it. */
  W: Float32Array;
  b: Float32Array;
}

/** Flatten → Dense(C): logits = x·W + b with the given weights. */
export function linearModel(shape: [number, number, number], W: Float32Array, b: Float32Array): LinearModel {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: shape }), tf.layers.dense({ units: b.length })] });
  const D = shape[0] * shape[1] * shape[2];
  model.setWeights([tf.tensor2d(W, [D, b.length]), tf.tensor1d(b)]);
  return { model, W, b };
}

/**
 * The smallest margin z_y − z_k over k ≠ y that any point of the L∞ ball of radius ε around `image`,
 * clipped to [0, 1], reaches on a linear model: each pixel moves alone to the end of its box that lowers the
 * margin. Negative: an adversarial example exists at ε; positive: none does.
 */
export function worstLinearMargin(linear: LinearModel, image: ArrayLike<number>, label: number, eps: number): number {
  const classes = linear.b.length;
  const margins = Array.from({ length: classes }, (_, k) => k)
    .filter((k) => k !== label)
    .map((k) => {
      let m = linear.b[label] - linear.b[k];
      for (let d = 0; d < image.length; d++) {
        const v = linear.W[d * classes + label] - linear.W[d * classes + k];
        m += v * (v > 0 ? Math.max(image[d] - eps, 0) : Math.min(image[d] + eps, 1));
      }
      return m;
    });
  return Math.min(...margins);
}

export function randomLinearModel(rng: Rng, shape: [number, number, number], scale = 1): LinearModel {
  const D = shape[0] * shape[1] * shape[2];
  return linearModel(shape, uniform(rng, D * CLASSES, -scale, scale), uniform(rng, CLASSES, -scale, scale));
}

/** Conv 3×3 (4 filters, tanh) → Flatten → Dense(C): small, smooth (no kinks), so central differences are accurate. */
export function tinyConvNet(seed: number, shape: [number, number, number]): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: shape,
        filters: 4,
        kernelSize: 3,
        activation: 'tanh',
        kernelInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed }),
        biasInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: seed + 1 }),
      }),
      tf.layers.flatten(),
      tf.layers.dense({ units: CLASSES, kernelInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: seed + 2 }) }),
    ],
  });
}

export function tinyConvEnsemble(seeds: number[], shape: [number, number, number]): Ensemble {
  return new Ensemble(seeds.map((s) => tinyConvNet(s, shape)));
}

export function softmax64(logits: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(logits));
  const e = Array.from(logits, (l) => Math.exp(l - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Logits of model(x) for n examples as float64 rows. */
export function logitsOf(model: tf.LayersModel, images: Float32Array, shape: [number, number, number]): number[][] {
  const n = images.length / (shape[0] * shape[1] * shape[2]);
  const out = tf.tidy(() => model.predict(tf.tensor4d(images, [n, ...shape])) as tf.Tensor2D);
  const rows = out.arraySync();
  out.dispose();
  return rows;
}

export function oneHot(labels: number[], classes = CLASSES): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D);
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
