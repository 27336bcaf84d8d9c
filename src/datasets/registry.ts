/**
 * The data sets ensdef knows, by name, and what is derived from them: loading with --train-limit /
 * --test-limit, and the model zoo (RobustBench style: name → seeded factory).
 */
import type * as tf from '@tensorflow/tfjs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headOf, pixelsPerImage, type Dataset } from '../data/dataset.ts';
import { UserError, usageError } from '../errors.ts';
import { changedFiles, type Manifest } from '../run/manifest.ts';
import { cifar10 } from './cifar10.ts';
import type { DatasetDescriptor, ModelVariant } from './descriptor.ts';
import { mnist } from './mnist.ts';

const DESCRIPTORS: readonly DatasetDescriptor[] = [mnist, cifar10];

export const DATASET_NAMES: readonly string[] = DESCRIPTORS.map((d) => d.name);
export const DEFAULT_DATASET = mnist.name;

export function datasetDescriptor(name: string): DatasetDescriptor {
  const descriptor = DESCRIPTORS.find((d) => d.name === name);
  if (!descriptor) throw usageError(`unknown data set '${name}' (known: ${DATASET_NAMES.join(', ')})`);
  return descriptor;
}

/** data/ at the project root: where `ensdef data fetch` caches downloads. */
export const DATA_CACHE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'data');

export interface DataOptions {
  dataset: string;
  /** Directory with the raw files (default: the embedded copy or the fetch cache). */
  dataDir?: string;
  trainLimit?: number;
  testLimit?: number;
}

const loaded = new Map<string, Dataset>();

/** Loads a data set (once per process); --train-limit / --test-limit keep the first N examples of each split. */
export function loadDataset(options: DataOptions): Dataset {
  const key = `${options.dataset}:${options.dataDir ?? ''}`;
  let full = loaded.get(key);
  if (!full) {
    full = datasetDescriptor(options.dataset).load(options.dataDir, DATA_CACHE_ROOT);
    loaded.set(key, full);
  }
  const pixels = pixelsPerImage(full);
  return { ...full, train: headOf(full.train, options.trainLimit, pixels), test: headOf(full.test, options.testLimit, pixels) };
}

/**
 * A trained run's data (its config's data set and directory; `testLimit` defaults to the run's), refused
 * when the files are not the bytes the run was trained on: numbers measured on other data would be
 * reported under the run's data label.
 */
export function loadRunDataset(manifest: Manifest, testLimit = manifest.config.testLimit): Dataset {
  const { config } = manifest;
  const data = loadDataset({ dataset: config.dataset, dataDir: config.dataDir, trainLimit: config.trainLimit, testLimit });
  const changed = manifest.data ? changedFiles(manifest.data.files, data.provenance.files) : [];
  if (changed.length > 0) {
    throw new UserError(`${data.source}: ${changed.join(', ')} differ from the sha256 the run was trained on (its manifest.json); restore those files, or retrain on these`);
  }
  return data;
}

/** Every network of every data set by model name. */
export const MODELS: Record<string, ModelVariant & { dataset: string }> = Object.fromEntries(
  DESCRIPTORS.flatMap((d) => Object.entries(d.models).map(([name, variant]) => [name, { ...variant, dataset: d.name }])),
);

/** The variants mixed-model ensembles cycle through, the paper's network first. */
export function variantsFor(dataset: string): string[] {
  return Object.keys(datasetDescriptor(dataset).models);
}

/** The paper's network for a data set. */
export function baseModelFor(dataset: string): string {
  return variantsFor(dataset)[0];
}

export function buildModel(name: string, seed: number): tf.Sequential {
  const entry = MODELS[name];
  if (!entry) throw usageError(`unknown model '${name}' (allowed: ${Object.keys(MODELS).join(', ')})`);
  return entry.build(seed);
}
