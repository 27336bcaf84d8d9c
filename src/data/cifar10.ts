/**
 * CIFAR-10 from the official binary batches: records of 1 label byte + 3072 pixel bytes
 * (1024 R, then 1024 G, then 1024 B, row-major), converted to NHWC floats in [0, 1].
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import type { Dataset, Split } from './dataset.ts';
import { describeFile, matchesDigests, readVerifiedMarker, type DataProvenance, type KnownCopy } from './provenance.ts';

export const CIFAR_RECORD_BYTES = 1 + 3072;
export const CIFAR_RECORDS_PER_BATCH = 10000;
export const CIFAR_TRAIN_BATCHES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR_TEST_BATCH = 'test_batch.bin';

/** The directory holding the batches: DIR itself or DIR/cifar-10-batches-bin (as the tarball extracts). */
export function findCifarDir(dir: string): string {
  for (const candidate of [dir, join(dir, 'cifar-10-batches-bin')]) {
    if (existsSync(join(candidate, CIFAR_TEST_BATCH))) return candidate;
  }
  throw new UserError(`CIFAR-10 binary batches not found in ${dir}; run 'ensdef data fetch cifar10' or pass --data-dir with data_batch_*.bin and test_batch.bin`);
}

export function decodeCifarBatch(bytes: Uint8Array, path: string, expectedRecords = CIFAR_RECORDS_PER_BATCH): Split {
  if (bytes.length !== expectedRecords * CIFAR_RECORD_BYTES) {
    throw new UserError(
      `${path}: ${bytes.length} bytes, expected ${expectedRecords} records × ${CIFAR_RECORD_BYTES} = ${expectedRecords * CIFAR_RECORD_BYTES}; the file is truncated or not a CIFAR-10 binary batch — fetch it again`,
    );
  }
  const images = new Float32Array(expectedRecords * 3072);
  const labels = new Uint8Array(expectedRecords);
  for (let r = 0; r < expectedRecords; r++) {
    const base = r * CIFAR_RECORD_BYTES;
    const label = bytes[base];
    if (label > 9) throw new UserError(`${path}: record ${r} has label ${label}, not 0-9; the file is corrupt`);
    labels[r] = label;
    const out = r * 3072;
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) images[out + p * 3 + c] = bytes[base + 1 + c * 1024 + p] / 255;
    }
  }
  return { images, labels, count: expectedRecords };
}

function concat(splits: Split[]): Split {
  const count = splits.reduce((n, s) => n + s.count, 0);
  const images = new Float32Array(count * 3072);
  const labels = new Uint8Array(count);
  let offset = 0;
  for (const s of splits) {
    images.set(s.images, offset * 3072);
    labels.set(s.labels, offset);
    offset += s.count;
  }
  return { images, labels, count };
}

/** Official when `data fetch` verified the archive they came from; else a known copy, or unknown batches. */
function cifarProvenance(root: string, knownCopies: readonly KnownCopy[]): DataProvenance {
  const files = [...CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH].map((name) => describeFile(join(root, name)));
  const marker = readVerifiedMarker(root);
  if (marker && matchesDigests(files, marker.sha256)) return { label: 'CIFAR-10', verified: true, check: marker.check, files };
  const copy = knownCopies.find((c) => matchesDigests(files, c.sha256));
  if (copy) return { label: copy.label, verified: false, check: 'a known copy, not the official files', files };
  return { label: `CIFAR-10-format batches from ${root}`, verified: false, check: marker ? 'files differ from what data fetch verified' : 'not fetched by data fetch', files };
}

/** Loads CIFAR-10; `recordsPerBatch` exists so tests can use small hand-written batches. */
export function loadCifar10(dir: string, recordsPerBatch = CIFAR_RECORDS_PER_BATCH, knownCopies: readonly KnownCopy[] = []): Dataset {
  const root = findCifarDir(dir);
  const read = (name: string) => {
    const path = join(root, name);
    if (!existsSync(path)) throw new UserError(`CIFAR-10 batch missing: ${path}; run 'ensdef data fetch cifar10'`);
    return decodeCifarBatch(readFileSync(path), path, recordsPerBatch);
  };
  return {
    name: 'cifar10',
    imageShape: [32, 32, 3],
    numClasses: 10,
    train: concat(CIFAR_TRAIN_BATCHES.map(read)),
    test: read(CIFAR_TEST_BATCH),
    source: root,
    provenance: cifarProvenance(root, knownCopies),
  };
}
