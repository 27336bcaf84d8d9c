/**
 * Picks the tensor backend at start-up: tfjs-node-gpu, then tfjs-node, then wasm, then cpu.
 * The native packages are optional peers: they are imported only if installed, never required.
 */
import * as tf from '@tensorflow/tfjs';
import { usageError } from '../errors.ts';
import { installedVersion } from '../versions.ts';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendInfo {
  /** tfjs backend name actually active: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  /** npm package that provides it. */
  package: string;
  version: string;
  threads: number;
  /** Whether ensdef's wasm training kernels are registered. */
  trainingKernels: boolean;
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

let active: BackendInfo | undefined;

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
  if (!info && (choice === 'auto' || choice === 'wasm') && (await useWasm())) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const pkg = '@tensorflow/tfjs-backend-wasm';
    info = { name: 'wasm', package: pkg, version: installedVersion(pkg), threads: wasm.getThreadsCount(), trainingKernels: true };
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
