/**
 * The native path: kernels registered for the wasm backend that run in the native addon (oneDNN), in
 * place on the wasm heap. tfjs keeps managing tensors, memory and every other kernel as on plain wasm;
 * only the heavy kernels of the paper's networks (convolutions, matmuls, max pooling) and the elementwise
 * ops around them leave wasm's 128-bit SIMD for oneDNN's AVX2 / AVX-512 code. No tensor is copied: a kernel passes the heap's ArrayBuffer
 * and byte offsets. Unlike a backend of its own (not built: it would have to implement, or copy tensors
 * across for, the ~40 other kernels training and the attacks use), this keeps every other op on XNNPACK
 * and needs no tensor management of ours.
 *
 * Each kernel wraps the one registered before it (ensdef's wasm training kernels) and hands it every
 * case it does not cover (dilations, NCHW, activations other than relu, overlapping pools, ...).
 * Equality with the cpu backend is checked in test/backend/native-kernels.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { CONV_RELU_KERNEL, CONV_RELU_POOL_GRAD_KERNEL, CONV_RELU_POOL_KERNEL, RELU_BIAS_GRAD_KERNEL, convReluPoolPositionsShape, type ConvReluAttrs, type ConvReluPoolGradAttrs } from './conv-relu.ts';
import { FUSED_ADAM_KERNEL, type FusedAdamAttrs } from './fused-adam.ts';
import type { ConvShape, ElementwiseOp, NativeAddon, PoolShape } from './native-addon.ts';
import { replaceKernel, type KernelArgs, type TensorInfo } from './wasm-kernel-utils.ts';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;

interface WasmInternals {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
}

/** The heap's current ArrayBuffer: take it after the last allocation, since growing the heap replaces it. */
function heap(backend: BackendWasm): ArrayBuffer {
  return (backend as unknown as WasmInternals).wasm.HEAPU8.buffer as ArrayBuffer;
}

function offset(backend: BackendWasm, info: TensorInfo): number {
  return (backend as unknown as WasmInternals).dataIdMap.get(info.dataId).memoryOffset;
}

const calls = new Map<string, number>();

/** How often each native kernel ran (not fallen back), so tests can prove the native code was exercised. */
export function nativeKernelCalls(): Record<string, number> {
  return Object.fromEntries(calls);
}

function counted(name: string): void {
  calls.set(name, (calls.get(name) ?? 0) + 1);
}

function convShape(info: tf.backend_util.Conv2DInfo): ConvShape {
  const { batchSize, inHeight, inWidth, inChannels, filterHeight, filterWidth, outChannels, outHeight, outWidth, strideHeight, strideWidth, padInfo } = info;
  // oneDNN wants the far-side padding that makes its output size arithmetic exact; tfjs's 'valid' reports 0
  // even where the last rows never reach a window (it may be negative: those rows are cropped).
  const bottom = (outHeight - 1) * strideHeight + filterHeight - inHeight - padInfo.top;
  const right = (outWidth - 1) * strideWidth + filterWidth - inWidth - padInfo.left;
  return {
    batch: batchSize,
    inHeight,
    inWidth,
    inChannels,
    filterHeight,
    filterWidth,
    outChannels,
    outHeight,
    outWidth,
    strideHeight,
    strideWidth,
    padTop: padInfo.top,
    padLeft: padInfo.left,
    padBottom: bottom,
    padRight: right,
  };
}

function convInfoFor(xShape: number[], filterShape: number[], attrs: { strides: number | [number, number]; pad: Pad; dimRoundingMode?: RoundingMode; dilations?: number | [number, number] }) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** What oneDNN is given: NHWC float32, no dilation, nothing empty. */
function convCovered(info: tf.backend_util.Conv2DInfo, dataFormat: string | undefined, ...tensors: TensorInfo[]): boolean {
  return (
    (dataFormat === undefined || dataFormat === 'NHWC') &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    tensors.every((t) => t.dtype === 'float32') &&
    tf.util.sizeFromShape(info.outShape) > 0 &&
    tf.util.sizeFromShape(info.inShape) > 0
  );
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: number | [number, number];
  dimRoundingMode?: RoundingMode;
  activation?: string;
}

