/**
 * Faster wasm paths for kernels that are slow for the shapes training uses, found by profiling a training
 * step per kernel (numbers in docs/PERFORMANCE.md): MaxPoolGrad (max-pool-grad.ts), the filter gradient
 * for few input channels, Identity, and bias-gradient sums. Each wraps the kernel registered before it
 * and hands every case it does not speed up back to it. Some compute in JavaScript directly on the wasm
 * heap: they allocate their output first, because an allocation can grow the heap and detach older views.
 * Equivalence with the cpu backend is checked in test/wasm-kernels-extra.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { makeMaxPoolGrad } from './max-pool-grad.ts';
import { release, replaceKernel, run, transposeMatrix, type KernelArgs, type TensorInfo } from './wasm-kernel-utils.ts';

interface FilterGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** Input channels up to which the im2col path beats the convolution one (measured: MNIST's 1, CIFAR-10's 3; 32 is slower). */
const IM2COL_MAX_CHANNELS = 4;

/**
 * Filter gradient for few input channels: dWᵀ = dyᵀ · patches. The convolution form (wasm-kernels.ts)
 * reduces over B·OH·OW with only KH·KW·Cin output rows, which XNNPACK runs at ~2 GFLOP/s for MNIST's
 * Cin = 1 (20 ms). As a matmul it is fast if the right operand, which XNNPACK repacks for every new
 * tensor, is narrow: packing MNIST's dy [86528, 32] costs ~20 ms, the im2col matrix [86528, 9] ~2 ms.
 * So the patches go on the right, dy (transposed) on the left: 10 ms in all.
 */
function makeIm2colFilterGrad(previous: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as FilterGradAttrs;
    if (dataFormat !== 'NHWC' || x.dtype !== 'float32' || x.shape[3] > IM2COL_MAX_CHANNELS) return previous(args);
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const patches = im2col(backend, x, info);
    const pixels = info.batchSize * info.outHeight * info.outWidth;
    const dyT = { ...transposeMatrix(backend, dy, pixels, info.outChannels), shape: [1, info.outChannels, pixels] };
    const dwT = run('BatchMatMul', backend, { a: dyT, b: patches }, { transposeA: false, transposeB: false });
    const dw = run('Transpose', backend, { x: dwT }, { perm: [0, 2, 1] });
    release(backend, patches, dyT, dwT);
    return { ...dw, shape: filterShape };
  };
}

/** The im2col matrix [1, pixels, KH·KW·Cin]: row (b, oh, ow) holds x's window at that output pixel, 0 in padding. */
function im2col(backend: BackendWasm, x: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput([1, batchSize * outHeight * outWidth, filterHeight * filterWidth * inChannels], 'float32');
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        for (let kh = 0; kh < filterHeight; kh++) {
          const r = oh * strideHeight + kh - top;
          for (let kw = 0; kw < filterWidth; kw++) {
            const c = ow * strideWidth + kw - left;
            if (r < 0 || r >= inHeight || c < 0 || c >= inWidth) {
              for (let ci = 0; ci < inChannels; ci++) dst[o + ci] = 0;
            } else {
              const at = ((b * inHeight + r) * inWidth + c) * inChannels;
              for (let ci = 0; ci < inChannels; ci++) dst[o + ci] = src[at + ci];
            }
            o += inChannels;
          }
        }
      }
    }
  }
  return out;
}

/** Identity shares the input's memory (as tfjs-cpu does) instead of copying it. */
function identity({ inputs, backend }: KernelArgs): TensorInfo {
  const { x } = inputs as { x: TensorInfo };
  (backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Sum over leading axes (a bias gradient: dy [B, H, W, C] summed to [C]) in one pass. wasm's Sum first
 * transposes the reduced axes innermost, a full strided copy: 5.7 ms CPU on MNIST's conv dy, this ~1.5 ms.
 */
function makeLeadingSum(previous: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.every((a, i) => a === i) && axes.length < x.shape.length;
    if (x.dtype !== 'float32' || !leading || axes.length === 0) return previous(args);
    const kept = x.shape.slice(axes.length);
    const width = kept.reduce((a, b) => a * b, 1);
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
    const sums = sumRows(backend.typedArrayFromHeap(x) as Float32Array, width);
    (backend.typedArrayFromHeap(out) as Float32Array).set(sums);
    return out;
  };
}

/**
 * a·bᵀ with a big b (the input gradient of a dense layer, dy·Wᵀ) as (b·aᵀ)ᵀ. XNNPACK repacks the right
 * operand of every product, and packing is slow (~5 ns per value): on MNIST's dense layer the right
 * operand shrinks from Wᵀ [128, 5408] to dyᵀ [128, 128], for two cheap transposes.
 */
function makeSmallRightOperandMatMul(previous: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const single = (t: TensorInfo) => t.shape.length === 2 || (t.shape.length === 3 && t.shape[0] === 1);
    if (transposeA || !transposeB || !single(a) || !single(b) || tf.util.sizeFromShape(b.shape) <= tf.util.sizeFromShape(a.shape)) return previous(args);
    const [m, n] = [a.shape[a.shape.length - 2], b.shape[b.shape.length - 2]];
    const result = previous({ ...args, inputs: { a: b, b: a } });
    const swapped = Array.isArray(result) ? result[0] : result;
    const product = transposeMatrix(backend, swapped, n, m);
    release(backend, swapped);
    return { ...product, shape: [...a.shape.slice(0, -2), m, n] };
  };
}

/** Rows of ~16 KiB: a block stays in L1 while four columns at a time are summed in registers. */
const SUM_BLOCK_FLOATS = 4096;

/**
 * Column sums of a row-major [rows, width] matrix, in float64. Accumulating into an array entry per column
 * chains every add through memory (3.7 ms for [115200, 32]); register accumulators per block: 1.3 ms.
 */
function sumRows(src: Float32Array, width: number): Float64Array {
  const sums = new Float64Array(width);
  const rows = src.length / width;
  const blockRows = Math.max(1, Math.floor(SUM_BLOCK_FLOATS / width));
  for (let r0 = 0; r0 < rows; r0 += blockRows) {
    const start = r0 * width;
    const end = Math.min(rows, r0 + blockRows) * width;
    let c = 0;
    for (; c + 4 <= width; c += 4) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let o = start + c; o < end; o += width) {
        a0 += src[o];
        a1 += src[o + 1];
        a2 += src[o + 2];
        a3 += src[o + 3];
      }
      sums[c] += a0;
      sums[c + 1] += a1;
      sums[c + 2] += a2;
      sums[c + 3] += a3;
    }
    for (; c < width; c++) {
      let a = 0;
      for (let o = start + c; o < end; o += width) a += src[o];
      sums[c] += a;
    }
  }
  return sums;
}

export function registerWasmFastPaths(): void {
  replaceKernel('MaxPoolGrad', makeMaxPoolGrad);
  replaceKernel('Conv2DBackpropFilter', makeIm2colFilterGrad);
  replaceKernel('Identity', () => identity as tf.KernelFunc);
  replaceKernel('Sum', makeLeadingSum);
  replaceKernel('BatchMatMul', makeSmallRightOperandMatMul);
}
