/** Models by name, in the spirit of RobustBench's model zoo: name → seeded factory. */
import type * as tf from '@tensorflow/tfjs';
import type { DatasetName } from '../data/dataset.ts';
import { usageError } from '../errors.ts';
import { cifar10Net } from './cifar10.ts';
import { mnistNet } from './mnist.ts';

export type ModelFactory = (seed: number) => tf.Sequential;

interface ModelEntry {
  dataset: DatasetName;
  description: string;
  build: ModelFactory;
}

export const MODELS: Record<string, ModelEntry> = {
  'mnist-base': { dataset: 'mnist', description: 'Table 1', build: (s) => mnistNet(s) },
  'mnist-wide': { dataset: 'mnist', description: 'Table 1 with 64 filters in the conv layer', build: (s) => mnistNet(s, { firstFilters: 64 }) },
  'mnist-deep': { dataset: 'mnist', description: 'Table 1 with a second 3×3 conv before pooling', build: (s) => mnistNet(s, { extraConv: true }) },
  'cifar10-base': { dataset: 'cifar10', description: 'Table 3', build: (s) => cifar10Net(s) },
  'cifar10-wide': { dataset: 'cifar10', description: 'Table 3 with 64 filters in the first block', build: (s) => cifar10Net(s, { firstFilters: 64 }) },
  'cifar10-deep': { dataset: 'cifar10', description: 'Table 3 with a third conv in the last block', build: (s) => cifar10Net(s, { extraConv: true }) },
};

/** The variants mixed-model ensembles cycle through, base first. */
export function variantsFor(dataset: DatasetName): string[] {
  return Object.keys(MODELS).filter((name) => MODELS[name].dataset === dataset);
}

export function baseModelFor(dataset: DatasetName): string {
  return `${dataset}-base`;
}

export function buildModel(name: string, seed: number): tf.Sequential {
  const entry = MODELS[name];
  if (!entry) throw usageError(`unknown model '${name}' (allowed: ${Object.keys(MODELS).join(', ')})`);
  return entry.build(seed);
}
