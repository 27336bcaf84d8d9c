/**
 * Square attack — Andriushchenko, Croce, Flammarion & Hein, "Square Attack: a query-efficient black-box
 * adversarial attack via random search" (ECCV 2020); L∞, untargeted, score-based: it only calls `scores`
 * (forward passes, no gradient), so gradient masking does not stop it.
 *
 * Per image: start at vertical stripes (each column and channel at x ± ε), then each iteration try
 * changing one random square of side s = round(√(p·h·w)) to x ± ε (one random sign per channel; signs
 * redrawn while the square would not change anything, as the reference code does) and keep the change if
 * the margin m = z_y − max_{k≠y} z_k decreases; stop once the image is misclassified (argmax ≠ y, a tie
 * going to the first maximum as tf.argMax does; the references stop at m ≤ 0). p follows the
 * paper's schedule: p_init halved after iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000, those
 * counted on a 10,000-iteration scale and rescaled to the query budget (max-andr/square-attack attack.py
 * p_selection; AutoAttack's square.py with resc_schedule=True).
 *
 * z are the attacked model's scores: its probabilities (an ensemble's averaged softmax), log-probabilities
 * or logits — the success test (argmax ≠ y) is the same for all three; the margin, and so which squares are
 * kept, is not. The references take logits. On probabilities a saturated model (p_y rounds to 1 in float32)
 * gives margins float32 cannot tell apart, which log-probabilities still resolve.
 *
 * Queries: the stripe start is query 1; every later iteration queries only the images still classified
 * correctly, in one batched forward pass, so queries[b] ≤ budget and an image fooled early costs less.
 * Randomness: image b draws from its own Rng(deriveSeed(seed, b)), so a seed fixes the squares tried on
 * any backend and whatever the other images in the batch do (which are kept still depends on the scores,
 * so backends that round them differently can diverge).
 *
 * Defaults and deviations: p_init = 0.8, AutoAttack's value for L∞ (autoattack.py; the original code's
 * default is 0.05 for ImageNet models, its README uses 0.3 for logit-pairing models and 0.8 for Madry's
 * adversarially trained MNIST model). The budget counts the start, as the original (n_iters queries in
 * all; AutoAttack allows n_queries + 1). A square may sit at any of the (h − s + 1)² positions (both
 * references draw randint(0, h − s), which never touches the last row and column), and s ≤ min(h, w).
 * Each image draws its own square and signs, as the original does (AutoAttack's square.py shares one
 * square and one sign vector across the batch).
 * Images the model already misclassifies are not treated specially: the caller attacks correct ones.
 */
import * as tf from '@tensorflow/tfjs';
import { ParamError } from '../errors.ts';
import { deriveSeed, Rng } from '../run/rng.ts';
import { checkCount, checkEps } from './definition.ts';

export interface SquareParams {
  /** L∞ budget, in pixel units of [0, 1]. */
  eps: number;
  /** Query budget per image, the stripe start included. AutoAttack: 5000. */
  queries: number;
  /** Image b draws from Rng(deriveSeed(seed, b)). */
  seed: number;
  /** Initial fraction p of the pixels a square covers; default 0.8 (AutoAttack, L∞). */
  pInit?: number;
  /** Rescale the p schedule to the budget (default true, as the original; AutoAttack's standard run passes false). */
  rescaleSchedule?: boolean;
}

export const SQUARE_DEFAULTS = { queries: 5000, pInit: 0.8, rescaleSchedule: true } as const;

export interface SquareResult {
  adversarial: tf.Tensor4D;
  /** Per image: forward evaluations of that image (the start included). */
  queries: Int32Array;
  /** Per image: 1 where the returned image is misclassified (argmax of the scores ≠ label). */
  success: Uint8Array;
}

const HALVINGS = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];

/** p at (0-based) iteration `iteration` after the start, for a budget of `budget` queries. */
export function squareP(pInit: number, iteration: number, budget: number, rescale = true): number {
  const it = rescale ? Math.floor((iteration / budget) * 10000) : iteration;
  const halvings = HALVINGS.filter((at) => it > at).length;
  return pInit / 2 ** halvings;
}

/** Side of the square for p on an h × w image: round(√(p·h·w)), at least 1, at most min(h, w). */
export function squareSide(p: number, height: number, width: number): number {
  return Math.min(Math.max(Math.round(Math.sqrt(p * height * width)), 1), height, width);
}

/** Throws ParamError naming the parameter (eps, queries, pInit) a value is refused for. */
export function checkSquare(params: SquareParams): void {
  checkEps(params.eps);
  checkCount('queries', 'the query budget', params.queries);
  const pInit = params.pInit ?? SQUARE_DEFAULTS.pInit;
  if (!(pInit > 0 && pInit <= 1)) throw new ParamError('pInit', `p_init must satisfy 0 < p ≤ 1 (got ${pInit})`);
}

