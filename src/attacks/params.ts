/**
 * What every attack takes and returns, and the up-front argument checks (cleverhans v4 style:
 * ε < 0 is an error, ε = 0 returns x unchanged, then 0 < α ≤ ε, n ≥ 1, R ≥ 1).
 */
import * as tf from '@tensorflow/tfjs';
import { usageError } from '../errors.ts';

export const ATTACK_NAMES = ['fgsm', 'bim', 'pgd'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

export interface FgsmParams {
  /** L∞ budget, in pixel units of [0, 1]. */
  eps: number;
}

export interface BimParams extends FgsmParams {
  /** Step size α of each signed-gradient step. */
  alpha: number;
  /** Number of steps n. */
  steps: number;
}

export interface PgdParams extends BimParams {
  /** Random starts R; an example counts as broken if any of them fools the scorer. */
  restarts: number;
  /** Seed of the random starts; restart r draws from deriveSeed(seed, r). */
  seed: number;
}

export type AttackSpec = ({ name: 'fgsm' } & FgsmParams) | ({ name: 'bim' } & BimParams) | ({ name: 'pgd' } & PgdParams);

// A type alias, not an interface, so that tf.tidy accepts it as a tensor container.
export type AttackResult = {
  adversarial: tf.Tensor4D;
  /** Per example (bool): every input gradient the attack evaluated for it was exactly all-zero. */
  zeroGradient: tf.Tensor1D;
};

export function validateEps(eps: number): void {
  if (!(Number.isFinite(eps) && eps >= 0)) throw usageError(`--eps: ε must be a finite number ≥ 0 (got ${eps})`);
}

function validateCount(flag: string, what: string, value: number): void {
  if (!(Number.isSafeInteger(value) && value >= 1)) throw usageError(`${flag}: ${what} must be an integer ≥ 1 (got ${value})`);
}

export function validateBim(params: BimParams): void {
  validateEps(params.eps);
  validateCount('--steps', 'the number of steps n', params.steps);
  // ε = 0 is the identity whatever α is (cleverhans returns x before looking at eps_iter).
  if (params.eps > 0 && !(params.alpha > 0 && params.alpha <= params.eps)) {
    throw usageError(`--alpha: the step size must satisfy 0 < α ≤ ε (got α = ${params.alpha}, ε = ${params.eps}); pass a smaller --alpha or a larger --eps`);
  }
}

export function validatePgd(params: PgdParams): void {
  validateBim(params);
  validateCount('--restarts', 'the number of random restarts R', params.restarts);
}

export function validateAttack(spec: AttackSpec): void {
  if (spec.name === 'fgsm') validateEps(spec.eps);
  else if (spec.name === 'bim') validateBim(spec);
  else validatePgd(spec);
}

/** The result of an attack with ε = 0: x itself (a clone the caller owns), no gradient evaluated. */
export function unchanged(x: tf.Tensor4D): AttackResult {
  return tf.tidy(() => ({ adversarial: x.clone(), zeroGradient: tf.zeros([x.shape[0]], 'bool') as tf.Tensor1D }));
}

/** A log-friendly description, e.g. "BIM(ε=0.2, α=0.025, n=8)". */
export function describeAttack(spec: AttackSpec): string {
  const name = spec.name.toUpperCase();
  if (spec.name === 'fgsm') return `${name}(ε=${spec.eps})`;
  const base = `ε=${spec.eps}, α=${spec.alpha}, n=${spec.steps}`;
  return spec.name === 'bim' ? `${name}(${base})` : `${name}(${base}, R=${spec.restarts}, seed=${spec.seed})`;
}
