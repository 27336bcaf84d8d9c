/**
 * Loads ensdef's optional native addon (native/ensdef_dnnl.cc: oneDNN convolutions and matmuls, C++ max
 * pooling). It is built at install time only where oneDNN is present (native/build.mjs), so its absence is
 * a normal state: loadNativeAddon says why it could not load instead of throwing.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The addon's interface (native/src/call.h): a kernel takes the wasm heap's ArrayBuffer, an object of named
 * tensors (byte offsets into the heap; an absent name is an absent tensor), and its shape and options as
 * named fields, the same names the C++ reads.
 */
export interface NativeAddon {
  convForward(heap: ArrayBuffer, tensors: { x: number; filter: number; bias?: number; y: number }, shape: ConvShape, options: { relu: boolean }): void;
  convBackwardData(heap: ArrayBuffer, tensors: { dy: number; filter: number; dx: number }, shape: ConvShape): void;
  /** dw summed over `parts` fixed runs of the batch (convBackwardWeightsParts), in order: the same bits on any thread count. */
  convBackwardWeights(heap: ArrayBuffer, tensors: { x: number; dy: number; dw: number }, shape: ConvShape, options: { parts: number }): void;
  matMul(heap: ArrayBuffer, tensors: { a: number; b: number; c: number; bias?: number }, shape: MatMulShape, options: { relu: boolean }): void;
  /** out = op(a, b?); `condition` is select's (native/src/elementwise.cc says how each op reads a, b and the shape). */
  elementwise(heap: ArrayBuffer, op: ElementwiseOp, tensors: { a: number; b?: number; condition?: number; out: number }, shape: { rows: number; cols: number }, options: { alpha: number }): void;
  /** The op names this build knows (native/src/ops.h). */
  elementwiseOps(): string[];
  maxPool(heap: ArrayBuffer, tensors: { x: number; y: number }, shape: PoolShape): void;
  /** y = MaxPool(x), the forward output; windows must not overlap. */
  maxPoolGrad(heap: ArrayBuffer, tensors: { x: number; y: number; dy: number; dx: number }, shape: PoolShape): void;
  /** da = dy·step(z), db = Σ_r da[r, ·], summed per chunk of rows, then over chunks in order. */
  reluBiasGrad(heap: ArrayBuffer, tensors: { dy: number; z: number; da: number; db: number }, shape: { rows: number; cols: number; rowsPerChunk: number }): void;
  /**
   * maxPool(relu(conv2d(x, filter) + bias)) for a one-channel image, 3×3 'valid' filters, 2×2 pooling; `positions`
   * gets which of each window's four positions held the maximum, one byte per pooled value (an int32 tensor of a quarter of y's size).
   */
  convReluPool(heap: ArrayBuffer, tensors: { x: number; filter: number; bias: number; y: number; positions: number }, shape: ConvPoolShape): void;
  /** Its filter gradient (from x, dfilter given) or input gradient (from the filter, dx given) from dy, the pooled output's gradient. */
  convReluPoolGrad(heap: ArrayBuffer, tensors: { y: number; positions: number; dy: number } & ({ x: number; dfilter: number } | { filter: number; dx: number }), shape: ConvPoolShape): void;
  adam(heap: ArrayBuffer, tensors: AdamTensors, shape: { count: number }, options: AdamConstants): void;
  setThreads(n: number): number;
  getThreads(): number;
  setBlockedWeights(on: boolean): void;
  cacheStats(): { primitives: number; bytes: number };
  clearCache(): void;
  convImplementation(kind: 'forward' | 'backwardData' | 'backwardWeights', shape: ConvShape): string;
  version(): string;
}

/** A 2-D convolution over NHWC activations with HWIO filters; pads as oneDNN wants them (far sides exact). */
export interface ConvShape {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  filterHeight: number;
  filterWidth: number;
  outChannels: number;
  outHeight: number;
  outWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
  padBottom: number;
  padRight: number;
}

/** Row-major C[i] = op(A[i])·op(B[i]); a batch stride of 0 broadcasts one matrix over the batch. */
export interface MatMulShape {
  batch: number;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
  aBatchStride: number;
  bBatchStride: number;
}

export interface PoolShape {
  batch: number;
  inHeight: number;
  inWidth: number;
  channels: number;
  windowHeight: number;
  windowWidth: number;
  outHeight: number;
  outWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

export interface ConvPoolShape {
  batch: number;
  inHeight: number;
  inWidth: number;
  outChannels: number;
}

/** The names of native/src/ops.h; checkOps() proves a loaded build knows each of them. */
export const ELEMENTWISE_OPS = ['multiply', 'add', 'addRow', 'relu', 'step', 'sumRows', 'maximum', 'minimum', 'equal', 'greater', 'less', 'select'] as const;
export type ElementwiseOp = (typeof ELEMENTWISE_OPS)[number];

export interface AdamTensors {
  param: number;
  grad: number;
  m: number;
  v: number;
  /** The optimizer's float32 accumulators β1ᵗ, β2ᵗ (scalars). */
  accBeta1: number;
  accBeta2: number;
  newParam: number;
  newM: number;
  newV: number;
}

/** tfjs's Adam scalars, each already rounded to float32 as tfjs rounds them. */
export interface AdamConstants {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  epsilon: number;
  negLearningRate: number;
}

/** How to get the addon, for the start-up hint and the --backend native error. */
// `npm rebuild` rebuilds dependencies only, never the project's own install step: hence build:native.
export const NATIVE_BUILD_HINT = "apt-get install libdnnl-dev g++ make (Debian/Ubuntu; elsewhere oneDNN 2.x), then 'npm run build:native' or 'npm ci'";

export const DEFAULT_ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/ensdef_dnnl.node', import.meta.url));

/** ENSDEF_NATIVE_ADDON overrides where the addon is looked for (tests point it at a missing file). */
export function addonPath(): string {
  return process.env.ENSDEF_NATIVE_ADDON || DEFAULT_ADDON_PATH;
}

let loaded: { addon?: NativeAddon; reason?: string } | undefined;

export function loadNativeAddon(): { addon?: NativeAddon; reason?: string } {
  if (loaded) return loaded;
  const path = addonPath();
  if (!existsSync(path)) {
    loaded = { reason: 'the native addon is not built' };
  } else {
    // libgomp reads its wait policy once, when the addon loads it. Its default spins while waiting for
    // the other threads, and on a shared machine a spinning thread whose partner lost its core wastes the
    // whole slice: a 2-thread BIM ran 12x slower spinning than sleeping (docs/PERFORMANCE.md).
    process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
    try {
      const addon = createRequire(import.meta.url)(path) as NativeAddon;
      const missing = typeof addon.elementwiseOps === 'function' ? ELEMENTWISE_OPS.filter((op) => !addon.elementwiseOps().includes(op)) : ['all'];
      loaded = missing.length === 0 ? { addon } : { reason: `the native addon was built from other sources (elementwise ops missing: ${missing.join(', ')}); run 'npm run build:native'` };
    } catch (error) {
      // A built addon that cannot load (e.g. libdnnl removed since): say so in one line.
      const first = (error instanceof Error ? error.message : String(error)).split('\n')[0];
      loaded = { reason: `the native addon does not load (${first})` };
    }
  }
  return loaded;
}