function makeConvForward(addon: NativeAddon, fused: boolean) {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const backend = args.backend as BackendWasm;
      const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined> & { x: TensorInfo; filter: TensorInfo };
      const attrs = args.attrs as unknown as ConvAttrs;
      const activation = fused ? (attrs.activation ?? 'linear') : 'linear';
      const info = convInfoFor(x.shape, filter.shape, attrs);
      const biasOk = !bias || (bias.shape.length === 1 && bias.shape[0] === info.outChannels && bias.dtype === 'float32');
      if (!convCovered(info, attrs.dataFormat, x, filter) || !biasOk || preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) {
        return previous(args);
      }
      const out = backend.makeOutput(info.outShape, 'float32');
      const tensors = { x: offset(backend, x), filter: offset(backend, filter), y: offset(backend, out), ...(bias ? { bias: offset(backend, bias) } : {}) };
      addon.convForward(heap(backend), tensors, convShape(info), { relu: activation === 'relu' });
      counted(fused ? 'FusedConv2D' : 'Conv2D');
      return out;
    };
}

function makeConvBackpropInput(addon: NativeAddon) {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const backend = args.backend as BackendWasm;
      const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
      const attrs = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
      const info = convInfoFor(attrs.inputShape, filter.shape, attrs);
      if (!convCovered(info, attrs.dataFormat, dy, filter)) return previous(args);
      const dx = backend.makeOutput(attrs.inputShape, 'float32');
      addon.convBackwardData(heap(backend), { dy: offset(backend, dy), filter: offset(backend, filter), dx: offset(backend, dx) }, convShape(info));
      counted('Conv2DBackpropInput');
      return dx;
    };
}

/**
 * Into how many runs of images the weights gradient's sum over the batch is split, each summed on one
 * thread, the runs in parallel where threads are free. A function of the batch size only, never of the
 * thread count, so the weights are the same bits on any number of threads; two runs are all a 2-core
 * machine can use, and below IMAGES_PER_PART images a run's own overhead would cost a 1-thread process more
 * than a second thread could give back.
 */
export function convBackwardWeightsParts(batch: number): number {
  return batch >= 2 * IMAGES_PER_PART ? 2 : 1;
}

const IMAGES_PER_PART = 16;

function makeConvBackpropFilter(addon: NativeAddon) {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const backend = args.backend as BackendWasm;
      const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
      const attrs = args.attrs as unknown as ConvAttrs & { filterShape: number[] };
      const info = convInfoFor(x.shape, attrs.filterShape, attrs);
      if (!convCovered(info, attrs.dataFormat, x, dy)) return previous(args);
      const dw = backend.makeOutput(attrs.filterShape, 'float32');
      addon.convBackwardWeights(heap(backend), { x: offset(backend, x), dy: offset(backend, dy), dw: offset(backend, dw) }, convShape(info), { parts: convBackwardWeightsParts(info.batchSize) });
      counted('Conv2DBackpropFilter');
      return dw;
    };
}

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation?: string;
}

function makeMatMul(addon: NativeAddon, fused: boolean) {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const backend = args.backend as BackendWasm;
      const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined> & { a: TensorInfo; b: TensorInfo };
      const { transposeA, transposeB, activation = 'linear' } = args.attrs as unknown as MatMulAttrs;
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return previous(args);
      const [aRows, aCols] = a.shape.slice(-2);
      const [bRows, bCols] = b.shape.slice(-2);
      const [m, k] = transposeA ? [aCols, aRows] : [aRows, aCols];
      const [kB, n] = transposeB ? [bCols, bRows] : [bRows, bCols];
      const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
      const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
      const batch = Math.max(batchA, batchB);
      // Only a whole-batch broadcast of one matrix; other broadcasts (and mismatches) go to the previous kernel.
      const batchOk = batchA === batchB || batchA === 1 || batchB === 1;
      const biasOk = !bias || (bias.shape.length === 1 && bias.shape[0] === n && bias.dtype === 'float32');
      const activationOk = !fused || activation === 'linear' || activation === 'relu';
      if (k !== kB || !batchOk || !biasOk || !activationOk || preluActivationWeights || m * n * k * batch === 0) return previous(args);
      const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
      if (tf.util.sizeFromShape(outer) !== batch) return previous(args);
      const out = backend.makeOutput([...outer, m, n], 'float32');
      addon.matMul(
        heap(backend),
        { a: offset(backend, a), b: offset(backend, b), c: offset(backend, out), ...(bias ? { bias: offset(backend, bias) } : {}) },
        { batch, m, n, k, transposeA, transposeB, aBatchStride: batchA === 1 ? 0 : m * k, bBatchStride: batchB === 1 ? 0 : k * n },
        { relu: fused && activation === 'relu' },
      );
      counted(fused ? '_FusedMatMul' : 'BatchMatMul');
      return out;
    };
}

interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: Pad;
  dimRoundingMode?: RoundingMode;
}

function poolShape(info: tf.backend_util.Conv2DInfo): PoolShape {
  const { batchSize, inHeight, inWidth, inChannels, filterHeight, filterWidth, outHeight, outWidth, strideHeight, strideWidth, padInfo } = info;
  return {
    batch: batchSize,
    inHeight,
    inWidth,
    channels: inChannels,
    windowHeight: filterHeight,
    windowWidth: filterWidth,
    outHeight,
    outWidth,
    strideHeight,
    strideWidth,
    padTop: padInfo.top,
    padLeft: padInfo.left,
  };
}

function poolInfo(xShape: number[], attrs: PoolAttrs) {
  return tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
}

function makeMaxPool(addon: NativeAddon) {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const backend = args.backend as BackendWasm;
      const { x } = args.inputs as { x: TensorInfo };
      const info = poolInfo(x.shape, args.attrs as unknown as PoolAttrs);
      if (x.dtype !== 'float32' || tf.util.sizeFromShape(info.outShape) === 0) return previous(args);
      const out = backend.makeOutput(info.outShape, 'float32');
      addon.maxPool(heap(backend), { x: offset(backend, x), y: offset(backend, out) }, poolShape(info));
      counted('MaxPool');
      return out;
    };
}

/**
 * tfjs-cpu's rule: each window's gradient goes to its first strict maximum (row-major), so ties are
 * exact. Overlapping windows (stride < window) sum contributions in an order the previous kernel
 * reproduces; they stay there.
 */
function makeMaxPoolGrad(addon: NativeAddon) {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const backend = args.backend as BackendWasm;
      const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
      const info = poolInfo(input.shape, args.attrs as unknown as PoolAttrs);
      const overlapping = info.strideHeight < info.filterHeight || info.strideWidth < info.filterWidth;
      if (input.dtype !== 'float32' || dy.dtype !== 'float32' || output.dtype !== 'float32' || overlapping || tf.util.sizeFromShape(info.outShape) === 0) return previous(args);
      const dx = backend.makeOutput(input.shape, 'float32');
      addon.maxPoolGrad(heap(backend), { x: offset(backend, input), y: offset(backend, output), dy: offset(backend, dy), dx: offset(backend, dx) }, poolShape(info));
      counted('MaxPoolGrad');
      return dx;
    };
}

const sameShape = (a: TensorInfo, b: TensorInfo) => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

/** b holds one row broadcast over a: shape [..., 1, C] or [C] with a's last dimension C. */
function isRowOf(b: TensorInfo, a: TensorInfo): boolean {
  const c = a.shape[a.shape.length - 1];
  return a.shape.length >= 1 && b.shape.length <= a.shape.length && b.shape[b.shape.length - 1] === c && tf.util.sizeFromShape(b.shape) === c;
}

/**
 * The memory-bound ops around every layer of a training step: the bias add and relu of unfused layers
 * (tfjs unfuses them under tf.grad), relu's gradient dy·step(y), and the bias gradient (a sum over
 * leading axes). Wasm runs them at 128-bit width, one thread: ~20% of a CIFAR-10 step.
 */
function makeBinary(addon: NativeAddon, name: 'Multiply' | 'Add') {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const backend = args.backend as BackendWasm;
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      if (a.dtype !== 'float32' || b.dtype !== 'float32') return previous(args);
      const n = tf.util.sizeFromShape(a.shape);
      if (n === 0) return previous(args);
      if (sameShape(a, b)) {
        const out = backend.makeOutput(a.shape, 'float32');
        const op: ElementwiseOp = name === 'Multiply' ? 'multiply' : 'add';
        addon.elementwise(heap(backend), op, { a: offset(backend, a), b: offset(backend, b), out: offset(backend, out) }, { rows: 1, cols: n }, { alpha: 0 });
        counted(name);
        return out;
      }
      if (name === 'Add' && (isRowOf(b, a) || isRowOf(a, b))) {
        const [big, row] = isRowOf(b, a) ? [a, b] : [b, a];
        const cols = row.shape[row.shape.length - 1];
        const out = backend.makeOutput(big.shape, 'float32');
        const rows = tf.util.sizeFromShape(big.shape) / cols;
        addon.elementwise(heap(backend), 'addRow', { a: offset(backend, big), b: offset(backend, row), out: offset(backend, out) }, { rows, cols }, { alpha: 0 });
        counted('Add');
        return out;
      }
      return previous(args);
    };
}

