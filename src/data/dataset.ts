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
