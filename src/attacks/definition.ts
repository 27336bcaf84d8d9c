/**
 * What an attack is, as data: one definition per file in src/attacks/catalog/. Everything else — the
 * `attack` command's options and their validation, result rows, reproduce steps and report labels — is
 * derived from these definitions (src/attacks/registry.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { DatasetDescriptor } from '../datasets/descriptor.ts';
import { ParamError } from '../errors.ts';
import type { GradientSource } from './gradients.ts';
import type { Scorer } from './scoring.ts';

/** An attack's resolved parameters by key (eps, alpha, steps, ...), all numbers. */
export type AttackParams = Readonly<Record<string, number>>;

/** A parameter an attack takes: its key, how it prints, and the range the command line accepts. */
export interface ParamDef {
  /** Key in the params record and in results.csv; the flag is --key (camelCase → kebab-case). */
  key: string;
  /** Short name in descriptions, e.g. 'ε'. */
  symbol: string;
  /** One letter in step ids, e.g. 'e' in "bim-e0.2-a0.025-n8". */
  short: string;
  help: string;
  integer: boolean;
  min: number;
  max: number;
  /** min itself is not allowed. */
  exclusiveMin?: boolean;
}

/**
 * An attack with its parameters resolved, e.g. BIM with { eps: 0.2, alpha: 0.025, steps: 8 }: it carries its
 * definition, so what runs, prints and is recorded never looks the id up again.
 */
export interface AttackSpec {
  definition: AttackDefinition;
  params: AttackParams;
}

// A type alias, not an interface, so that tf.tidy accepts it as a tensor container.
export type AttackResult = {
  adversarial: tf.Tensor4D;
  /** Per example (bool): every input gradient the attack evaluated for it was exactly all-zero. */
  zeroGradient: tf.Tensor1D;
  /** Per example: the model queries (forward passes) a score-based attack made; absent for gradient attacks. */
  queries?: tf.Tensor1D;
  /**
   * For an attack of stages (the worst-case suite): the result after each earlier stage, in order — each a
   * measurement of its own, with the parameters `AttackDefinition.stages` gives.
   */
  stages?: AttackResult[];
};

/** x → class scores [B, K] (logits, or log-probabilities). */
export type Scores = (x: tf.Tensor4D) => tf.Tensor2D;

