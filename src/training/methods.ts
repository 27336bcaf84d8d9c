/**
 * The registry of training methods: the paper's four ensemble methods, a single model, and the defenses of
 * Table 4, each defined in its own file (src/ensembles/, src/defenses/) with the parameters it takes.
 * Adding a method is its file plus one line in METHODS. `trainConfig` builds every run's TrainConfig from
 * the definitions (the CLI, the reproduce plan and the tests alike); `methodFlags` turns a config's
 * parameters back into flags (the Slurm jobs).
 */
import { TRAIN_DEFAULTS, trainingIdentity, type TrainConfig } from '../config/train-config.ts';
import type { DatasetDescriptor } from '../datasets/descriptor.ts';
import { datasetDescriptor } from '../datasets/registry.ts';
import { adversarialTraining, baggingAdversarialTraining } from '../defenses/adversarial-training.ts';
import { baggingDistillation, distillation } from '../defenses/distillation.ts';
import { ensemblePgdAdversarialTraining } from '../defenses/ensemble-pgd-adversarial-training.ts';
import { baggingPgdAdversarialTraining, pgdAdversarialTraining, randomInitPgdAdversarialTraining } from '../defenses/pgd-adversarial-training.ts';
import { bagging } from '../ensembles/bagging.ts';
import { gaussianNoise } from '../ensembles/gaussian-noise.ts';
import type { MethodDefinition, MethodParam, MethodParams } from '../ensembles/method.ts';
import { mixedModels } from '../ensembles/mixed-models.ts';
import { randomInit, single } from '../ensembles/random-init.ts';
import { flagOf, ParamError, usageError } from '../errors.ts';

/** In the order of --help, the plan and the report. */
export const METHODS: readonly MethodDefinition[] = [
  single,
  randomInit,
  mixedModels,
  bagging,
  gaussianNoise,
  adversarialTraining,
  distillation,
  baggingAdversarialTraining,
  baggingDistillation,
  pgdAdversarialTraining,
  randomInitPgdAdversarialTraining,
  baggingPgdAdversarialTraining,
  ensemblePgdAdversarialTraining,
];

export const METHOD_NAMES: readonly string[] = METHODS.map((m) => m.name);
export const DEFAULT_METHOD = 'random-init';

/** The keys a TrainConfig has whatever its method; no method parameter may take one of them. */
const COMMON_KEYS: readonly string[] = ['dataset', 'method', 'members', 'epochs', 'batchSize', 'learningRate', 'seed', 'trainLimit', 'testLimit', 'dataDir'];

/** Every parameter any method takes, once per key; a key means one thing for every method that takes it. */
export const METHOD_PARAMS: readonly MethodParam[] = (() => {
  const byKey = new Map<string, MethodParam>();
  for (const param of METHODS.flatMap((m) => m.params)) {
    const known = byKey.get(param.key);
    if (known && known !== param) throw new Error(`method parameter '${param.key}' is declared twice with different meanings; share one MethodParam`);
    if (COMMON_KEYS.includes(param.key)) throw new Error(`method parameter '${param.key}' would shadow the TrainConfig field of that name`);
    byKey.set(param.key, param);
  }
  const names = METHOD_NAMES.filter((name, i) => METHOD_NAMES.indexOf(name) !== i);
  if (names.length > 0) throw new Error(`two methods are named '${names[0]}'`);
  return [...byKey.values()];
})();

export function methodDefinition(name: string): MethodDefinition {
  const definition = METHODS.find((m) => m.name === name);
  if (!definition) throw usageError(`unknown method '${name}' (known: ${METHOD_NAMES.join(', ')})`);
  return definition;
}

/** The methods that take a parameter, e.g. "adversarial-training, bagging+adversarial-training". */
export function methodsTaking(param: MethodParam): string[] {
  return METHODS.filter((m) => m.params.includes(param)).map((m) => m.name);
}