function makeUnary(addon: NativeAddon, name: 'Relu' | 'Step') {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const backend = args.backend as BackendWasm;
      const { x } = args.inputs as { x: TensorInfo };
      const n = tf.util.sizeFromShape(x.shape);
      if (x.dtype !== 'float32' || n === 0) return previous(args);
      const alpha = name === 'Step' ? ((args.attrs as { alpha?: number }).alpha ?? 0) : 0;
      const out = backend.makeOutput(x.shape, 'float32');
      addon.elementwise(heap(backend), name === 'Relu' ? 'relu' : 'step', { a: offset(backend, x), out: offset(backend, out) }, { rows: 1, cols: n }, { alpha });
      counted(name);
      return out;
    };
}

/**
 * b's values each paired with one run of a's values, as native/src/elementwise.cc reads them ([rows, cols]:
 * b[r] with a's row r): b of a's shape (cols 1), one value ([] or [1, 1]: rows 1), or a's shape up to some
 * axis and 1 after it ([B, 1] against [B, K]). Undefined for any other broadcast, or where the output would
 * not have a's shape.
 */
function rowsPairedWith(a: TensorInfo, b: TensorInfo): { rows: number; cols: number } | undefined {
  const n = tf.util.sizeFromShape(a.shape);
  const bSize = tf.util.sizeFromShape(b.shape);
  if (b.shape.length > a.shape.length) return undefined;
  if (bSize === 1) return { rows: 1, cols: n };
  if (b.shape.length !== a.shape.length) return undefined;
  const kept = b.shape.findIndex((d, i) => d !== a.shape[i]);
  if (kept !== -1 && !b.shape.slice(kept).every((d) => d === 1)) return undefined;
  return { rows: bSize, cols: n / bSize };
}

const PAIRED_OPS = { Maximum: 'maximum', Minimum: 'minimum', Equal: 'equal', Greater: 'greater', Less: 'less' } as const;

/**
 * The attacks' clipping to the ε-ball (Maximum, Minimum against x ∓ ε), their sign and zero tests against
 * a scalar (Greater, Less, Equal: bool outputs) and DLR's test against each row's value ([B, K] = [B, 1]),
 * which wasm runs ~15x slower than its Sub: ~1 ms per 200 MNIST images each, ~18 % of an APGD step.
 */
function makePaired(addon: NativeAddon, name: keyof typeof PAIRED_OPS) {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const backend = args.backend as BackendWasm;
      const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
      const pairing = a.dtype === 'float32' && b.dtype === 'float32' && tf.util.sizeFromShape(a.shape) > 0 ? rowsPairedWith(a, b) : undefined;
      if (!pairing) return previous(args);
      const out = backend.makeOutput(a.shape, name === 'Maximum' || name === 'Minimum' ? 'float32' : 'bool');
      addon.elementwise(heap(backend), PAIRED_OPS[name], { a: offset(backend, a), b: offset(backend, b), out: offset(backend, out) }, pairing, { alpha: 0 });
      counted(name);
      return out;
    };
}

/** tf.where with the condition at the values' shape (APGD's selections of examples; tf.where broadcasts it there first). */
function makeSelect(addon: NativeAddon) {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const backend = args.backend as BackendWasm;
      const { condition, t, e } = args.inputs as Record<'condition' | 't' | 'e', TensorInfo>;
      const n = tf.util.sizeFromShape(t.shape);
      if (condition.dtype !== 'bool' || t.dtype !== 'float32' || e.dtype !== 'float32' || !sameShape(condition, t) || !sameShape(t, e) || n === 0) return previous(args);
      const out = backend.makeOutput(t.shape, 'float32');
      addon.elementwise(heap(backend), 'select', { condition: offset(backend, condition), a: offset(backend, t), b: offset(backend, e), out: offset(backend, out) }, { rows: 1, cols: n }, { alpha: 0 });
      counted('Select');
      return out;
    };
}

