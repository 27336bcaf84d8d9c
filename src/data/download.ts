/** `ensdef data fetch`: downloads the official files, verifies checksums, extracts, caches under data/. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../run/atomic.ts';
import { MNIST_FILES } from './mnist.ts';
import type { DatasetName } from './dataset.ts';

interface RemoteFile {
  name: string;
  urls: string[];
  algorithm: 'sha256' | 'md5';
  digest: string;
}

const MNIST_MIRRORS = ['https://storage.googleapis.com/cvdf-datasets/mnist/', 'https://ossci-datasets.s3.amazonaws.com/mnist/'];
const MNIST_SHA256: Record<string, string> = {
  [MNIST_FILES.trainImages]: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
  [MNIST_FILES.trainLabels]: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
  [MNIST_FILES.testImages]: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
  [MNIST_FILES.testLabels]: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
};

export const REMOTE_FILES: Record<DatasetName, RemoteFile[]> = {
  mnist: Object.entries(MNIST_SHA256).map(([name, digest]) => ({
    name: `${name}.gz`,
    urls: MNIST_MIRRORS.map((m) => `${m}${name}.gz`),
    algorithm: 'sha256',
    digest,
  })),
  cifar10: [
    {
      name: 'cifar-10-binary.tar.gz',
      urls: ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'],
      algorithm: 'md5',
      digest: 'c32a1d4ab5d03f1284b67883e8d87530',
    },
  ],
};

export function digestOf(bytes: Uint8Array, algorithm: RemoteFile['algorithm']): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

/** Throws a one-line error naming the file when its checksum is not the official one. */
export function verifyChecksum(path: string, algorithm: RemoteFile['algorithm'], expected: string): void {
  const actual = digestOf(readFileSync(path), algorithm);
  if (actual !== expected) {
    throw new UserError(`${path}: ${algorithm} ${actual} does not match the official ${expected}; delete the file and run 'ensdef data fetch' again`);
  }
}

async function download(file: RemoteFile, log: (line: string) => void): Promise<Uint8Array> {
  const failures: string[] = [];
  for (const url of file.urls) {
    try {
      log(`downloading ${url}`);
      const response = await fetch(url);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      failures.push(`${url}: ${(error as Error).message}`);
    }
  }
  throw new UserError(`could not download ${file.name} (${failures.join('; ')}); check the network or place the file in the cache by hand`);
}

export function cacheDirFor(dataRoot: string, dataset: DatasetName): string {
  return join(dataRoot, dataset);
}

/** Downloads what is missing, verifies every file, and extracts CIFAR-10. Returns the cache dir. */
export async function fetchDataset(dataset: DatasetName, dataRoot: string, log: (line: string) => void): Promise<string> {
  const dir = cacheDirFor(dataRoot, dataset);
  mkdirSync(dir, { recursive: true });
  for (const file of REMOTE_FILES[dataset]) {
    const path = join(dir, file.name);
    if (!existsSync(path)) writeFileAtomic(path, await download(file, log));
    verifyChecksum(path, file.algorithm, file.digest);
    log(`verified ${path} (${file.algorithm})`);
    if (file.name.endsWith('.tar.gz')) {
      const extracted = join(dir, 'cifar-10-batches-bin');
      rmSync(extracted, { recursive: true, force: true });
      await tar.x({ file: path, cwd: dir });
      log(`extracted ${extracted}`);
    }
  }
  return dir;
}
