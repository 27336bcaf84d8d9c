/**
 * MaxPoolGrad for the wasm backend, computed in JavaScript directly on the wasm heap.
 *
 * The built-in wasm kernel is a naive loop (54 ms of a 132 ms MNIST training step). The faster
 * mask formulation (x == upsample(y)) · upsample(dy) gives the gradient to EVERY tied maximum, and
 * ties are common on real images (flat background), so it is not TensorFlow's gradient. This kernel
 * reproduces tfjs-cpu's `maxPoolGrad` exactly:
 * - each window's gradient goes to ONE input: the first maximum in row-major window order (strict
 *   `>` while scanning, so a NaN never wins and a window of only NaN / −∞ passes no gradient);
 * - where windows overlap (stride < pool size), an input's contributions are added in the order
 *   tfjs-cpu adds them (output rows, then columns, descending) in float64 and rounded to float32 once.
 * The paper's networks pool 2×2 windows that tile the input; that case has a branch-free path that
 * finds the first input equal to the forward output (the kernel's `output` input, MaxPool(x)).
 * Equality with the cpu backend, ties included, is checked in test/wasm-kernels-extra.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type KernelArgs = Parameters<tf.KernelFunc>[0];

interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export function makeMaxPoolGrad(previous: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { dy, input, output } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo; output: tf.TensorInfo };
    if (input.dtype !== 'float32' || dy.dtype !== 'float32') return previous(args);
    const backend = args.backend as BackendWasm;
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as PoolAttrs;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    // Allocate before taking heap views: an allocation can grow (and so detach) the heap.
    const out = backend.makeOutput(input.shape, 'float32');
    const x = backend.typedArrayFromHeap(input) as Float32Array;
    const g = backend.typedArrayFromHeap(dy) as Float32Array;
    const dx = backend.typedArrayFromHeap(out) as Float32Array;
    if (tiles2x2(info)) {
      dx.fill(0);
      firstMaxima2x2(x, backend.typedArrayFromHeap(output) as Float32Array, g, dx, info);
      return out;
    }
    const overlapping = info.strideHeight < info.filterHeight || info.strideWidth < info.filterWidth;
    const sums = overlapping ? new Float64Array(dx.length) : dx;
    sums.fill(0);
    scatterToFirstMaxima(x, g, sums, info);
    if (overlapping) dx.set(sums);
    return out;
  };
}

/** Adds each dy value to the first maximum of its window, visiting windows in tfjs-cpu's summation order. */
function scatterToFirstMaxima(x: Float32Array, g: Float32Array, sums: Float32Array | Float64Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const best = new Float64Array(channels);
  const where = new Int32Array(channels);
  for (let b = 0; b < batchSize; b++) {
    const image = b * inHeight * inWidth * channels;
    for (let yR = outHeight - 1; yR >= 0; yR--) {
      const rowCorner = yR * strideHeight - top;
      const rowStart = Math.max(rowCorner, 0);
      const rowEnd = Math.min(inHeight, rowCorner + filterHeight);
      for (let yC = outWidth - 1; yC >= 0; yC--) {
        const colCorner = yC * strideWidth - left;
        const colStart = Math.max(colCorner, 0);
        const colEnd = Math.min(inWidth, colCorner + filterWidth);
        best.fill(-Infinity);
        where.fill(-1);
        for (let xR = rowStart; xR < rowEnd; xR++) {
          for (let xC = colStart; xC < colEnd; xC++) {
            const pixel = image + (xR * inWidth + xC) * channels;
            for (let d = 0; d < channels; d++) {
              const value = x[pixel + d];
              if (value > best[d]) {
                best[d] = value;
                where[d] = pixel + d;
              }
            }
          }
        }
        const gradient = ((b * outHeight + yR) * outWidth + yC) * channels;
        for (let d = 0; d < channels; d++) {
          if (where[d] >= 0) sums[where[d]] += g[gradient + d];
        }
      }
    }
  }
}

/** 2×2 windows, stride 2, no padding: every window lies inside the input and none overlap. */
function tiles2x2(info: tf.backend_util.Conv2DInfo): boolean {
  const { filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;
  return filterHeight === 2 && filterWidth === 2 && strideHeight === 2 && strideWidth === 2 && padInfo.top === 0 && padInfo.left === 0 &&
    2 * info.outHeight <= info.inHeight && 2 * info.outWidth <= info.inWidth;
}

const NEGATIVE_ZERO_BITS = -0x80000000;

/** Index in 0..3 of the lowest set bit of a 4-bit mask; 4 for an empty mask. */
const FIRST_SET = Int32Array.from({ length: 16 }, (_, mask) => (mask === 0 ? 4 : 31 - Math.clz32(mask & -mask)));

/**
 * The first of a window's four inputs equal to the window's max y gets dy; the others get +0. Comparisons
 * become bit masks and dy is selected by its bit pattern, so no step branches on the data (a branch per
 * comparison made the scan 4x slower). Windows where equality cannot find tfjs-cpu's choice — y is NaN,
 * or −∞ (cpu then passes no gradient) — are scanned exactly.
 */
function firstMaxima2x2(x: Float32Array, y: Float32Array, g: Float32Array, dx: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const gBits = new Int32Array(g.buffer, g.byteOffset, g.length);
  const dxBits = new Int32Array(dx.buffer, dx.byteOffset, dx.length);
  const right = channels;
  const below = inWidth * channels;
  const belowRight = below + channels;
  for (let b = 0; b < batchSize; b++) {
    for (let yR = 0; yR < outHeight; yR++) {
      for (let yC = 0; yC < outWidth; yC++) {
        const o = ((b * outHeight + yR) * outWidth + yC) * channels;
        const corner = ((b * inHeight + 2 * yR) * inWidth + 2 * yC) * channels;
        for (let d = 0; d < channels; d++) {
          const max = y[o + d];
          const p = corner + d;
          const mask = +(x[p] === max) | (+(x[p + right] === max) << 1) | (+(x[p + below] === max) << 2) | (+(x[p + belowRight] === max) << 3);
          let first = FIRST_SET[mask];
          if (mask === 0 || max === -Infinity) first = firstMaximumExact(x, p, right, below);
          // tfjs-cpu sums into +0, so a −0 gradient arrives as +0: clear the sign bit of −0 only.
          const bits = gBits[o + d] & ~(+(gBits[o + d] === NEGATIVE_ZERO_BITS) << 31);
          dxBits[p] = bits & -+(first === 0);
          dxBits[p + right] = bits & -+(first === 1);
          dxBits[p + below] = bits & -+(first === 2);
          dxBits[p + belowRight] = bits & -+(first === 3);
        }
      }
    }
  }
}

/** tfjs-cpu's scan of one 2×2 window: index 0..3 of the first strict maximum above −∞, or −1. */
function firstMaximumExact(x: Float32Array, p: number, right: number, below: number): number {
  const offsets = [0, right, below, below + right];
  let best = -Infinity;
  let first = -1;
  offsets.forEach((offset, i) => {
    if (x[p + offset] > best) {
      best = x[p + offset];
      first = i;
    }
  });
  return first;
}
