/** CIFAR-10 (Krizhevsky 2009) from the official binary batches; the paper's Table 3 network. */
import { loadCifar10 } from '../data/cifar10.ts';
import { cacheDirFor } from '../data/download.ts';
import { cifar10Net } from '../models/cifar10.ts';
import type { DatasetDescriptor } from './descriptor.ts';

export const cifar10: DatasetDescriptor = {
  name: 'cifar10',
  imageShape: [32, 32, 3],
  numClasses: 10,
  sizes: { train: 50000, test: 10000 },
  remoteFiles: [
    { name: 'cifar-10-binary.tar.gz', urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'], algorithm: 'md5', digest: 'c32a1d4ab5d03f1284b67883e8d87530' },
  ],
  dataDirHelp: 'binary batches (default: data/cifar10, where `ensdef data fetch cifar10` puts them)',
  load: (dataDir, cacheRoot) => loadCifar10(dataDir ?? cacheDirFor(cacheRoot, 'cifar10')),
  models: {
    'cifar10-base': { description: 'Table 3', build: (seed) => cifar10Net(seed) },
    'cifar10-wide': { description: 'Table 3 with 64 filters in the first block', build: (seed) => cifar10Net(seed, { firstFilters: 64 }) },
    'cifar10-deep': { description: 'Table 3 with a third conv in the last block', build: (seed) => cifar10Net(seed, { extraConv: true }) },
  },
  training: { epochs: 25, noiseSigma: 0.05 },
  paperAttacks: { fgsm: { eps: 0.03 }, bim: { eps: 0.02, alpha: 0.0025, steps: 8 } },
  saturatingEps: 0.1,
  reproduce: { epochs: { smoke: 1, cpu: 5 }, sweepEps: { smoke: [0.01, 0.03, 0.1], full: [0.005, 0.01, 0.02, 0.03, 0.05, 0.1] } },
};
