/**
 * How alike an ensemble's members' input gradients are (issue 22): if they all point the same way, Grad. 2
 * is one member's gradient and averaging defends nothing; if they disagree, Grad. 2 is a compromise no member
 * sees. Measured on ∇x of each member's cross-entropy from logits at the true label.
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { usageError } from '../errors.ts';
import { writeJsonAtomic } from '../run/atomic.ts';
import { Progress } from '../run/progress.ts';
import { openRun, withRunEnsemble } from './attack-run.ts';
import { exactSign } from '../attacks/iterative.ts';
import type { Dataset } from '../data/dataset.ts';
import type { Ensemble } from '../ensembles/ensemble.ts';
import { memberLoss } from '../attacks/gradients.ts';
import { sumOverBatches } from './measure.ts';

export interface GradientAlignment {
  /** Mean over images and member pairs i ≠ j of cos(∇x J_i, ∇x J_j). */
  pairwiseCosine: number;
  /** Mean over images and members of cos(∇x J_i, Grad. 2), Grad. 2 the mean of the members' gradients. */
  cosineToGrad2: number;
  /** Mean over images and members of the share of pixels where sign(∇x J_i) = sign(Grad. 2): where one member's FGSM step is Grad. 2's. */
  signAgreementWithGrad2: number;
  members: number;
  n: number;
}

/** Per-example sums of the three measures over members (and pairs) for one batch: [pairwiseCosineSum, cosineToMeanSum, signAgreementSum]. */
export function alignmentSums(ensemble: Ensemble, x: tf.Tensor4D, y: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const n = ensemble.size;
    const batch = x.shape[0];
    const gradients = Array.from({ length: n }, (_, i) =>
      tf.reshape(tf.grad((input) => tf.sum(memberLoss(ensemble.memberLogits(input as tf.Tensor4D, i), y, 'logits')))(x), [batch, -1]),
    );
    // Scaled by its largest entry before the norm: a saturated member's gradient (|g| ~ 1e-20) has squares
    // that underflow float32, and its norm would read 0.
    const unit = (g: tf.Tensor): tf.Tensor => {
      const largest = tf.max(tf.abs(g), -1, true);
      const scaled = tf.where(tf.greater(largest, 0), tf.div(g, tf.maximum(largest, 1e-37)), tf.zerosLike(g));
      return tf.div(scaled, tf.maximum(tf.norm(scaled, 'euclidean', -1, true), 1));
    };
    // [B, n, P]: each member's unit gradient per example; a zero gradient stays zero (its cosines count as 0).
    const units = tf.stack(gradients.map(unit), 1);
    const gram = tf.matMul(units, units, false, true);
    const diagonal = tf.sum(tf.mul(units, units), [1, 2]);
    const pairwise = tf.div(tf.sub(tf.sum(gram, [1, 2]), diagonal), n * (n - 1));
    const mean = tf.div(tf.addN(gradients), n);
    const meanUnit = unit(mean);
    const toMean = tf.div(tf.sum(tf.mul(units, tf.expandDims(meanUnit, 1)), [1, 2]), n);
    const meanSign = exactSign(tf.reshape(mean, x.shape) as tf.Tensor4D).reshape([batch, -1]);
    const agreement = tf.div(tf.addN(gradients.map((g) => tf.mean(tf.cast(tf.equal(exactSign(tf.reshape(g, x.shape) as tf.Tensor4D).reshape([batch, -1]), meanSign), 'float32'), 1))), n);
    return tf.stack([tf.sum(pairwise), tf.sum(toMean), tf.sum(agreement)]) as tf.Tensor1D;
  });
}

export function gradientAlignment(ensemble: Ensemble, data: Pick<Dataset, 'test' | 'imageShape' | 'numClasses'>, batchSize: number, onProgress?: (done: number, total: number) => void): GradientAlignment {
  if (ensemble.size < 2) throw new Error('gradient alignment needs at least two members');
  const totals = sumOverBatches({ split: data.test, imageShape: data.imageShape, numClasses: data.numClasses }, batchSize, 3, ({ x, y }) => alignmentSums(ensemble, x, y), onProgress);
  const n = data.test.count;
  return { pairwiseCosine: totals[0] / n, cosineToGrad2: totals[1] / n, signAgreementWithGrad2: totals[2] / n, members: ensemble.size, n };
}

export const ALIGNMENT_FILE = 'alignment.json';

/** A run's alignment on its test images (all, or the first testLimit), saved to RUN/alignment.json. */
export async function runAlignment(options: { runsRoot: string; runName: string; testLimit?: number; batchSize: number }): Promise<GradientAlignment & { run: string; method: string }> {
  const run = openRun(options.runsRoot, options.runName);
  const { manifest } = run;
  if (manifest.config.members < 2) throw usageError(`--run ${run.name}: it has one model; alignment compares an ensemble's members (train one with --members 2 or more)`);
  return withRunEnsemble(run, options.testLimit, (ensemble, data) => {
    const progress = new Progress(`gradient alignment of ${run.name}`, 'images');
    const alignment = gradientAlignment(ensemble, data, options.batchSize, (done, total) => progress.update({ done, total }));
    progress.finish();
    const saved = { run: run.name, method: manifest.config.method, ...alignment };
    writeJsonAtomic(join(run.dir, ALIGNMENT_FILE), saved);
    return saved;
  });
}
