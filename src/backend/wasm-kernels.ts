/**
 * Training kernels for the wasm backend, each built only from kernels wasm already has.
 *
 * Stock tfjs-backend-wasm 4.22 cannot train a conv net: `Conv2DBackpropFilter` is not registered,
 * its `Conv2DBackpropInput` is a naive loop, and its transposed matmul path is ~13x slower than the
 * plain one (docs/PERFORMANCE.md). Each replacement below re-expresses the op as a forward Conv2D or a
 * plain matmul, which run on XNNPACK. Equivalence with the cpu backend is checked in
 * test/backend/wasm-kernels.test.ts. Faster paths for the shapes training uses are in wasm-fast-paths.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmFastPaths } from './wasm-fast-paths.ts';
import { release, replaceKernel, run, transpose, transposeMatrix, WASM, type Backend, type KernelArgs, type TensorInfo } from './wasm-kernel-utils.ts';

type Conv2DAttrs = {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

function assertSupported(kernel: string, convInfo: tf.backend_util.Conv2DInfo, dataFormat: string): void {
  if (dataFormat !== 'NHWC') throw new Error(`${kernel} on wasm: only NHWC is supported, got ${dataFormat}`);
  if (convInfo.dilationHeight !== 1 || convInfo.dilationWidth !== 1) {
    throw new Error(`${kernel} on wasm: dilated convolutions are not supported`);
  }
}

/**
 * dW[kh,kw,ci,co] = Σ_{b,oh,ow} x[b, oh·s+kh−pt, ow·s+kw−pl, ci] · dy[b,oh,ow,co]
 * is a forward convolution of x viewed as [Cin,H,W,B] with dy viewed as a [OH,OW,B,Cout] filter,
 * dilated by the forward stride, giving [Cin,KH,KW,Cout].
 */
function conv2DBackpropFilter({ inputs, backend: anyBackend, attrs }: KernelArgs): TensorInfo {
  const backend = anyBackend as Backend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DAttrs & {
    filterShape: [number, number, number, number];
  };
  const convInfo = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  assertSupported('Conv2DBackpropFilter', convInfo, dataFormat);
  const [kh, kw] = [convInfo.filterHeight, convInfo.filterWidth];
  const [sh, sw] = [convInfo.strideHeight, convInfo.strideWidth];
  const { top, left } = convInfo.padInfo;
  const [, inH, inW] = x.shape;
  // Rows/cols past the last window do not reach dW; a negative far-side pad means "crop them".
  const bottom = kh + (convInfo.outHeight - 1) * sh - inH - top;
  const right = kw + (convInfo.outWidth - 1) * sw - inW - left;
  let source = x;
  if (bottom < 0 || right < 0) {
    const [b, h, w, c] = x.shape;
    source = run('Slice', backend, { x }, { begin: [0, 0, 0, 0], size: [b, h + Math.min(bottom, 0), w + Math.min(right, 0), c] });
  }
  // x → [Cin, H, W, B] as [B, H·W·Cin]ᵀ = [H·W, Cin, B], then Cin to the front (moves runs of B floats).
  const [batch, height, width, channels] = source.shape;
  const pixelsFirst = transposeMatrix(backend, source, batch, height * width * channels);
  const xT = transpose(backend, { ...pixelsFirst, shape: [height * width, channels, batch] }, [1, 0, 2]);
  release(backend, pixelsFirst);
  const dyT = transpose(backend, dy, [1, 2, 0, 3]);
  const dwT = run('Conv2D', backend, { x: { ...xT, shape: [channels, height, width, batch] }, filter: dyT }, {
    strides: 1,
    dilations: [sh, sw],
    pad: [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]],
    dataFormat: 'NHWC',
  });
  const dw = transpose(backend, dwT, [1, 2, 0, 3]);
  release(backend, xT, dyT, dwT);
  if (source !== x) release(backend, source);
  return dw;
}

/**
 * For stride 1, dx is the full correlation of dy with the spatially reversed, in/out-swapped filter:
 * a forward Conv2D padded by (K−1−pad) on each side. Strided convolutions keep the built-in kernel.
 */