/** Margin z_y − max_{k≠y} z_k and whether argmax (first maximum, as tf.argMax) differs from y. */
function judge(row: ArrayLike<number>, label: number): { margin: number; fooled: boolean } {
  let other = -Infinity;
  let argmax = 0;
  for (let k = 0; k < row.length; k++) {
    if (k !== label && row[k] > other) other = row[k];
    if (row[k] > row[argmax]) argmax = k;
  }
  return { margin: row[label] - other, fooled: argmax !== label };
}

export function square(scores: (x: tf.Tensor4D) => tf.Tensor2D, x: tf.Tensor4D, labels: tf.Tensor1D, params: SquareParams): SquareResult {
  checkSquare(params);
  const pInit = params.pInit ?? SQUARE_DEFAULTS.pInit;
  const rescale = params.rescaleSchedule ?? SQUARE_DEFAULTS.rescaleSchedule;
  const [batch, height, width, channels] = x.shape;
  const size = height * width * channels;
  const clean = Float32Array.from(x.dataSync());
  const label = Int32Array.from(labels.dataSync());
  if (label.length !== batch) throw new RangeError(`square: ${label.length} labels for ${batch} images`);
  const queries = new Int32Array(batch);
  const success = new Uint8Array(batch);
  const margin = new Float64Array(batch);

  /** One batched forward pass over `images` (rows of `pixels`); the per-image judgements. */
  const query = (images: number[], pixels: Float32Array) => {
    const out = tf.tidy(() => scores(tf.tensor4d(pixels, [images.length, height, width, channels])));
    const rows = out.dataSync();
    out.dispose();
    const classes = rows.length / images.length;
    return images.map((b, j) => {
      queries[b]++;
      return judge(rows.subarray(j * classes, (j + 1) * classes), label[b]);
    });
  };

  // The two values a pixel may take, exactly as projectToThreatModel computes them in float32.
  const e = Math.fround(params.eps);
  const low = clean.map((v) => Math.max(Math.fround(v - e), 0));
  const high = clean.map((v) => Math.min(Math.fround(v + e), 1));

  const all = Array.from({ length: batch }, (_, b) => b);
  if (batch === 0) return { adversarial: x.clone(), queries, success };
  if (params.eps === 0) {
    query(all, clean).forEach((j, b) => (success[b] = j.fooled ? 1 : 0));
    return { adversarial: x.clone(), queries, success };
  }

  const rngs = all.map((b) => new Rng(deriveSeed(params.seed, b)));
  const best = new Float32Array(batch * size);
  for (const b of all) {
    for (let col = 0; col < width; col++) {
      for (let c = 0; c < channels; c++) {
        const up = rngs[b].next() < 0.5;
        for (let row = 0; row < height; row++) {
          const i = b * size + (row * width + col) * channels + c;
          best[i] = up ? high[i] : low[i];
        }
      }
    }
  }
  query(all, best).forEach((j, b) => {
    margin[b] = j.margin;
    success[b] = j.fooled ? 1 : 0;
  });

  const signs = new Int8Array(channels);
  for (let iteration = 0; iteration < params.queries - 1; iteration++) {
    const active = all.filter((b) => !success[b]);
    if (active.length === 0) break;
    const side = squareSide(squareP(pInit, iteration, params.queries, rescale), height, width);
    const candidates = new Float32Array(active.length * size);
    active.forEach((b, j) => {
      const rng = rngs[b];
      const top = rng.int(height - side + 1);
      const left = rng.int(width - side + 1);
      const offset = b * size;
      candidates.set(best.subarray(offset, offset + size), j * size);
      // Redraw the signs while the square would leave the image as it is (every pixel already there);
      // bounded, for an ε below float32 resolution where x − ε and x + ε round to the same value.
      for (let changes = false, tries = 0; !changes && tries < 64; tries++) {
        for (let c = 0; c < channels; c++) signs[c] = rng.next() < 0.5 ? -1 : 1;
        for (let row = top; row < top + side; row++) {
          for (let col = left; col < left + side; col++) {
            for (let c = 0; c < channels; c++) {
              const p = (row * width + col) * channels + c;
              const value = signs[c] > 0 ? high[offset + p] : low[offset + p];
              if (value !== best[offset + p]) changes = true;
              candidates[j * size + p] = value;
            }
          }
        }
      }
    });
    query(active, candidates).forEach((judgement, j) => {
      const b = active[j];
      if (judgement.margin < margin[b] || judgement.fooled) {
        margin[b] = judgement.margin;
        best.set(candidates.subarray(j * size, (j + 1) * size), b * size);
        if (judgement.fooled) success[b] = 1;
      }
    });
  }
  return { adversarial: tf.tensor4d(best, [batch, height, width, channels]), queries, success };
}
