/** The resolved configuration of a training run: every value explicit, recorded in the manifest. */
import type { DatasetName } from '../data/dataset.ts';

export const METHOD_NAMES = [
  'single',
  'random-init',
  'mixed-models',
  'bagging',
  'gaussian-noise',
  'adversarial-training',
  'distillation',
  'bagging+adversarial-training',
  'bagging+distillation',
] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

export interface TrainConfig {
  dataset: DatasetName;
  method: MethodName;
  members: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  trainLimit?: number;
  testLimit?: number;
  /** σ of the Gaussian-noise method (pixels in [0, 1]). */
  noiseSigma: number;
  /** Adversarial training: weight of the clean loss and the FGSM ε. */
  rho: number;
  atEps: number;
  /** Defensive distillation temperature. */
  temperature: number;
  dataDir?: string;
}

/** Paper values (section 4) and SPEC.md defaults for what the paper leaves open. */
export const DATASET_DEFAULTS: Record<DatasetName, { epochs: number; fgsmEps: number; noiseSigma: number }> = {
  mnist: { epochs: 10, fgsmEps: 0.3, noiseSigma: 0.1 },
  cifar10: { epochs: 25, fgsmEps: 0.03, noiseSigma: 0.05 },
};

export const TRAIN_DEFAULTS = {
  dataset: 'mnist' as DatasetName,
  members: 10,
  batchSize: 128,
  learningRate: 1e-3,
  seed: 0,
  rho: 0.5,
  temperature: 10,
};

/** Fields that change what is trained; a run directory is only ever continued with the same values. */
export function trainingIdentity(config: TrainConfig): Record<string, unknown> {
  const { testLimit: _testLimit, dataDir: _dataDir, ...identity } = config;
  return identity;
}
