import type { DataProvenance } from './provenance.ts';

/** An image-classification data set held as flat NHWC float32 pixels in [0, 1]. */
export interface Split {
  /** count × height × width × channels pixels in [0, 1]. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

export interface Dataset {
  name: string;
  /** [height, width, channels] */
  imageShape: [number, number, number];
  numClasses: number;
  train: Split;
  test: Split;
  /** Where the data was read from (recorded in the manifest). */
  source: string;
  /** What the files are, their sha256, and whether they matched the official checksums (recorded in the manifest). */
  provenance: DataProvenance;
}

export function pixelsPerImage(ds: Pick<Dataset, 'imageShape'>): number {
  const [h, w, c] = ds.imageShape;
  return h * w * c;
}

/** The first `limit` examples of a split (the subset --train-limit / --test-limit select). */
export function headOf(split: Split, limit: number | undefined, pixels: number): Split {
  if (limit === undefined || limit >= split.count) return split;
  return {
    images: split.images.subarray(0, limit * pixels),
    labels: split.labels.subarray(0, limit),
    count: limit,
  };
}

/** One batch of a pass over a split: its position in the pass and the examples it holds. */
export interface BatchSlice {
  /** 0, 1, 2, ... within the pass. */
  index: number;
  /** Examples [start, start + count) of the pass's order. */
  start: number;
  count: number;
  /** The examples' indices in the split; undefined when the pass is in file order (then start .. start + count − 1). */
  indices?: Int32Array;
}

/**
 * The one way ensdef walks a split: batches of `batchSize` (the last one shorter) over `count` examples,
 * in file order (evaluation, attacks) or in `order` (training's shuffled bootstrap sample).
 */
export function* batches(count: number, batchSize: number, order?: Int32Array): Generator<BatchSlice> {
  for (let start = 0, index = 0; start < count; start += batchSize, index++) {
    const n = Math.min(batchSize, count - start);
    yield { index, start, count: n, indices: order?.subarray(start, start + n) };
  }
}

/** A batch's pixels and labels: views of the split in file order, a copy gathered from `indices` otherwise. */
export function batchData(split: Split, batch: BatchSlice, pixels: number): { images: Float32Array; labels: Uint8Array } {
  if (batch.indices) return gatherBatch(split, batch.indices, pixels);
  return { images: split.images.subarray(batch.start * pixels, (batch.start + batch.count) * pixels), labels: split.labels.subarray(batch.start, batch.start + batch.count) };
}

/** Copies the examples at `indices` into one contiguous batch. */
export function gatherBatch(split: Split, indices: ArrayLike<number>, pixels: number): { images: Float32Array; labels: Uint8Array } {
  const images = new Float32Array(indices.length * pixels);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    images.set(split.images.subarray(k * pixels, (k + 1) * pixels), i * pixels);
    labels[i] = split.labels[k];
  }
  return { images, labels };
}
