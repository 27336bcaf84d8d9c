/**
 * Accuracy of one or more scored models on a split under one attack (or none), batch by batch, with the
 * fraction of examples whose input gradient was exactly zero throughout the attack.
 */
import * as tf from '@tensorflow/tfjs';
import { batchData, batches, type BatchSlice, type Split } from '../data/dataset.ts';
import type { Ensemble } from '../ensembles/ensemble.ts';
import { deriveSeed } from '../run/rng.ts';
import type { AttackResult, AttackSpec } from '../attacks/definition.ts';
import type { GradientSource } from '../attacks/gradients.ts';
import { attackDefinition } from '../attacks/registry.ts';
import { ensemblePredictor, memberPredictor, scorerOf, type Predictor, type Scorer } from '../attacks/scoring.ts';

/** The model a measurement is scored on: one member of the attacked run, or its whole ensemble. */
export type ScoreTarget = { scoredOn: 'single'; member: number } | { scoredOn: 'ensemble' };

export interface Measurement {
  target: ScoreTarget;
  accuracy: number;
  /** null without an attack (no gradient is evaluated). */
  zeroGradFraction: number | null;
  n: number;
  seconds: number;
}

export interface MeasureOptions {
  /** The attacked run, whose members / ensemble the targets name. */
  ensemble: Ensemble;
  split: Split;
  imageShape: [number, number, number];
  numClasses: number;
  /** Omitted: clean accuracy. */
  attack?: { spec: AttackSpec; source: GradientSource };
  targets: ScoreTarget[];
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
}

export function predictorFor(ensemble: Ensemble, target: ScoreTarget): Predictor {
  return target.scoredOn === 'single' ? memberPredictor(ensemble, target.member) : ensemblePredictor(ensemble);
}

/** Random starts differ per batch: batch b of an attack with a seed uses deriveSeed(seed, b). */
export function batchSeed(spec: AttackSpec, batchIndex: number): number {
  return deriveSeed(spec.params.seed ?? 0, batchIndex);
}

/** One batch attacked, its success judged by `scorer`. */
export function runAttack(spec: AttackSpec, source: GradientSource, x: tf.Tensor4D, y: tf.Tensor2D, scorer: Scorer, batchIndex: number): AttackResult {
  return attackDefinition(spec.attack).run({ x, y, gradient: source, scorer, seed: batchSeed(spec, batchIndex) }, spec.params);
}

export interface Batch {
  x: tf.Tensor4D;
  labels: tf.Tensor1D;
  y: tf.Tensor2D;
}

/** A batch of a split as tensors (call inside tf.tidy). */
export function batchOf(split: Split, imageShape: [number, number, number], numClasses: number, batch: BatchSlice): Batch {
  const data = batchData(split, batch, imageShape[0] * imageShape[1] * imageShape[2]);
  const x = tf.tensor4d(data.images, [batch.count, ...imageShape]);
  const labels = tf.tensor1d(Int32Array.from(data.labels), 'int32');
  return { x, labels, y: tf.oneHot(labels, numClasses).toFloat() as tf.Tensor2D };
}

export function measure(options: MeasureOptions): Measurement[] {
  const { split, attack, targets } = options;
  const scorers = targets.map((t) => scorerOf(predictorFor(options.ensemble, t)));
  const correct = new Array<number>(targets.length).fill(0);
  const zeroGradient = new Array<number>(targets.length).fill(0);
  const started = performance.now();
  for (const batch of batches(split.count, options.batchSize)) {
    const counts = tf.tidy(() => {
      const { x, labels, y } = batchOf(split, options.imageShape, options.numClasses, batch);
      let shared: AttackResult | undefined;
      const perTarget = scorers.map((score) => {
        if (!attack) return tf.stack([tf.sum(tf.cast(score(x, labels), 'int32')), tf.scalar(0, 'int32')]);
        const run = () => runAttack(attack.spec, attack.source, x, y, score, batch.index);
        const result = attackDefinition(attack.spec.attack).dependsOnScorer ? run() : (shared ??= run());
        return tf.stack([tf.sum(tf.cast(score(result.adversarial, labels), 'int32')), tf.sum(tf.cast(result.zeroGradient, 'int32'))]);
      });
      return tf.stack(perTarget);
    });
    const values = counts.dataSync();
    counts.dispose();
    targets.forEach((_, t) => {
      correct[t] += values[2 * t];
      zeroGradient[t] += values[2 * t + 1];
    });
    options.onProgress?.(batch.start + batch.count, split.count);
  }
  const seconds = (performance.now() - started) / 1000;
  const n = split.count;
  return targets.map((target, t) => ({
    target,
    accuracy: n === 0 ? 0 : correct[t] / n,
    zeroGradFraction: attack ? (n === 0 ? 0 : zeroGradient[t] / n) : null,
    n,
    seconds,
  }));
}
