/** Training methods by name: the paper's four ensemble methods, a single model, and the defenses. */
import type { MethodName } from '../config/train-config.ts';
import { adversarialTraining, baggingAdversarialTraining } from '../defenses/adversarial-training.ts';
import { baggingDistillation, distillation } from '../defenses/distillation.ts';
import { UserError } from '../errors.ts';
import { bagging } from './bagging.ts';
import { gaussianNoise } from './gaussian-noise.ts';
import type { EnsembleMethod } from './method.ts';
import { mixedModels } from './mixed-models.ts';
import { randomInit } from './random-init.ts';

const METHODS: Partial<Record<MethodName, EnsembleMethod>> = {
  single: randomInit,
  'random-init': randomInit,
  'mixed-models': mixedModels,
  bagging,
  'gaussian-noise': gaussianNoise,
  'adversarial-training': adversarialTraining,
  distillation,
  'bagging+adversarial-training': baggingAdversarialTraining,
  'bagging+distillation': baggingDistillation,
};

export function methodFor(name: MethodName): EnsembleMethod {
  const method = METHODS[name];
  if (!method) throw new UserError(`--method ${name} is not built yet`);
  return method;
}