/** A sum over leading axes (the bias gradient: dy [B, H, W, C] → [C]). */
function makeSum(addon: NativeAddon) {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const backend = args.backend as BackendWasm;
      const { x } = args.inputs as { x: TensorInfo };
      const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
      const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((p, i) => p === i);
      if (x.dtype !== 'float32' || !leading || tf.util.sizeFromShape(x.shape) === 0) return previous(args);
      const kept = x.shape.slice(axes.length);
      const cols = tf.util.sizeFromShape(kept);
      const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
      addon.elementwise(heap(backend), 'sumRows', { a: offset(backend, x), out: offset(backend, out) }, { rows: tf.util.sizeFromShape(x.shape) / cols, cols }, { alpha: 0 });
      counted('Sum');
      return out;
    };
}

/** A cast to the dtype a tensor already has shares its memory (as tfjs-cpu does) instead of copying it. */
function makeCast() {
  return (previous: tf.KernelFunc): tf.KernelFunc =>
    (args: KernelArgs) => {
      const { x } = args.inputs as { x: TensorInfo };
      if ((args.attrs as { dtype: string }).dtype !== x.dtype) return previous(args);
      (args.backend as BackendWasm).incRef(x.dataId);
      counted('Cast');
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    };
}

/** relu(conv2d(x, filter) + bias) in one oneDNN call (src/backend/conv-relu.ts). */
function makeConvRelu(addon: NativeAddon): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const { x, filter, bias } = args.inputs as Record<'x' | 'filter' | 'bias', TensorInfo>;
    const info = convInfoFor(x.shape, filter.shape, { strides: 1, pad: (args.attrs as unknown as ConvReluAttrs).pad });
    const z = backend.makeOutput(info.outShape, 'float32');
    if (tf.util.sizeFromShape(info.outShape) > 0) {
      addon.convForward(heap(backend), { x: offset(backend, x), filter: offset(backend, filter), bias: offset(backend, bias), y: offset(backend, z) }, convShape(info), { relu: true });
    }
    counted(CONV_RELU_KERNEL);
    return z;
  };
}

/** The backward of relu and the bias add in one pass: [dy·step(z), Σ over all but channels]. */
function makeReluBiasGrad(addon: NativeAddon): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const { dy, z } = args.inputs as Record<'dy' | 'z', TensorInfo>;
    const [batch, height, width, channels] = z.shape;
    const da = backend.makeOutput(z.shape, 'float32');
    const db = backend.makeOutput([channels], 'float32');
    const rows = batch * height * width;
    if (rows * channels > 0) {
      addon.reluBiasGrad(heap(backend), { dy: offset(backend, dy), z: offset(backend, z), da: offset(backend, da), db: offset(backend, db) }, { rows, cols: channels, rowsPerChunk: height * width });
    } else {
      backend.typedArrayFromHeap(db).fill(0);
    }
    counted(RELU_BIAS_GRAD_KERNEL);
    return [da, db];
  };
}

/** The one-channel image's shape the fused conv-relu-pool kernels read (native/src/conv-pool.cc). */
function convPoolShape(x: TensorInfo, filter: TensorInfo) {
  return { batch: x.shape[0], inHeight: x.shape[1], inWidth: x.shape[2], outChannels: filter.shape[3] };
}

/**
 * maxPool(relu(conv2d(x, filter) + bias)) of a one-channel image, the activations never stored; its second
 * output holds each maximum's position in its window (conv-pool.cc), for the backward.
 */
function makeConvReluPool(addon: NativeAddon): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const { x, filter, bias } = args.inputs as Record<'x' | 'filter' | 'bias', TensorInfo>;
    const [batch, height, width] = x.shape;
    const y = backend.makeOutput([batch, Math.floor((height - 2) / 2), Math.floor((width - 2) / 2), filter.shape[3]], 'float32');
    const positions = backend.makeOutput(convReluPoolPositionsShape(y.shape), 'int32');
    if (batch > 0) {
      const tensors = { x: offset(backend, x), filter: offset(backend, filter), bias: offset(backend, bias), y: offset(backend, y), positions: offset(backend, positions) };
      addon.convReluPool(heap(backend), tensors, convPoolShape(x, filter));
    }
    counted(CONV_RELU_POOL_KERNEL);
    return [y, positions];
  };
}

