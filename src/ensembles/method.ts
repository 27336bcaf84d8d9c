/**
 * What a training method is, as data: one definition per method, in the file that decides what the method
 * does per member (architecture, training examples, batch transform, loss) and declares the parameters it
 * takes. Everything else — `train`'s flags and `--help`, the manifest, the run's identity, the Slurm jobs'
 * flags, the reproduce plan and the report — is derived from these definitions (src/training/methods.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import type { TrainConfig } from '../config/train-config.ts';
import type { Dataset } from '../data/dataset.ts';
import type { DatasetDescriptor } from '../datasets/descriptor.ts';
import type { BatchLoss, EnsembleBatchLoss } from '../models/loss.ts';
import type { BatchInfo } from '../models/train-member.ts';

/** A method's resolved parameters by key (noiseSigma, rho, atEps, ...), all numbers. */
export type MethodParams = Readonly<Record<string, number>>;

/**
 * A parameter a method takes. Its key is the TrainConfig key and the manifest's (a run records only its own
 * method's parameters); its flag is --key in kebab-case. Methods that take the same parameter share one
 * MethodParam (src/defenses/params.ts): a key means one thing for every method.
 */
export interface MethodParam {
  key: string;
  /** Short name in help and the report, e.g. 'ρ'. */
  symbol: string;
  help: string;
  integer: boolean;
  min: number;
  max: number;
  /** min itself is not allowed. */
  exclusiveMin?: boolean;
  /** The default on a data set. */
  default(dataset: DatasetDescriptor): number;
  /** How the default is chosen, for --help, e.g. "the paper's FGSM ε" (the values per data set follow it). */
  defaultHelp?: string;
  /** What runs trained before the parameter existed did, where that is not its default (their manifests lack it). */
  absent?: number;
}

export interface MemberContext {
  config: TrainConfig;
  /** The method's own parameters, resolved (the config's values for the keys the method declares). */
  params: MethodParams;
  dataset: Dataset;
  index: number;
  /** This member's seed, derived from the run seed; every random choice of the member comes from it. */
  seed: number;
  /** Directory the member's checkpoint goes to (distillation also stores its teacher there). */
  dir: string;
  onBatch: (info: BatchInfo, phase: string) => void;
  /** What a training checkpoint of this member must match to be resumed (models/train-state.ts); none: no checkpoints. */
  checkpointIdentity?: string;
  /** Lines for the user (a phase resumed from its checkpoint). */
  log?: (line: string) => void;
}

export interface MemberPlan {
  /** Model registry name. */
  model: string;
  indices: Int32Array;
  transformBatch?: (x: tf.Tensor4D, step: number) => tf.Tensor4D;
  loss?: BatchLoss;
  /** Soft targets [train.count × classes] instead of one-hot labels (defensive distillation). */
  softTargets?: Float32Array;
  /** Facts recorded in the member's record (bootstrap unique fraction, σ, ...). */
  facts: Record<string, unknown>;
}

/** Seed streams within a member, so each random choice is independent of the others. */
export const MEMBER_STREAMS = { init: 0, shuffle: 1, bootstrap: 2, noise: 3, teacher: 4, attack: 5 } as const;

/**
 * Seed streams of the run itself, for what jointly trained members share (their batch order, the attacks
 * on the ensemble); negative, so apart from the members' deriveSeed(run seed, i ≥ 0).
 */
export const RUN_STREAMS = { shuffle: -1, attack: -2 } as const;

/** How a jointly trained method trains its members as a whole. */
export interface JointTraining {
  /** The objective of all members on a batch; `seed` is the run's RUN_STREAMS.attack stream; an epoch is stepsPerEpoch batches. */
  loss(params: MethodParams, seed: number, stepsPerEpoch: number): EnsembleBatchLoss;
}

/** A run of a method that `reproduce` trains beyond the paper. */
export interface BeyondRun {
  /** Parameter values over the method's defaults on a data set (the run's name lists them). */
  params(dataset: DatasetDescriptor): MethodParams;
  /** At most this many members, fewer than the preset's where a member costs many plain ones (PGD training). */
  maxMembers?: number;
}

export interface MethodDefinition {
  /** `--method` value and manifest name, e.g. 'bagging+adversarial-training'. */
  name: string;
  summary: string;
  /** 'single': exactly one model; 'defense': one model unless --members says otherwise; 'ensemble': TRAIN_DEFAULTS.members. */
  size: 'single' | 'defense' | 'ensemble';
  /** The paper's row names: Table 2 (ensemble methods) and Table 4 (defenses). */
  paperRows: { table2?: string; table4?: string };
  params: readonly MethodParam[];
  /** Refuses a combination of valid values (e.g. α > ε) with ParamError naming the parameter. */
  check?(params: MethodParams): void;
  /** Work per training sample relative to plain training (an FGSM pass; teacher + student; PGD steps). */
  workPerSample(params: MethodParams): number;
  /**
   * Runs `reproduce` trains beyond the paper, each attacked like a Table 4 row and by the worst-case suite.
   * Absent: only Tables 2 and 4, or on request (`ensdef train`).
   */
  reproduce?: { beyond: readonly BeyondRun[] };
  /**
   * Plans the member. Multi-phase methods (distillation) do their earlier phases here. A joint method's
   * plan gives the member's network and facts, and the examples every member sees (the same for all).
   */
  plan(ctx: MemberContext): MemberPlan | Promise<MemberPlan>;
  /**
   * Present: the members train together, as one ensemble — in one process and one loop, on the same batches
   * (in the run seed's order), one optimiser step of every member per batch on `joint.loss`. Such a run is
   * never trained member by member (no --member, no worker processes, one Slurm job rather than an array).
   */
  joint?: JointTraining;
}

export function allIndices(count: number): Int32Array {
  return Int32Array.from({ length: count }, (_, i) => i);
}
