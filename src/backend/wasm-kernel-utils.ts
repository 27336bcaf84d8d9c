/** Helpers for kernels that ensdef registers on the wasm backend: run other wasm kernels from inside one. */
import * as tf from '@tensorflow/tfjs';

export type Backend = tf.KernelBackend;
export type TensorInfo = tf.TensorInfo;
export type KernelArgs = Parameters<tf.KernelFunc>[0];

export const WASM = 'wasm';

function wasmKernel(name: string): tf.KernelFunc {
  const config = tf.getKernel(name, WASM);
  if (!config) throw new Error(`wasm backend has no '${name}' kernel`);
  return config.kernelFunc;
}

/** Runs a wasm kernel and returns its single output. */
export function run(name: string, backend: Backend, inputs: Record<string, TensorInfo>, attrs: object = {}): TensorInfo {
  const out = wasmKernel(name)({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  return Array.isArray(out) ? out[0] : out;
}

export function release(backend: Backend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

export function transpose(backend: Backend, x: TensorInfo, perm: number[]): TensorInfo {
  return run('Transpose', backend, { x }, { perm });
}

/** Replaces a registered wasm kernel by `make(previous)`; the previous one stays callable as the fallback. */
export function replaceKernel(kernelName: string, make: (previous: tf.KernelFunc) => tf.KernelFunc): void {
  const previous = tf.getKernel(kernelName, WASM);
  if (!previous) throw new Error(`wasm backend has no '${kernelName}' kernel`);
  tf.unregisterKernel(kernelName, WASM);
  // setupFunc binds the kernel's wasm export; it runs once when the backend initialises.
  tf.registerKernel({ ...previous, kernelFunc: make(previous.kernelFunc) });
}

/** The same data seen with another shape (what wasm's Reshape does), for passing to a kernel. */
function view(x: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: x.dataId, shape, dtype: x.dtype };
}

function largestDivisorAtMost(n: number, limit: number): number {
  for (let d = Math.min(n, limit); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/** Block sizes (rows of a tall matrix, columns of a wide one) that measured fastest on wasm. */
const TALL_BLOCK = 64;
const WIDE_BLOCK = 32;

/**
 * [rows, cols] → [cols, rows]. wasm's Transpose walks a tall or wide matrix with a large stride and
 * misses the cache on every read (measured: 12.7 ms for [128, 32768], 23 ms for [131072, 32]); as two
 * passes that transpose or move small blocks, it stays in cache (5.5 and 3.4 ms).
 */
export function transposeMatrix(backend: Backend, m: TensorInfo, rows: number, cols: number): TensorInfo {
  const tall = rows >= cols;
  const block = largestDivisorAtMost(tall ? rows : cols, tall ? TALL_BLOCK : WIDE_BLOCK);
  let out: TensorInfo;
  if (block === 1 || Math.min(rows, cols) === 1) {
    out = transpose(backend, view(m, [rows, cols]), [1, 0]);
  } else if (tall) {
    // [R1, b, C] → [R1, C, b] → [C, R1, b]
    const blocks = transpose(backend, view(m, [rows / block, block, cols]), [0, 2, 1]);
    out = transpose(backend, blocks, [1, 0, 2]);
    release(backend, blocks);
  } else {
    // [R, C1, b] → [C1, R, b] → [C1, b, R]
    const blocks = transpose(backend, view(m, [rows, cols / block, block]), [1, 0, 2]);
    out = transpose(backend, blocks, [0, 2, 1]);
    release(backend, blocks);
  }
  return view(out, [cols, rows]);
}