/** Its filter or input gradient, from the maxima's positions the forward wrote. */
function makeConvReluPoolGrad(addon: NativeAddon): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const { x, filter, y, positions, dy } = args.inputs as Record<'x' | 'filter' | 'y' | 'positions' | 'dy', TensorInfo>;
    const { of } = args.attrs as unknown as ConvReluPoolGradAttrs;
    const out = backend.makeOutput(of === 'filter' ? filter.shape : x.shape, 'float32');
    if (x.shape[0] > 0) {
      const common = { y: offset(backend, y), positions: offset(backend, positions), dy: offset(backend, dy) };
      const tensors = of === 'filter' ? { ...common, x: offset(backend, x), dfilter: offset(backend, out) } : { ...common, filter: offset(backend, filter), dx: offset(backend, out) };
      addon.convReluPoolGrad(heap(backend), tensors, convPoolShape(x, filter));
    } else {
      backend.typedArrayFromHeap(out).fill(0);
    }
    counted(CONV_RELU_POOL_GRAD_KERNEL);
    return out;
  };
}

/** One Adam step of one parameter (src/backend/fused-adam.ts): outputs the new parameter and moments. */
function makeAdam(addon: NativeAddon): tf.KernelFunc {
  return (args: KernelArgs) => {
    const backend = args.backend as BackendWasm;
    const { param, grad, m, v, accBeta1, accBeta2 } = args.inputs as Record<'param' | 'grad' | 'm' | 'v' | 'accBeta1' | 'accBeta2', TensorInfo>;
    const { beta1, beta2, learningRate, epsilon } = args.attrs as unknown as FusedAdamAttrs;
    const outputs = [param, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
    const count = tf.util.sizeFromShape(param.shape);
    if (count > 0) {
      const [newParam, newM, newV] = outputs.map((t) => offset(backend, t));
      const at = (t: TensorInfo) => offset(backend, t);
      addon.adam(
        heap(backend),
        { param: at(param), grad: at(grad), m: at(m), v: at(v), accBeta1: at(accBeta1), accBeta2: at(accBeta2), newParam, newM, newV },
        { count },
        {
          beta1: Math.fround(beta1),
          oneMinusBeta1: Math.fround(1 - beta1),
          beta2: Math.fround(beta2),
          oneMinusBeta2: Math.fround(1 - beta2),
          epsilon: Math.fround(epsilon),
          negLearningRate: Math.fround(-learningRate),
        },
      );
    }
    counted(FUSED_ADAM_KERNEL);
    return outputs;
  };
}

let registered = false;

/** Registers the native kernels over the wasm ones (call after registerWasmTrainingKernels); once. */
export function registerNativeKernels(addon: NativeAddon): void {
  if (registered) return;
  registered = true;
  replaceKernel('Conv2D', makeConvForward(addon, false));
  replaceKernel('FusedConv2D', makeConvForward(addon, true));
  replaceKernel('Conv2DBackpropInput', makeConvBackpropInput(addon));
  replaceKernel('Conv2DBackpropFilter', makeConvBackpropFilter(addon));
  replaceKernel('BatchMatMul', makeMatMul(addon, false));
  replaceKernel('_FusedMatMul', makeMatMul(addon, true));
  replaceKernel('MaxPool', makeMaxPool(addon));
  replaceKernel('MaxPoolGrad', makeMaxPoolGrad(addon));
  replaceKernel('Multiply', makeBinary(addon, 'Multiply'));
  replaceKernel('Add', makeBinary(addon, 'Add'));
  replaceKernel('Relu', makeUnary(addon, 'Relu'));
  replaceKernel('Step', makeUnary(addon, 'Step'));
  replaceKernel('Sum', makeSum(addon));
  for (const name of Object.keys(PAIRED_OPS) as (keyof typeof PAIRED_OPS)[]) replaceKernel(name, makePaired(addon, name));
  replaceKernel('Select', makeSelect(addon));
  replaceKernel('Cast', makeCast());
  tf.registerKernel({ kernelName: FUSED_ADAM_KERNEL, backendName: 'wasm', kernelFunc: makeAdam(addon) });
  tf.registerKernel({ kernelName: CONV_RELU_KERNEL, backendName: 'wasm', kernelFunc: makeConvRelu(addon) });
  tf.registerKernel({ kernelName: RELU_BIAS_GRAD_KERNEL, backendName: 'wasm', kernelFunc: makeReluBiasGrad(addon) });
  tf.registerKernel({ kernelName: CONV_RELU_POOL_KERNEL, backendName: 'wasm', kernelFunc: makeConvReluPool(addon) });
  tf.registerKernel({ kernelName: CONV_RELU_POOL_GRAD_KERNEL, backendName: 'wasm', kernelFunc: makeConvReluPoolGrad(addon) });
}
