/**
 * Runs one computation on the wasm backend (with ensdef's training kernels) and on tfjs' pure-JS cpu
 * backend, the reference, and compares the results.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/backend/select.ts';
import { Rng } from '../../src/run/rng.ts';

/** Builds the tensors to compare; runs inside tf.tidy, so it may allocate freely. */
export type Computation = () => tf.Tensor[];

/** The computation's outputs on one tfjs backend ('wasm' carries ensdef's kernels, native ones too once registered). */
export async function valuesOn(backend: 'wasm' | 'cpu', compute: Computation): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  // The cpu backend prints a multi-line "use tfjs-node" hint on first use; it is noise in test output.
  if (backend === 'cpu') (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  const outputs = tf.tidy(compute);
  const values = outputs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(outputs);
  return values;
}

/** The computation's outputs on wasm and on cpu; leaves wasm active. */
export async function onWasmAndCpu(compute: Computation): Promise<{ wasm: Float32Array[]; cpu: Float32Array[] }> {
  await initBackend('wasm');
  try {
    const wasm = await valuesOn('wasm', compute);
    const cpu = await valuesOn('cpu', compute);
    return { wasm, cpu };
  } finally {
    await tf.setBackend('wasm');
  }
}

/** max |actual − expected| / max |expected|. */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

/** Asserts the wasm result matches the cpu one; a reference of all zeros proves nothing, so it fails. */
export function assertMatchesCpu(wasm: Float32Array, cpu: Float32Array, tolerance: number, what: string): void {
  assert.equal(wasm.length, cpu.length, `${what}: wasm gave ${wasm.length} values, cpu ${cpu.length}`);
  assert.ok(
    cpu.some((v) => v !== 0),
    `${what}: the cpu reference is all zeros`,
  );
  const error = relativeError(wasm, cpu);
  assert.ok(error <= tolerance, `${what}: relative error ${error.toExponential(2)} > ${tolerance}`);
}

/** n values uniform in [lo, hi) from a seeded stream, so every backend sees the same inputs. */
export function uniformValues(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.next();
  return out;
}
