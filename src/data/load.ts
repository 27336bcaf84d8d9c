/** One entry point for every command: which data set, from where, and how much of it. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCifar10 } from './cifar10.ts';
import { headOf, pixelsPerImage, type Dataset, type DatasetName } from './dataset.ts';
import { cacheDirFor } from './download.ts';
import { loadMnist } from './mnist.ts';

export interface DataOptions {
  dataset: DatasetName;
  /** Directory with the raw files; MNIST defaults to the embedded copy, CIFAR-10 to the fetch cache. */
  dataDir?: string;
  trainLimit?: number;
  testLimit?: number;
}

/** data/ at the project root: where `ensdef data fetch` caches downloads. */
export const DATA_CACHE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'data');

const cache = new Map<string, Dataset>();

function loadFull(dataset: DatasetName, dataDir: string | undefined): Dataset {
  const key = `${dataset}:${dataDir ?? ''}`;
  let ds = cache.get(key);
  if (!ds) {
    ds = dataset === 'mnist' ? loadMnist(dataDir) : loadCifar10(dataDir ?? cacheDirFor(DATA_CACHE_ROOT, 'cifar10'));
    cache.set(key, ds);
  }
  return ds;
}

/** Loads a data set; --train-limit / --test-limit keep the first N examples of each split. */
export function loadDataset(options: DataOptions): Dataset {
  const full = loadFull(options.dataset, options.dataDir);
  const pixels = pixelsPerImage(full);
  return {
    ...full,
    train: headOf(full.train, options.trainLimit, pixels),
    test: headOf(full.test, options.testLimit, pixels),
  };
}
