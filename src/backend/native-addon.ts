/**
 * Loads ensdef's optional native addon (native/ensdef_dnnl.cc: oneDNN convolutions and matmuls, C++ max
 * pooling). It is built at install time only where oneDNN is present (native/build.mjs), so its absence is
 * a normal state: loadNativeAddon says why it could not load instead of throwing.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Byte offsets into `heap` (the wasm heap's ArrayBuffer) name the tensors; −1 marks an absent one. */
export interface NativeAddon {
  convForward(heap: ArrayBuffer, x: number, w: number, bias: number, y: number, relu: number, ...shape: ConvShapeArgs): void;
  convBackwardData(heap: ArrayBuffer, dy: number, w: number, dx: number, ...shape: ConvShapeArgs): void;
  convBackwardWeights(heap: ArrayBuffer, x: number, dy: number, dw: number, ...shape: ConvShapeArgs): void;
  matMul(heap: ArrayBuffer, a: number, b: number, c: number, bias: number, relu: number, batch: number, m: number, n: number, k: number, transA: number, transB: number, aStride: number, bStride: number): void;
  elementwise(heap: ArrayBuffer, op: number, a: number, b: number, out: number, rows: number, cols: number, alpha: number): void;
  maxPool(heap: ArrayBuffer, x: number, y: number, ...shape: PoolShapeArgs): void;
  maxPoolGrad(heap: ArrayBuffer, x: number, dy: number, dx: number, ...shape: PoolShapeArgs): void;
  setThreads(n: number): number;
  getThreads(): number;
  setBlockedWeights(on: number): void;
  cacheStats(): { primitives: number; bytes: number };
  clearCache(): void;
  convImplementation(kind: 'forward' | 'backwardData' | 'backwardWeights', ...shape: ConvShapeArgs): string;
  version(): string;
}

/** n, h, w, c, kh, kw, outChannels, oh, ow, strideH, strideW, padTop, padLeft, padBottom, padRight. */
export type ConvShapeArgs = [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number];
/** n, h, w, c, kh, kw, oh, ow, strideH, strideW, padTop, padLeft. */
export type PoolShapeArgs = [number, number, number, number, number, number, number, number, number, number, number, number];

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
      loaded = { addon: createRequire(import.meta.url)(path) as NativeAddon };
    } catch (error) {
      // A built addon that cannot load (e.g. libdnnl removed since): say so in one line.
      const first = (error instanceof Error ? error.message : String(error)).split('\n')[0];
      loaded = { reason: `the native addon does not load (${first})` };
    }
  }
  return loaded;
}
