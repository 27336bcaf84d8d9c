/** What an ensemble method decides per member: architecture, training examples, batch transform, loss. */
import type * as tf from '@tensorflow/tfjs';
import type { TrainConfig } from '../config/train-config.ts';
import type { Dataset } from '../data/dataset.ts';
import type { BatchLoss } from '../models/loss.ts';
import type { BatchInfo } from '../models/train-member.ts';

export interface MemberContext {
  config: TrainConfig;
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
export const MEMBER_STREAMS = { init: 0, shuffle: 1, bootstrap: 2, noise: 3, teacher: 4 } as const;

export interface EnsembleMethod {
  /** Plans the member. Multi-phase methods (distillation) do their earlier phases here. */
  plan(ctx: MemberContext): MemberPlan | Promise<MemberPlan>;
}

export function allIndices(count: number): Int32Array {
  return Int32Array.from({ length: count }, (_, i) => i);
}