/** A value the parameter cannot take, refused naming it (the CLI prints its flag). */
function checkParam(param: MethodParam, value: number): void {
  const low = param.exclusiveMin ? value > param.min : value >= param.min;
  if (Number.isFinite(value) && low && value <= param.max && (!param.integer || Number.isSafeInteger(value))) return;
  const range = `${param.exclusiveMin ? '(' : '['}${param.min}, ${param.max}]`;
  throw new ParamError(param.key, `${param.symbol} must be ${param.integer ? 'an integer' : 'a number'} in ${range} (got ${value})`);
}

/** A method's parameters on a data set: the given values over its defaults, validated. */
export function resolveMethodParams(method: MethodDefinition, dataset: DatasetDescriptor, given: Readonly<Record<string, unknown>>): MethodParams {
  for (const param of METHOD_PARAMS) {
    if (given[param.key] === undefined || method.params.includes(param)) continue;
    throw new ParamError(param.key, `--method ${method.name} has no ${param.symbol} (it applies to ${methodsTaking(param).join(', ')} only)`);
  }
  const params = Object.fromEntries(method.params.map((p) => [p.key, (given[p.key] as number | undefined) ?? p.default(dataset)]));
  for (const param of method.params) checkParam(param, params[param.key]);
  method.check?.(params);
  return params;
}

/** The method's own parameters of a config (a manifest from before methods declared theirs holds every method's). */
export function methodParams(config: TrainConfig): MethodParams {
  const dataset = datasetDescriptor(config.dataset);
  // A parameter added after a run was trained is absent from its manifest: the run did what `absent` says, else the default.
  return Object.fromEntries(methodDefinition(config.method).params.map((p) => [p.key, (config[p.key] as number | undefined) ?? p.absent ?? p.default(dataset)]));
}

/**
 * What a run trains, for refusing to continue it under other values: trainingIdentity without the
 * parameters of other methods, which older manifests recorded for every run (a bagging run is the same run
 * whatever the default σ of gaussian-noise).
 */
export function trainedIdentity(config: TrainConfig): Record<string, unknown> {
  const own = methodDefinition(config.method).params.map((p) => p.key);
  const foreign = (key: string) => !COMMON_KEYS.includes(key) && !own.includes(key);
  return Object.fromEntries(Object.entries(trainingIdentity(config)).filter(([key]) => !foreign(key)));
}

/** A config's method parameters as `train` flags, e.g. ['--rho', '0.5', '--at-eps', '0.3']. */
export function methodFlags(config: TrainConfig): string[] {
  return Object.entries(methodParams(config)).flatMap(([key, value]) => [flagOf(key), String(value)]);
}

/** The method as the report names a run's: its parameters that differ from their defaults in brackets, e.g. "gaussian-noise (σ 0.3)". */
export function describeMethod(config: TrainConfig): string {
  const method = methodDefinition(config.method);
  const dataset = datasetDescriptor(config.dataset);
  const params = methodParams(config);
  const changed = method.params.filter((p) => params[p.key] !== p.default(dataset)).map((p) => `${p.symbol} ${params[p.key]}`);
  return changed.length > 0 ? `${method.name} (${changed.join(', ')})` : method.name;
}

/** What a caller sets: the data set and method, any common field, and any of the method's parameters by key. */
export interface TrainChoices {
  dataset: string;
  method: string;
  members?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  trainLimit?: number;
  testLimit?: number;
  dataDir?: string;
  readonly [param: string]: unknown;
}

/** The one place a TrainConfig is built: the given values over the data set's and the method's defaults. */
export function trainConfig(choices: TrainChoices): TrainConfig {
  const method = methodDefinition(choices.method);
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
    // The method's parameters after the common fields, before dataDir: the order manifests have always had.
    ...resolveMethodParams(method, data, choices),
    dataDir: choices.dataDir,
  };
  // Keys with undefined values are left out, as the manifest has always recorded them.
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as unknown as TrainConfig;
}
