/** The resolved configuration of a training run: every value explicit, recorded in the manifest. */

export interface TrainConfig {
  dataset: string;
  method: string;
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

/** Defaults for what the paper leaves open (Adam, learning rate 1e-3, batch 128), and the paper's ρ and T. */
export const TRAIN_DEFAULTS = {
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
