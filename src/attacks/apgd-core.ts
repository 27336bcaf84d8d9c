/**
 * APGD — Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks" (ICML 2020), Algorithm 1; L∞. APGD-CE and APGD-DLR are this with the
 * cross-entropy or the DLR objective (dlr.ts).
 *
 * From a uniform random start in the ε-ball, n steps of
 *   z = P(x_k + η_k · sign ∇f(x_k)),   x_{k+1} = P(x_k + α (z − x_k) + (1 − α)(x_k − x_{k−1}))
 * (P: projection onto the ε-ball ∩ [0, 1]; momentum α = 0.75, the first step plain: α = 1), per example:
 * - keeps the point of highest loss x_max (and its gradient);
 * - η starts at 2ε; at each checkpoint w_j (apgdCheckpoints) η is halved, and the iterate restarted from
 *   x_max, when (1) at most ρ·(w_j − w_{j−1}) of the steps since the last checkpoint increased the loss
 *   (ρ = 0.75), or (2) η was not halved at the last checkpoint and the best loss has not grown since.
 * R restarts, restart r from deriveSeed(seed, r). With `isCorrect`, as AutoAttack: every iterate is
 * checked, an example's adversarial example is the last misclassified iterate of the first restart that
 * found one, later restarts run only on the examples still classified correctly, and an example never
 * misclassified gets its highest-loss point over the restarts. Without it: the highest-loss point.
 *
 * Defaults and their sources (fra31/auto-attack, autoattack/autopgd_base.py and autoattack.py):
 * n = 100, ρ = 0.75, momentum α = 0.75, η₀ = 2ε, checkpoint intervals max(⌊0.22n⌋, 1) then shrinking by
 * max(⌊0.03n⌋, 1) down to max(⌊0.06n⌋, 1) — the paper's p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06).
 * Deviations from that code: the first step's loss increase is counted against the starting point's loss
 * (the reference compares with an unset zero); condition (1) uses ≤ as the reference does (the paper
 * writes <); the random start is uniform in the ε-ball (the reference rescales it so one coordinate sits
 * at ±ε); sign is exact (exactSign) where the wasm Sign kernel would zero tiny gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { ParamError } from '../errors.ts';
import { deriveSeed } from '../run/rng.ts';
import { checkCount, checkEps, unchanged } from './definition.ts';
import { crossEntropyLoss, dlrLoss } from './dlr.ts';
import type { GradientSource } from './gradients.ts';
import { exactSign, projectToThreatModel, randomStart, selectExamples } from './iterative.ts';

/** (x, one-hot y) → per-example loss to maximise [B] and ∇x of its sum (row b: the gradient of example b). */
export type Objective = (x: tf.Tensor4D, y: tf.Tensor2D) => { value: tf.Tensor1D; gradient: tf.Tensor4D };

/** x → class scores [B, K]: logits, or log-probabilities (an ensemble's log p̄, see logMeanProbabilities). */
export type Scores = (x: tf.Tensor4D) => tf.Tensor2D;

/** An objective from a per-example loss of the scores, with its gradient from tf.valueAndGrad. */
export function objectiveOf(loss: (scores: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor1D, scores: Scores): Objective {
  return (x, y) =>
    tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad((input: tf.Tensor) => loss(scores(input as tf.Tensor4D), y))(x);
      return { value: value as tf.Tensor1D, gradient: grad as tf.Tensor4D };
    });
}

/** APGD-CE's objective: cross-entropy of logits or of log-probabilities (the same loss for both). */
export function crossEntropyObjective(scores: Scores): Objective {
  return objectiveOf(crossEntropyLoss, scores);
}

/** APGD-DLR's objective (needs ≥ 3 classes). */
export function dlrObjective(scores: Scores): Objective {
  return objectiveOf(dlrLoss, scores);
}

/**
 * An objective whose value is `loss` of the scores and whose gradient comes from another source, e.g. the
 * paper's Grad. 2 (gradients.ts): the step-size control and the best point follow the loss of what the
 * model predicts with, the steps follow that gradient. The value costs one forward pass more.
 */