/** A per-example loss of class scores and one-hot labels. */
export type ScoreLoss = (scores: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor1D;

/** What an attack runs on: one batch, the gradient hook, and the model its success is judged on. */
export interface AttackInputs {
  x: tf.Tensor4D;
  /** One-hot true labels [B, classes]. */
  y: tf.Tensor2D;
  /** ∇x J from the job's gradient choice (Grad. 1 / 2 / 3, possibly of a surrogate), J the job's loss form. */
  gradient: GradientSource;
  /** ∇x of another loss of the scores under the same gradient choice (APGD-DLR's DLR). */
  lossGradient: (loss: ScoreLoss) => GradientSource;
  /** The scores the gradient choice attacks: member i's logits (Grad. 1), the log of the ensemble's mean probabilities (Grad. 2 / 3). */
  scores: Scores;
  /** The scored model: true where it still predicts the label (PGD keeps the worst case against it). */
  scorer: Scorer;
  /** The scored model's class probabilities: what a score-based attack (Square) queries. */
  probabilities: Scores;
  /** This batch's seed, derived from the params' `seed` and the batch index (0 for attacks without a seed). */
  seed: number;
}

export interface AttackDefinition {
  id: string;
  /** Display name, e.g. 'BIM'. */
  title: string;
  /** One line: what it does, and its paper. */
  summary: string;
  /** Position in help, plans and reports (the paper's attacks first). */
  order: number;
  params: readonly ParamDef[];
  /** One of the paper's attacks: at the paper's parameters its rows are Table 2 and Table 4 cells. */
  paper: boolean;
  /** The examples depend on the scored model (PGD keeps the worst case against it): one run per scored model. */
  dependsOnScorer: boolean;
  /** It follows a gradient (--grad, --loss); false for score-based attacks, which only query the scored model. */
  usesGradient: boolean;
  /** Per parameter key, how its default is chosen (for --help). */
  defaultsHelp: Readonly<Record<string, string>>;
  /**
   * The parameters on a data set: `given` values over the defaults. Throws ParamError for a value the
   * attack cannot take, naming the parameter.
   */
  resolve(dataset: DatasetDescriptor, given: Readonly<Record<string, number | undefined>>): AttackParams;
  run(inputs: AttackInputs, params: AttackParams): AttackResult;
  /** Input-gradient evaluations (or model queries) per image: a plan's cost and a bench's unit. */
  cost(params: AttackParams): number;
  /** True when `cost` is the whole budget but the attack stops at each image's first success: an upper bound. */
  costIsBound?: boolean;
  /** The report's column name for a row beyond the paper, e.g. 'pgd_r5_n8'. */
  column(params: AttackParams): string;
  /** An attack of stages: the parameters of the measurement after each earlier stage (its run's `stages`). */
  stages?(params: AttackParams): AttackParams[];
  /** An attack of stages: the attacks it runs, in order (the report names each stage with its budget). */
  suite?: readonly AttackDefinition[];
  /**
   * Where `reproduce` runs it beyond the paper: `beyond` at the paper's ε on the bagging ensemble (Grad. 2
   * and 3), `sweep` in the ε sweeps there, `everyRun` on every trained run at the paper's ε. Absent: only
   * on request (`ensdef attack`).
   */
  reproduce?: { beyond?: boolean; sweep?: boolean; everyRun?: boolean };
}

/** The result of an attack with ε = 0: x itself (a clone the caller owns), no gradient evaluated. */
export function unchanged(x: tf.Tensor4D): AttackResult {
  return tf.tidy(() => ({ adversarial: x.clone(), zeroGradient: tf.zeros([x.shape[0]], 'bool') as tf.Tensor1D }));
}

/** ε ≥ 0 and finite (cleverhans v4: ε < 0 is an error, ε = 0 is the identity). */
export function checkEps(eps: number): void {
  if (!(Number.isFinite(eps) && eps >= 0)) throw new ParamError('eps', `ε must be a finite number ≥ 0 (got ${eps})`);
}

export function checkCount(key: string, what: string, value: number): void {
  if (!(Number.isSafeInteger(value) && value >= 1)) throw new ParamError(key, `${what} must be an integer ≥ 1 (got ${value})`);
}

/** A log-friendly description, e.g. "BIM(ε=0.2, α=0.025, n=8)". */
export function describeSpec({ definition, params }: AttackSpec): string {
  return `${definition.title}(${definition.params.map((p) => `${p.symbol}=${params[p.key]}`).join(', ')})`;
}

/** An attack on a data set with the given parameter values over its defaults. */
export function resolveSpec(definition: AttackDefinition, dataset: DatasetDescriptor, given: Readonly<Record<string, number | undefined>> = {}): AttackSpec {
  return { definition, params: definition.resolve(dataset, given) };
}

/** What identifies a spec in a lock's name or a step's: its id and parameters, without the definition's functions and prose. */
export function specKey(spec: AttackSpec): { attack: string; params: AttackParams } {
  return { attack: spec.definition.id, params: spec.params };
}

/** Whether a spec is one of the paper's attacks at the paper's own setting on a data set (e.g. BIM with ε .2, α .025, n 8 on MNIST). */
export function isPaperSpec(dataset: DatasetDescriptor, { definition, params }: AttackSpec): boolean {
  if (!definition.paper) return false;
  const paper = definition.resolve(dataset, {});
  return definition.params.every((p) => paper[p.key] === params[p.key]);
}

/** Whether a spec attacks at its attack's default ε on the data set (the threat model the report compares at). */
export function atDefaultEps(dataset: DatasetDescriptor, { definition, params }: AttackSpec): boolean {
  return definition.resolve(dataset, {}).eps === params.eps;
}
