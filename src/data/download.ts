/** `ensdef data fetch`: downloads the official files, verifies checksums, extracts, caches under data/. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../run/atomic.ts';
import { writeVerifiedMarker } from './provenance.ts';

export interface RemoteFile {
  name: string;
  urls: string[];
  algorithm: 'sha256' | 'md5';
  digest: string;
}

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

export function cacheDirFor(dataRoot: string, dataset: string): string {
  return join(dataRoot, dataset);
}

/** Downloads what is missing, verifies every file, and extracts CIFAR-10. Returns the cache dir. */
export async function fetchDataset(dataset: string, files: RemoteFile[], dataRoot: string, log: (line: string) => void): Promise<string> {
  const dir = cacheDirFor(dataRoot, dataset);
  mkdirSync(dir, { recursive: true });
  for (const file of files) {
    const path = join(dir, file.name);
    if (!existsSync(path)) writeFileAtomic(path, await download(file, log));
    verifyChecksum(path, file.algorithm, file.digest);
    log(`verified ${path} (${file.algorithm})`);
    if (file.name.endsWith('.tar.gz')) {
      const extracted = join(dir, 'cifar-10-batches-bin');
      rmSync(extracted, { recursive: true, force: true });
      await tar.x({ file: path, cwd: dir });
      writeVerifiedMarker(extracted, file.name, `extracted from ${file.name}, ${file.algorithm} verified by data fetch`, readdirSync(extracted).filter((name) => name.endsWith('.bin')));
      log(`extracted ${extracted}`);
    }
  }
  return dir;
}