function makeConv2DBackpropInput(builtIn: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { inputs, attrs } = args;
    const backend = args.backend as Backend;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DAttrs & {
      inputShape: [number, number, number, number];
    };
    const convInfo = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      'channelsLast',
    );
    if (convInfo.strideHeight !== 1 || convInfo.strideWidth !== 1 || dataFormat !== 'NHWC') return builtIn(args);
    const [kh, kw] = [convInfo.filterHeight, convInfo.filterWidth];
    const { top, bottom, left, right } = convInfo.padInfo;
    const reversed = run('Reverse', backend, { x: filter }, { dims: [0, 1] });
    const swapped = transpose(backend, reversed, [0, 1, 3, 2]);
    const dx = run('Conv2D', backend, { x: dy, filter: swapped }, {
      strides: 1,
      dilations: 1,
      pad: [[0, 0], [kh - 1 - top, kh - 1 - bottom], [kw - 1 - left, kw - 1 - right], [0, 0]],
      dataFormat: 'NHWC',
    });
    release(backend, reversed, swapped);
    return dx;
  };
}

/** Materialises transposed operands so the matmul runs on wasm's fast untransposed path. */
function makeUntransposedMatMul(builtIn: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { inputs, attrs } = args;
    const backend = args.backend as Backend;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return builtIn(args);
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const swapLast = (t: TensorInfo) => {
      const [rows, cols] = t.shape.slice(-2);
      if (t.shape.length === 2 || (t.shape.length === 3 && t.shape[0] === 1)) {
        return { ...transposeMatrix(backend, t, rows, cols), shape: [...t.shape.slice(0, -2), cols, rows] };
      }
      const perm = t.shape.map((_, i) => i);
      const n = perm.length;
      [perm[n - 2], perm[n - 1]] = [perm[n - 1], perm[n - 2]];
      return transpose(backend, t, perm);
    };
    const aT = transposeA ? swapLast(a) : a;
    const bT = transposeB ? swapLast(b) : b;
    const out = builtIn({ inputs: { ...inputs, a: aT, b: bT }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    if (aT !== a) release(backend, aT);
    if (bT !== b) release(backend, bT);
    return out;
  };
}

/**
 * Stock wasm _FusedMatMul adds the bias to the wrong columns once a batch holds more than one matrix
 * (measured: [2,3,5]·[2,5,4] + bias misses by up to the bias itself from row 2 on); one matrix at a
 * time it is right, so batched products with a bias run matrix by matrix and are concatenated.
 */
function makePerMatrixBiasMatMul(builtIn: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { inputs } = args;
    const backend = args.backend as Backend;
    const { a, b, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined> & { a: TensorInfo; b: TensorInfo };
    const batch = Math.max(a.shape[0], b.shape[0]);
    if (!bias || batch === 1) return builtIn(args);
    // tfjs-core reshapes every matmul operand to [batch, rows, cols] before calling the kernel.
    const matrix = (t: TensorInfo, i: number) =>
      t.shape.length === 3 && t.shape[0] > 1 ? run('Slice', backend, { x: t }, { begin: [i, 0, 0], size: [1, t.shape[1], t.shape[2]] }) : t;
    const parts: TensorInfo[] = [];
    for (let i = 0; i < batch; i++) {
      const operands = { a: matrix(a, i), b: matrix(b, i), ...(preluActivationWeights ? { preluActivationWeights: matrix(preluActivationWeights, i) } : {}) };
      const out = builtIn({ ...args, inputs: { ...inputs, ...operands } });
      parts.push(Array.isArray(out) ? out[0] : out);
      for (const [name, operand] of Object.entries(operands)) if (operand !== inputs[name]) release(backend, operand);
    }
    const product = run('Concat', backend, parts as unknown as Record<string, TensorInfo>, { axis: 0 });
    release(backend, ...parts);
    return product;
  };
}

let registered = false;

/** Registers the replacement kernels once; safe to call before or after the wasm backend is set. */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: WASM, kernelFunc: conv2DBackpropFilter as tf.KernelFunc });
  replaceKernel('Conv2DBackpropInput', makeConv2DBackpropInput);
  replaceKernel('BatchMatMul', makeUntransposedMatMul);
  replaceKernel('_FusedMatMul', (builtIn) => makeUntransposedMatMul(makePerMatrixBiasMatMul(builtIn)));
  registerWasmFastPaths();
}
