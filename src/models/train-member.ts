/**
 * Trains one model with a seeded, hand-written loop: our PRNG shuffles (tfjs' fit cannot be seeded),
 * an optional per-batch transform adds noise, and an optional loss supports the defenses. The same loop
 * trains several models together on one objective of all of them (trainJointly: an ensemble trained as a
 * whole), with the same batches, one optimiser and one checkpoint.
 */
import * as tf from '@tensorflow/tfjs';
import { adam } from '../backend/fused-adam.ts';
import { batchData, batches, type Split } from '../data/dataset.ts';
import { UserError } from '../errors.ts';
import { Rng } from '../run/rng.ts';
import { standardLoss, type BatchLoss, type EnsembleBatchLoss } from './loss.ts';
import { loadTrainState, saveTrainState, type Trained, type TrainStateTarget } from './train-state.ts';

export interface BatchInfo {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  samplesDone: number;
  /** Of samplesDone, those trained before this attempt resumed from a checkpoint. */
  samplesResumed: number;
  samplesTotal: number;
}

export interface MemberTrainingOptions {
  split: Split;
  imageShape: [number, number, number];
  numClasses: number;
  /** Training examples this member sees (all of them, or a bootstrap replicate). */
  indices: Int32Array;
  epochs: number;
  batchSize: number;
  learningRate: number;
  shuffleSeed: number;
  /** Soft targets [split.count × classes] instead of one-hot labels (defensive distillation). */
  softTargets?: Float32Array;
  /** Applied to every training batch before the loss, e.g. Gaussian noise. Called inside tf.tidy. */
  transformBatch?: (x: tf.Tensor4D, step: number) => tf.Tensor4D;
  loss?: BatchLoss;
  onBatch?: (info: BatchInfo) => void;
  /** Label used in the NaN-loss error ("member 3"). */
  label?: string;
  /** Saves a checkpoint here after every epoch and resumes from it (src/models/train-state.ts). */
  checkpoint?: TrainStateTarget;
  /** Told how training starts: resumed after an epoch, or why a saved state was not used. */
  onResume?: (message: string) => void;
}

export interface MemberTrainingResult {
  finalLoss: number;
  seconds: number;
  samplesPerSecond: number;
}

export class NonFiniteLossError extends UserError {}

function batchTargets(options: MemberTrainingOptions, indices: Int32Array, labels: Uint8Array): tf.Tensor2D {
  const classes = options.numClasses;
  if (!options.softTargets) return tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D;
  const rows = new Float32Array(indices.length * classes);
  for (let i = 0; i < indices.length; i++) rows.set(options.softTargets.subarray(indices[i] * classes, (indices[i] + 1) * classes), i * classes);
  return tf.tensor2d(rows, [indices.length, classes]);
}

/** One optimiser step on one batch; returns the loss value. Leaks no tensors. */
export function trainStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  x: tf.Tensor4D,
  targets: tf.Tensor2D,
  loss: BatchLoss = standardLoss,
  step = 0,
): number {
  return minimizeStep(optimizer, () => loss(model, x, targets, step));
}

function minimizeStep(optimizer: tf.Optimizer, objective: () => tf.Scalar): number {
  const cost = optimizer.minimize(objective, true)!;
  const value = cost.dataSync()[0];
  cost.dispose();
  return value;
}

/** The batch's objective: what one optimiser step minimises. */
type Objective = (x: tf.Tensor4D, targets: tf.Tensor2D, step: number) => tf.Scalar;

export function trainMember(model: tf.LayersModel, options: MemberTrainingOptions): MemberTrainingResult {
  const loss = options.loss ?? standardLoss;
  return trainLoop(model, (x, targets, step) => loss(model, x, targets, step), options);
}

/**
 * Trains `models` together: every batch, one optimiser step of all of them on `loss`, an objective whose
 * gradient reaches each model (one Adam over all their weights is each model's own Adam: its update is
 * per weight). They see the same batches, and their checkpoint is one file.
 */
export function trainJointly(models: readonly tf.LayersModel[], loss: EnsembleBatchLoss, options: Omit<MemberTrainingOptions, 'loss'>): MemberTrainingResult {
  return trainLoop(models, (x, targets, step) => loss(models, x, targets, step), options);
}

function trainLoop(trained: Trained, objective: Objective, options: MemberTrainingOptions): MemberTrainingResult {
  const optimizer = adam(options.learningRate);
  let rng = new Rng(options.shuffleSeed);
  const pixels = options.imageShape[0] * options.imageShape[1] * options.imageShape[2];
  const n = options.indices.length;
  const stepsPerEpoch = Math.ceil(n / options.batchSize);
  const started = performance.now();
  let finalLoss = NaN;
  let samplesDone = 0;
  let samplesResumed = 0;
  let firstEpoch = 0;
  let earlierSeconds = 0;
  try {
    const saved = options.checkpoint ? loadTrainState(options.checkpoint, trained, optimizer) : undefined;
    if (saved && 'ignored' in saved) options.onResume?.(`${saved.ignored}; training from the first epoch`);
    else if (saved) {
      ({ finalLoss, samplesDone, epochsDone: firstEpoch, seconds: earlierSeconds } = saved.progress);
      rng = saved.rng;
      samplesResumed = samplesDone;
      options.onResume?.(`resuming after epoch ${firstEpoch}/${options.epochs} from ${options.checkpoint!.path}`);
    }
    for (let epoch = firstEpoch; epoch < options.epochs; epoch++) {
      const order = rng.permutation(n).map((k) => options.indices[k]);
      for (const batch of batches(n, options.batchSize, order)) {
        const step = batch.index;
        const picked = batch.indices!;
        const data = batchData(options.split, batch, pixels);
        const globalStep = epoch * stepsPerEpoch + step;
        const [x, targets] = tf.tidy(() => {
          const raw = tf.tensor4d(data.images, [batch.count, ...options.imageShape]);
          return [options.transformBatch ? options.transformBatch(raw, globalStep) : raw, batchTargets(options, picked, data.labels)];
        });
        finalLoss = minimizeStep(optimizer, () => objective(x, targets, globalStep));
        tf.dispose([x, targets]);
        if (!Number.isFinite(finalLoss)) {
          throw new NonFiniteLossError(
            `${options.label ?? 'model'}: training loss became ${finalLoss} at epoch ${epoch + 1}, step ${step + 1}; lower --lr or check the data`,
          );
        }
        samplesDone += picked.length;
        options.onBatch?.({ epoch, epochs: options.epochs, step, stepsPerEpoch, loss: finalLoss, samplesDone, samplesResumed, samplesTotal: n * options.epochs });
      }
      if (options.checkpoint) {
        const seconds = earlierSeconds + (performance.now() - started) / 1000;
        saveTrainState(options.checkpoint, trained, optimizer, rng, { epochsDone: epoch + 1, finalLoss, samplesDone, seconds });
      }
    }
  } finally {
    optimizer.dispose();
  }
  // Summed over attempts (a killed attempt's time up to its last checkpoint counts; the time between does not).
  const seconds = earlierSeconds + (performance.now() - started) / 1000;
  return { finalLoss, seconds, samplesPerSecond: samplesDone / seconds };
}
