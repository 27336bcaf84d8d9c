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
  dataDir?: string;
  /**
   * The method's own parameters (noiseSigma, rho, atEps, temperature, ...), each under the key its method
   * declares (src/ensembles/method.ts: MethodParam). Manifests written before methods declared their
   * parameters hold every method's; only the run's own method's count (training/methods.ts: trainedIdentity).
   */
  readonly [param: string]: unknown;
}

/** Defaults for what the paper leaves open (Adam, learning rate 1e-3, batch 128). */
export const TRAIN_DEFAULTS = {
  members: 10,
  batchSize: 128,
  learningRate: 1e-3,
  seed: 0,
};

/** Fields that change what is trained; a run directory is only ever continued with the same values. */
export function trainingIdentity(config: TrainConfig): Record<string, unknown> {
  const { testLimit: _testLimit, dataDir: _dataDir, ...identity } = config;
  return identity;
}
