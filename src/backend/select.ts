/**
 * Picks the tensor backend at start-up: tfjs-node-gpu, then tfjs-node, then ensdef's native oneDNN
 * kernels on wasm, then plain wasm, then cpu. The tfjs-node packages are optional peers and the native
 * addon an optional build: each is loaded only if present, never required.
 */
import * as tf from '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';
import { usageError } from '../errors.ts';
import { installedVersion } from '../versions.ts';
import { loadNativeAddon, NATIVE_BUILD_HINT, type NativeAddon } from './native-addon.ts';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendInfo {
  /**
   * What runs the tensors: 'tensorflow' | 'native' | 'wasm' | 'cpu'. 'native' is the tfjs wasm backend
   * with its heavy kernels replaced by ensdef's oneDNN addon; it is also what worker processes are given.
   */
  name: string;
  /** npm package that provides it. */
  package: string;
  version: string;
  threads: number;
  /** Whether ensdef's wasm training kernels are registered. */
  trainingKernels: boolean;
  /** A line for the user at start-up, e.g. how to get a faster backend than the one that started. */
  hint?: string;
}


async function tryNative(): Promise<string | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) return pkg;
    } catch {
      // not installed or libtensorflow missing: try the next one
    }
  }
  return undefined;
}

async function useWasm(): Promise<boolean> {
  const { registerWasmTrainingKernels } = await import('./wasm-kernels.ts');
  await import('@tensorflow/tfjs-backend-wasm');
  registerWasmTrainingKernels();
  return tf.setBackend('wasm');
}

/** The internal commands that run as one of several worker processes: training's, and reproduce's speed check of them. */
const WORKER_COMMANDS = ['train-member', 'speed-probe'];

/**
 * oneDNN threads (OpenMP) per process: ENSDEF_THREADS if set; 1 in a worker process (WORKER_COMMANDS), since `train`
 * starts one worker per core; otherwise every core. Measured on 2 shared cores (docs/PERFORMANCE.md):
 * two 1-thread workers trained faster than one 2-thread process, and a single process (an attack) ran
 * faster on 2 threads than on 1 once OpenMP sleeps instead of spinning (native-addon.ts).
 */
export function defaultNativeThreads(): number {
  const given = Number(process.env.ENSDEF_THREADS);
  if (Number.isInteger(given) && given >= 1) return given;
  return WORKER_COMMANDS.includes(process.argv[2]) ? 1 : availableParallelism();
}

async function useNative(addon: NativeAddon): Promise<boolean> {
  const { registerNativeKernels } = await import('./native-kernels.ts');
  const { registerWasmTrainingKernels } = await import('./wasm-kernels.ts');
  await import('@tensorflow/tfjs-backend-wasm');
  registerWasmTrainingKernels();
  registerNativeKernels(addon);
  addon.setThreads(defaultNativeThreads());
  return tf.setBackend('wasm');
}

let active: BackendInfo | undefined;

/** The backend initBackend started in this process (undefined before it ran). */
export function activeBackend(): BackendInfo | undefined {
  return active;
}

/** Initialises the requested backend (or the best available for 'auto'); idempotent. */
export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (active) return active;
  // tfjs-backend-webgl ships inside @tensorflow/tfjs and cannot run under Node; keep it out of 'auto'.
  if (tf.findBackend('webgl')) tf.removeBackend('webgl');
  let info: BackendInfo | undefined;
  if (choice === 'auto' || choice === 'tensorflow') {
    const pkg = await tryNative();
    if (pkg) info = { name: 'tensorflow', package: pkg, version: installedVersion(pkg), threads: 0, trainingKernels: false };
    else if (choice === 'tensorflow') {
      throw usageError(
        "--backend tensorflow: neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed; run 'npm install @tensorflow/tfjs-node' (or -node-gpu with CUDA)",
      );
    }
  }
  let hint: string | undefined;
  if (!info && (choice === 'auto' || choice === 'native')) {
    const { addon, reason } = loadNativeAddon();
    if (addon && (await useNative(addon))) {
      info = { name: 'native', package: 'ensdef native addon (oneDNN)', version: addon.version(), threads: addon.getThreads(), trainingKernels: true };
    } else if (choice === 'native') {
      throw usageError(`--backend native: ${reason ?? 'the native addon failed to start'}; to build it: ${NATIVE_BUILD_HINT}`);
    } else {
      hint = `faster CPU kernels: ${reason}; ${NATIVE_BUILD_HINT}`;
    }
  }
  if (!info && (choice === 'auto' || choice === 'wasm') && (await useWasm())) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const pkg = '@tensorflow/tfjs-backend-wasm';
    info = { name: 'wasm', package: pkg, version: installedVersion(pkg), threads: wasm.getThreadsCount(), trainingKernels: true, ...(hint ? { hint } : {}) };
  }
  if (!info) {
    await tf.setBackend('cpu');
    // The cpu backend greets Node users with a multi-line hint on first use; ensdef already said which backend runs.
    (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
    info = { name: 'cpu', package: '@tensorflow/tfjs-backend-cpu', version: installedVersion('@tensorflow/tfjs-backend-cpu'), threads: 1, trainingKernels: false };
  }
  await tf.ready();
  active = info;
  return info;
}

export function parseBackend(value: string): BackendChoice {
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw usageError(`--backend: unknown backend '${value}' (allowed: ${BACKEND_CHOICES.join(', ')})`);
}
