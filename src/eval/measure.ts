/**
 * Accuracy of one or more scored models on a split under one attack (or none), batch by batch, with the
 * fraction of examples whose input gradient was exactly zero throughout the attack and, for score-based
 * attacks, the model queries per image. An attack of stages (the worst-case suite) gives one measurement
 * per stage.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttackResult, AttackSpec, Scores } from '../attacks/definition.ts';
import type { GradientHooks } from '../attacks/gradients.ts';
import { ensemblePredictor, memberPredictor, scorerOf, type Predictor, type Scorer } from '../attacks/scoring.ts';
import { batchData, batches, type BatchSlice, type Split } from '../data/dataset.ts';
import type { Ensemble } from '../ensembles/ensemble.ts';
import { deriveSeed } from '../run/rng.ts';

/** The model a measurement is scored on: one member of the attacked run, or its whole ensemble. */
export type ScoreTarget = { scoredOn: 'single'; member: number } | { scoredOn: 'ensemble' };

export interface Measurement {
  target: ScoreTarget;
  /** Which stage of an attack of stages this measures (an index into its `stages(params)`); undefined: the attack itself. */
  stage?: number;
  accuracy: number;
  /** null without an attack (no gradient is evaluated). */
  zeroGradFraction: number | null;
  /** Mean model queries per image of a score-based attack; null otherwise. */
  queries: number | null;
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
  attack?: { spec: AttackSpec; hooks: GradientHooks };
  targets: ScoreTarget[];
  batchSize: number;
  onProgress?: (done: number, total: number) => void;
}

export function predictorFor(ensemble: Ensemble, target: ScoreTarget): Predictor {
  return target.scoredOn === 'single' ? memberPredictor(ensemble, target.member) : ensemblePredictor(ensemble);
}

/** The scored model's class probabilities. */
export function probabilitiesFor(ensemble: Ensemble, target: ScoreTarget): Scores {
  return target.scoredOn === 'single' ? (x) => tf.tidy(() => tf.softmax(ensemble.memberLogits(x, target.member))) : (x) => ensemble.probabilities(x);
}

/** Random starts differ per batch: batch b of an attack with a seed uses deriveSeed(seed, b). */
export function batchSeed(spec: AttackSpec, batchIndex: number): number {
  return deriveSeed(spec.params.seed ?? 0, batchIndex);
}

/** What an attack's success is judged on. */
export interface ScoredModel {
  scorer: Scorer;
  probabilities: Scores;
}

/** One batch attacked; its success is judged on `scored`. */
export function runAttack(spec: AttackSpec, hooks: GradientHooks, x: tf.Tensor4D, y: tf.Tensor2D, scored: ScoredModel, batchIndex: number): AttackResult {
  return spec.definition.run({ x, y, ...hooks, ...scored, seed: batchSeed(spec, batchIndex) }, spec.params);
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

/** A split's images and labels, as batchOf reads them. */
export interface LabelledSplit {
  split: Split;
  imageShape: [number, number, number];
  numClasses: number;
}

/**
 * Counts summed over a split, batch by batch: `count` maps one batch to a 1-D tensor of `entries` counts (it
 * runs inside a tidy); the totals come back as numbers.
 */
export function sumOverBatches(
  data: LabelledSplit,
  batchSize: number,
  entries: number,
  count: (batch: Batch, slice: BatchSlice) => tf.Tensor,
  onProgress?: (done: number, total: number) => void,
): number[] {
  const totals = new Array<number>(entries).fill(0);
  for (const slice of batches(data.split.count, batchSize)) {
    const counts = tf.tidy(() => count(batchOf(data.split, data.imageShape, data.numClasses, slice), slice));
    const values = counts.dataSync();
    counts.dispose();
    if (values.length !== entries) throw new Error(`sumOverBatches: a batch gave ${values.length} counts, expected ${entries}`);
    values.forEach((v, k) => (totals[k] += v));
    onProgress?.(slice.start + slice.count, data.split.count);
  }
  return totals;
}

/** The number of measurements a spec yields per scored model: one per earlier stage, then its own. */
export function measurementsPerTarget(spec: AttackSpec | undefined): number {
  return spec ? (spec.definition.stages?.(spec.params).length ?? 0) + 1 : 1;
}

export function measure(options: MeasureOptions): Measurement[] {
  const { split, attack, targets } = options;
  const definition = attack?.spec.definition;
  const scored = targets.map((t): ScoredModel => ({ scorer: scorerOf(predictorFor(options.ensemble, t)), probabilities: probabilitiesFor(options.ensemble, t) }));
  const perTarget = measurementsPerTarget(attack?.spec);
  const started = performance.now();
  // Per (target, stage): correct, exactly-zero-gradient and query counts.
  const sums = sumOverBatches(
    { split, imageShape: options.imageShape, numClasses: options.numClasses },
    options.batchSize,
    3 * targets.length * perTarget,
    ({ x, labels, y }, batch) => {
      let shared: AttackResult | undefined;
      const rows = scored.flatMap((model) => {
        if (!attack) return [tf.stack([tf.sum(tf.cast(model.scorer(x, labels), 'int32')), tf.scalar(0, 'int32'), tf.scalar(-1, 'int32')])];
        const run = () => runAttack(attack.spec, attack.hooks, x, y, model, batch.index);
        const result = definition!.dependsOnScorer ? run() : (shared ??= run());
        return [...(result.stages ?? []), result].map((r) => {
          // −1: the attack counts no queries (a gradient attack).
          const queries = r.queries ? tf.sum(tf.cast(r.queries, 'int32')) : tf.scalar(-1, 'int32');
          return tf.stack([tf.sum(tf.cast(model.scorer(r.adversarial, labels), 'int32')), tf.sum(tf.cast(r.zeroGradient, 'int32')), queries]);
        });
      });
      return tf.reshape(tf.stack(rows), [-1]);
    },
    options.onProgress,
  );
  const seconds = (performance.now() - started) / 1000;
  const n = split.count;
  const fraction = (count: number) => (n === 0 ? 0 : count / n);
  return Array.from({ length: targets.length * perTarget }, (_, k) => {
    const target = targets[Math.floor(k / perTarget)];
    const stage = k % perTarget;
    const [correct, zero, queries] = sums.slice(3 * k, 3 * k + 3);
    return {
      target,
      ...(stage < perTarget - 1 ? { stage } : {}),
      accuracy: fraction(correct),
      zeroGradFraction: attack ? fraction(zero) : null,
      // Every batch of an attack that counts no queries adds −1, so its sum is negative.
      queries: n > 0 && queries >= 0 ? fraction(queries) : null,
      n,
      seconds,
    };
  });
}
