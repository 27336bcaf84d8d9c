/**
 * Training methods, one descriptor each: the paper's four ensemble methods, a single model, and the
 * defenses of Table 4. A descriptor says whether the method trains one model or an ensemble, where the
 * paper reports it, how it trains a member, and which config fields it reads; `trainConfig` builds every
 * run's TrainConfig from it (the CLI, the reproduce plan and the tests alike).
 */
import { TRAIN_DEFAULTS, trainingIdentity, type TrainConfig } from '../config/train-config.ts';
import { datasetDescriptor } from '../datasets/registry.ts';
import { adversarialTraining, baggingAdversarialTraining } from '../defenses/adversarial-training.ts';
import { baggingDistillation, distillation } from '../defenses/distillation.ts';
import { bagging } from '../ensembles/bagging.ts';
import { gaussianNoise } from '../ensembles/gaussian-noise.ts';
import type { EnsembleMethod } from '../ensembles/method.ts';
import { mixedModels } from '../ensembles/mixed-models.ts';
import { randomInit } from '../ensembles/random-init.ts';
import { ParamError, usageError } from '../errors.ts';

/** Config fields only some methods read. */
type MethodField = 'noiseSigma' | 'rho' | 'atEps' | 'temperature';

export interface MethodDescriptor {
  name: string;
  summary: string;
  /** 'single': exactly one model; 'defense': one model unless --members says otherwise; 'ensemble': TRAIN_DEFAULTS.members. */
  size: 'single' | 'defense' | 'ensemble';
  /** The paper's row names: Table 2 (ensemble methods) and Table 4 (defenses). */
  paperRows: { table2?: string; table4?: string };
  method: EnsembleMethod;
  fields: readonly MethodField[];
  /** Work per training sample relative to plain training (an FGSM pass; teacher + student). */
  workPerSample: number;
}

export const METHODS: readonly MethodDescriptor[] = [
  { name: 'single', summary: 'one model', size: 'single', paperRows: {}, method: randomInit, fields: [], workPerSample: 1 },
  { name: 'random-init', summary: 'members differ in their initial weights', size: 'ensemble', paperRows: { table2: 'random_init' }, method: randomInit, fields: [], workPerSample: 1 },
  { name: 'mixed-models', summary: 'members cycle through network variants', size: 'ensemble', paperRows: { table2: 'mixed_models' }, method: mixedModels, fields: [], workPerSample: 1 },
  { name: 'bagging', summary: 'each member trains on its own bootstrap replicate', size: 'ensemble', paperRows: { table2: 'bagging', table4: 'bagging' }, method: bagging, fields: [], workPerSample: 1 },
  {
    name: 'gaussian-noise',
    summary: 'fresh N(0, σ²) noise on every training batch',
    size: 'ensemble',
    paperRows: { table2: 'gaussian_noise' },
    method: gaussianNoise,
    fields: ['noiseSigma'],
    workPerSample: 1,
  },
  {
    name: 'adversarial-training',
    summary: 'ρ·J(x) + (1 − ρ)·J(x_FGSM) (Goodfellow et al. 2015)',
    size: 'defense',
    paperRows: { table4: 'adversarial_training' },
    method: adversarialTraining,
    fields: ['rho', 'atEps'],
    workPerSample: 3,
  },
  {
    name: 'distillation',
    summary: 'defensive distillation at temperature T (Papernot et al. 2016)',
    size: 'defense',
    paperRows: { table4: 'defensive_distillation' },
    method: distillation,
    fields: ['temperature'],
    workPerSample: 2,
  },
  {
    name: 'bagging+adversarial-training',
    summary: 'bagging, every member adversarially trained',
    size: 'ensemble',
    paperRows: { table4: 'bagging+adversarial_training' },
    method: baggingAdversarialTraining,
    fields: ['rho', 'atEps'],
    workPerSample: 3,
  },
  {
    name: 'bagging+distillation',
    summary: 'bagging, every member defensively distilled',
    size: 'ensemble',
    paperRows: { table4: 'bagging+defensive_distillation' },
    method: baggingDistillation,
    fields: ['temperature'],
    workPerSample: 2,
  },
];

export const METHOD_NAMES: readonly string[] = METHODS.map((m) => m.name);
export const DEFAULT_METHOD = 'random-init';

export function methodDescriptor(name: string): MethodDescriptor {
  const descriptor = METHODS.find((m) => m.name === name);
  if (!descriptor) throw usageError(`unknown method '${name}' (known: ${METHOD_NAMES.join(', ')})`);
  return descriptor;
}

export function methodFor(name: string): EnsembleMethod {
  return methodDescriptor(name).method;
}

/** What a caller sets; everything else takes the method's and the data set's defaults. */
const METHOD_FIELDS: readonly MethodField[] = ['noiseSigma', 'rho', 'atEps', 'temperature'];

/**
 * What a run trains, for refusing to continue it under other values: trainingIdentity without the method
 * fields its method does not read (a bagging run is the same run whatever the default σ of gaussian-noise).
 */
export function trainedIdentity(config: TrainConfig): Record<string, unknown> {
  const reads = methodDescriptor(config.method).fields;
  return Object.fromEntries(Object.entries(trainingIdentity(config)).filter(([key]) => !METHOD_FIELDS.includes(key as MethodField) || reads.includes(key as MethodField)));
}

export type TrainChoices = Partial<TrainConfig> & { dataset: string; method: string };

/** The one place a TrainConfig is built: the given values over the data set's and the method's defaults. */
export function trainConfig(choices: TrainChoices): TrainConfig {
  const method = methodDescriptor(choices.method);
  const data = datasetDescriptor(choices.dataset);
  if (method.size === 'single' && choices.members !== undefined && choices.members !== 1) {
    throw new ParamError('members', `--method ${method.name} trains exactly one model (got --members ${choices.members}); use --method random-init for an ensemble`);
  }
  const config: TrainConfig = {
    dataset: data.name,
    method: method.name,
    members: choices.members ?? (method.size === 'ensemble' ? TRAIN_DEFAULTS.members : 1),
    epochs: choices.epochs ?? data.training.epochs,
    batchSize: choices.batchSize ?? TRAIN_DEFAULTS.batchSize,
    learningRate: choices.learningRate ?? TRAIN_DEFAULTS.learningRate,
    seed: choices.seed ?? TRAIN_DEFAULTS.seed,
    trainLimit: choices.trainLimit,
    testLimit: choices.testLimit,
    noiseSigma: choices.noiseSigma ?? data.training.noiseSigma,
    rho: choices.rho ?? TRAIN_DEFAULTS.rho,
    atEps: choices.atEps ?? data.paperAttacks.fgsm.eps,
    temperature: choices.temperature ?? TRAIN_DEFAULTS.temperature,
    dataDir: choices.dataDir,
  };
  // Keys with undefined values are left out, as the manifest has always recorded them.
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as unknown as TrainConfig;
}