export function objectiveWithGradient(loss: (scores: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor1D, scores: Scores, gradient: GradientSource): Objective {
  return (x, y) => tf.tidy(() => ({ value: loss(scores(x), y), gradient: gradient(x, y) }));
}

export interface ApgdParams {
  /** L∞ budget, in pixel units of [0, 1]. */
  eps: number;
  /** Iterations n per restart (gradient evaluations: n + 1 per restart). AutoAttack: 100. */
  steps: number;
  /** Random restarts R. */
  restarts: number;
  /** Restart r starts from deriveSeed(seed, r). */
  seed: number;
  /** Threshold ρ of condition (1); default 0.75. */
  rho?: number;
  /**
   * Momentum: the weight α of the new step, 1 − α going to the last one; default 0.75. Named `momentum`,
   * not the paper's α, because `alpha` is the step size of every other attack (its --alpha flag).
   */
  momentum?: number;
}

export const APGD_DEFAULTS = { steps: 100, rho: 0.75, momentum: 0.75 } as const;

export type ApgdResult = {
  adversarial: tf.Tensor4D;
  /** Per example (bool): every gradient evaluated for it, over all its restarts, was exactly all-zero. */
  zeroGradient: tf.Tensor1D;
};

/** Iterations (1-based counts of steps) after which the step-size conditions are checked. */
export function apgdCheckpoints(steps: number): number[] {
  const checkpoints: number[] = [];
  const shrink = Math.max(Math.floor(0.03 * steps), 1);
  const shortest = Math.max(Math.floor(0.06 * steps), 1);
  let interval = Math.max(Math.floor(0.22 * steps), 1);
  for (let at = interval; at <= steps; at += interval) {
    checkpoints.push(at);
    interval = Math.max(interval - shrink, shortest);
  }
  return checkpoints;
}

/** Throws ParamError naming the parameter (eps, steps, restarts, rho, momentum) a value is refused for. */
export function checkApgd(params: ApgdParams): void {
  checkEps(params.eps);
  checkCount('steps', 'the number of iterations n', params.steps);
  checkCount('restarts', 'the number of random restarts R', params.restarts);
  const rho = params.rho ?? APGD_DEFAULTS.rho;
  if (!(rho > 0 && rho <= 1)) throw new ParamError('rho', `ρ must satisfy 0 < ρ ≤ 1 (got ${rho})`);
  const momentum = params.momentum ?? APGD_DEFAULTS.momentum;
  if (!(momentum > 0 && momentum <= 1)) throw new ParamError('momentum', `the momentum α must satisfy 0 < α ≤ 1 (got ${momentum})`);
}

/** One restart on a batch: the highest-loss points, their losses, and (with isCorrect) the misclassified ones. */
interface Run {
  best: tf.Tensor4D;
  bestLoss: Float32Array;
  /** Last misclassified iterate per example (the start where none was); only with isCorrect. */
  fooledAt?: tf.Tensor4D;
  fooled: Uint8Array;
  zeroGradient: Uint8Array;
}

/** `next`, after disposing `old` (the tensor it supersedes). */
function replace<T extends tf.Tensor>(old: T | undefined, next: T): T {
  if (old && old !== next) old.dispose();
  return next;
}

function run(
  objective: Objective,
  x: tf.Tensor4D,
  y: tf.Tensor2D,
  labels: tf.Tensor1D,
  eps: number,
  steps: number,
  rho: number,
  momentum: number,
  seed: number,
  isCorrect?: (x: tf.Tensor4D, labels: tf.Tensor1D) => tf.Tensor1D,
): Run {
  const batch = x.shape[0];
  const checkpoints = new Set(apgdCheckpoints(steps));
  let current = randomStart(x, eps, seed);
  let previous = current.clone();
  const first = objective(current, y);
  let gradient = first.gradient;
  const bestLoss = Float32Array.from(first.value.dataSync());
  first.value.dispose();
  let best = current.clone();
  let bestGradient = gradient.clone();
  const zeroGradient = Uint8Array.from(tf.tidy(() => tf.all(tf.equal(gradient, 0), [1, 2, 3]).dataSync()));
  const fooled = new Uint8Array(batch);
  let fooledAt: tf.Tensor4D | undefined;
  if (isCorrect) {
    const correct = tf.tidy(() => isCorrect(current, labels).dataSync());
    correct.forEach((c, b) => (fooled[b] = c ? 0 : 1));
    fooledAt = current.clone();
  }

  const stepSize = new Float32Array(batch).fill(2 * eps);
  const lastLoss = Float32Array.from(bestLoss);
  const increases = new Int32Array(batch);
  let sinceCheck = 0;
  const bestAtLastCheck = Float32Array.from(bestLoss);
  const halvedAtLastCheck = new Uint8Array(batch).fill(1); // condition (2) cannot hold at the first checkpoint

  for (let step = 0; step < steps; step++) {
    const weight = step === 0 ? 1 : momentum;
    const next = tf.tidy(() => {
      const eta = tf.tensor4d(stepSize, [batch, 1, 1, 1]);
      const z = projectToThreatModel(tf.add(current, tf.mul(eta, exactSign(gradient))), x, eps);
      const moved = tf.add(tf.add(current, tf.mul(tf.sub(z, current), weight)), tf.mul(tf.sub(current, previous), 1 - weight));
      return projectToThreatModel(moved as tf.Tensor4D, x, eps);
    });
    previous = replace(previous, current);
    current = next;

    const evaluated = objective(current, y);
    gradient = replace(gradient, evaluated.gradient);
    const loss = Float32Array.from(evaluated.value.dataSync());
    evaluated.value.dispose();
    const zeroNow = tf.tidy(() => tf.all(tf.equal(gradient, 0), [1, 2, 3]).dataSync());
    zeroNow.forEach((z, b) => (zeroGradient[b] &= z ? 1 : 0));
    if (isCorrect) {
      const correct = tf.tidy(() => isCorrect(current, labels).dataSync());
      const wrong = Array.from(correct, (c) => (c ? 0 : 1));
      if (wrong.some((w) => w)) fooledAt = replace(fooledAt, selectExamples(wrong, current, fooledAt!));
      wrong.forEach((w, b) => (fooled[b] |= w));
    }

    const improved = new Uint8Array(batch);
    for (let b = 0; b < batch; b++) {
      if (loss[b] > lastLoss[b]) increases[b]++;
      lastLoss[b] = loss[b];
      if (loss[b] > bestLoss[b]) {
        improved[b] = 1;
        bestLoss[b] = loss[b];
      }
    }
    if (improved.some((i) => i)) {
      best = replace(best, selectExamples(improved, current, best));
      bestGradient = replace(bestGradient, selectExamples(improved, gradient, bestGradient));
    }

    sinceCheck++;
    if (checkpoints.has(step + 1)) {
      const halve = new Uint8Array(batch);
      for (let b = 0; b < batch; b++) {
        const oscillating = increases[b] <= rho * sinceCheck;
        const stalled = !halvedAtLastCheck[b] && bestAtLastCheck[b] >= bestLoss[b];
        halve[b] = oscillating || stalled ? 1 : 0;
        halvedAtLastCheck[b] = halve[b];
        bestAtLastCheck[b] = bestLoss[b];
        if (halve[b]) stepSize[b] /= 2;
        increases[b] = 0;
      }
      sinceCheck = 0;
      if (halve.some((h) => h)) {
        current = replace(current, selectExamples(halve, best, current));
        gradient = replace(gradient, selectExamples(halve, bestGradient, gradient));
      }
    }
  }
  tf.dispose([current, previous, gradient, bestGradient]);
  return { best, bestLoss, fooledAt, fooled, zeroGradient };
}

/**
 * APGD (L∞) on `objective`; y one-hot [B, K]. `isCorrect` (e.g. scorerOf(ensemblePredictor(e))) decides
 * success; without it the highest-loss point over the restarts is returned. ε = 0 (or an empty batch)
 * returns a clone of x and evaluates nothing.
 */
export function apgd(
  objective: Objective,
  x: tf.Tensor4D,
  y: tf.Tensor2D,
  params: ApgdParams,
  isCorrect?: (x: tf.Tensor4D, labels: tf.Tensor1D) => tf.Tensor1D,
): ApgdResult {
  checkApgd(params);
  if (params.eps === 0 || x.shape[0] === 0) return unchanged(x);
  const rho = params.rho ?? APGD_DEFAULTS.rho;
  const momentum = params.momentum ?? APGD_DEFAULTS.momentum;
  const batch = x.shape[0];
  const labels = tf.tidy(() => tf.cast(tf.argMax(y, 1), 'int32') as tf.Tensor1D);
  let adversarial: tf.Tensor4D | undefined;
  const bestLoss = new Float32Array(batch).fill(-Infinity);
  const fooled = new Uint8Array(batch);
  const zeroGradient = new Uint8Array(batch).fill(1);

  for (let restart = 0; restart < params.restarts; restart++) {
    // With a success test, only the examples no restart has fooled yet are attacked again (AutoAttack).
    const active = Array.from({ length: batch }, (_, b) => b).filter((b) => !isCorrect || !fooled[b]);
    if (active.length === 0) break;
    const all = active.length === batch;
    const index = tf.tensor1d(active, 'int32');
    const [xs, ys, ls] = all ? [x, y, labels] : tf.tidy(() => [tf.gather(x, index), tf.gather(y, index), tf.gather(labels, index)] as [tf.Tensor4D, tf.Tensor2D, tf.Tensor1D]);
    const result = run(objective, xs, ys, ls, params.eps, params.steps, rho, momentum, deriveSeed(params.seed, restart), isCorrect);
    if (!all) tf.dispose([xs, ys, ls]);

    // Row b of the combined result: its current row (b) or row j of this restart's candidates (batch + j).
    const take = Int32Array.from({ length: batch }, (_, b) => b);
    const candidates: tf.Tensor4D = result.fooledAt
      ? selectExamples(result.fooled, result.fooledAt!, result.best)
      : result.best;
    active.forEach((b, j) => {
      zeroGradient[b] &= result.zeroGradient[j];
      if (result.fooled[j]) {
        fooled[b] = 1;
        take[b] = batch + j;
      } else if (!adversarial || result.bestLoss[j] > bestLoss[b]) {
        bestLoss[b] = result.bestLoss[j];
        take[b] = batch + j;
      }
    });
    const combined = tf.tidy(() => {
      const pool = adversarial ? tf.concat([adversarial, candidates]) : tf.concat([x, candidates]);
      return tf.gather(pool, tf.tensor1d(take, 'int32')) as tf.Tensor4D;
    });
    tf.dispose([index, result.best, candidates]);
    if (result.fooledAt) result.fooledAt.dispose();
    adversarial = replace(adversarial, combined);
  }
  labels.dispose();
  return { adversarial: adversarial!, zeroGradient: tf.tensor1d(zeroGradient, 'bool') };
}
