/** Batched inference over a split: logits, probabilities, accuracy. */
import * as tf from '@tensorflow/tfjs';
import { batchData, batches, type Split } from '../data/dataset.ts';

export const EVAL_BATCH = 500;

export type LogitsFn = (x: tf.Tensor4D) => tf.Tensor2D;

export function modelLogits(model: tf.LayersModel): LogitsFn {
  return (x) => model.apply(x, { training: false }) as tf.Tensor2D;
}

/** Runs `scoreFn` (which returns [B, classes] scores) over the split in batches; returns flat scores. */
export function scoreSplit(scoreFn: LogitsFn, split: Split, imageShape: [number, number, number], batchSize = EVAL_BATCH): Float32Array {
  const pixels = imageShape[0] * imageShape[1] * imageShape[2];
  let out: Float32Array | undefined;
  let classes = 0;
  for (const batch of batches(split.count, batchSize)) {
    const scores = tf.tidy(() => scoreFn(tf.tensor4d(batchData(split, batch, pixels).images, [batch.count, ...imageShape])));
    const values = scores.dataSync() as Float32Array;
    classes = scores.shape[1];
    scores.dispose();
    out ??= new Float32Array(split.count * classes);
    out.set(values, batch.start * classes);
  }
  return out ?? new Float32Array(0);
}

export function argmaxRows(scores: Float32Array, classes: number): Uint8Array {
  const n = scores.length / classes;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[i * classes + c] > scores[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

export function accuracyOf(predictions: Uint8Array, labels: Uint8Array): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  return labels.length === 0 ? 0 : correct / labels.length;
}

export function evaluateAccuracy(scoreFn: LogitsFn, split: Split, imageShape: [number, number, number], classes: number): number {
  return accuracyOf(argmaxRows(scoreSplit(scoreFn, split, imageShape), classes), split.labels);
}
