/** CIFAR-10 (Krizhevsky 2009) from the official binary batches; the paper's Table 3 network. */
import { loadCifar10 } from '../data/cifar10.ts';
import { cacheDirFor } from '../data/download.ts';
import type { KnownCopy } from '../data/provenance.ts';
import { cifar10Net } from '../models/cifar10.ts';
import type { DatasetDescriptor, ReproductionScale } from './descriptor.ts';

/**
 * The CIFAR-10 JPEG stand-in (the binary batches its make-batches.py writes; docs/DATA.md): the 60,000 images re-encoded as JPEG
 * at quality 75 by a public mirror, in another order. Results on it are named for it, never "CIFAR-10".
 */
const JPEG_STAND_IN: KnownCopy = {
  label: 'CIFAR-10 stand-in (JPEG q75 re-encoding, cifar10-jpeg; not the official images or order)',
  sha256: {
    'data_batch_1.bin': 'd02772dae35cfb6e24b2892147ed2c06214fb9d18aa2b0d797df468002ab5ff3',
    'data_batch_2.bin': 'c5faa6fe01bce407a8cc2c61d044b7ed29cea8c5e8b2b50e5e305918df07e4f7',
    'data_batch_3.bin': 'd9391c1af0f49f4893aeef06e14e1d761be0b15bd230952ce77b4273a9c49a9c',
    'data_batch_4.bin': '08a9e95fc7ce7586c2bbd49573a9554b4054cfeb0dd36727080b58fa3a7b9357',
    'data_batch_5.bin': 'e4a6af3ae0595f979f4bff59061afce4f62a9ef9e2edc1ed0caeee418a7071d9',
    'test_batch.bin': '562b11db3ca118634f2b162a14957200f443bdaeaf0a2f1868243af2966529e4',
  },
};

/**
 * The cpu preset on CIFAR-10, sized by measurement to about three hours on a 2-core machine with the native
 * kernels (≈ 450 training samples/s, ≈ 430 input gradients/s): 3 members, 2 epochs on the first 25,000
 * training images, Tables 2 and 4 on 1,000 test images, sweeps on 300, the suite on 200 with Square's
 * budget cut to 1,000 queries. docs/RESULTS.md states what that scale can and cannot show.
 */
const CIFAR10_CPU_SCALE: Partial<ReproductionScale> = {
  members: 3,
  epochs: 2,
  trainLimit: 25000,
  testLimit: 1000,
  sweepTestLimit: 300,
  suite: { testLimit: 200, steps: 100, queries: 1000 },
};

export const cifar10: DatasetDescriptor = {
  name: 'cifar10',
  imageShape: [32, 32, 3],
  numClasses: 10,
  classNames: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
  sizes: { train: 50000, test: 10000 },
  remoteFiles: [
    { name: 'cifar-10-binary.tar.gz', urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'], algorithm: 'md5', digest: 'c32a1d4ab5d03f1284b67883e8d87530' },
  ],
  dataDirHelp: 'binary batches (default: data/cifar10, where `ensdef data fetch cifar10` puts them)',
  load: (dataDir, cacheRoot) => loadCifar10(dataDir ?? cacheDirFor(cacheRoot, 'cifar10'), undefined, [JPEG_STAND_IN]),
  models: {
    'cifar10-base': { description: 'Table 3', build: (seed) => cifar10Net(seed) },
    'cifar10-wide': { description: 'Table 3 with 64 filters in the first block', build: (seed) => cifar10Net(seed, { firstFilters: 64 }) },
    'cifar10-deep': { description: 'Table 3 with a third conv in the last block', build: (seed) => cifar10Net(seed, { extraConv: true }) },
  },
  // PGD adversarial training: Madry et al.'s CIFAR-10 7 steps of α = ε/4 (2/255 at 8/255), at the paper's ε 0.03.
  training: { epochs: 25, noiseSigma: 0.2, pgdTraining: { alpha: 0.0075, steps: 7 } },
  paperAttacks: { fgsm: { eps: 0.03 }, bim: { eps: 0.02, alpha: 0.0025, steps: 8 } },
  saturatingEps: 0.1,
  reproduce: { scale: { smoke: { epochs: 1 }, cpu: CIFAR10_CPU_SCALE }, sweepEps: { smoke: [0.01, 0.03, 0.1], full: [0.005, 0.01, 0.02, 0.03, 0.05, 0.1] } },
};
