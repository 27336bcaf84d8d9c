/**
 * Training on the native path over many steps: no tensor and no native memory may accumulate, and the
 * same seed must give bit-identical weights, whatever the thread count. Skipped where the addon is not built.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { adam, FusedAdam } from '../../src/backend/fused-adam.ts';
import { convBackwardWeightsParts, nativeKernelCalls } from '../../src/backend/native-kernels.ts';
import { loadNativeAddon, NATIVE_BUILD_HINT } from '../../src/backend/native-addon.ts';
import { initBackend } from '../../src/backend/select.ts';
import { buildModel } from '../../src/datasets/registry.ts';
import { Rng } from '../../src/run/rng.ts';
import { trainStep } from '../../src/models/train-member.ts';
import { uniformValues } from '../helpers/backends.ts';

const { addon, reason } = loadNativeAddon();
const skip = addon ? false : `${reason}: ${NATIVE_BUILD_HINT}`;

before(async () => {
  if (addon) assert.equal((await initBackend('native')).name, 'native');
});

function batch(dataset: 'mnist' | 'cifar10', n: number, seed: number) {
  const shape: [number, number, number, number] = dataset === 'mnist' ? [n, 28, 28, 1] : [n, 32, 32, 3];
  const rng = new Rng(seed);
  const x = tf.tensor4d(uniformValues(rng, n * shape[1] * shape[2] * shape[3], 0, 1), shape);
  const labels = Int32Array.from({ length: n }, () => rng.int(10));
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat() as tf.Tensor2D);
  return { x, y };
}

/** Trains `steps` steps on one batch of `size` from a seeded model and returns every weight's values. */
function trainedWeights(model: string, steps: number, size = 16): Float32Array[] {
  const net = buildModel(model, 21);
  const optimizer = adam(1e-3);
  const { x, y } = batch(model.startsWith('mnist') ? 'mnist' : 'cifar10', size, 4);
  for (let i = 0; i < steps; i++) trainStep(net, optimizer, x, y);
  const weights = net.getWeights().map((w) => Float32Array.from(w.dataSync()));
  tf.dispose([x, y]);
  optimizer.dispose();
  net.dispose();
  return weights;
}

describe('training on the native path', { skip }, () => {
  for (const model of ['mnist-base', 'cifar10-base']) {
    test(`${model}: no tensor, heap or native cache growth over 30 steps, and the loss falls`, () => {
      const net = buildModel(model, 1);
      const optimizer = adam(1e-3);
      const { x, y } = batch(model.startsWith('mnist') ? 'mnist' : 'cifar10', 32, 2);
      const first = trainStep(net, optimizer, x, y);
      trainStep(net, optimizer, x, y);
      const tensors = tf.memory().numTensors;
      const bytes = tf.memory().numBytes;
      const cache = addon!.cacheStats();
      const callsBefore = Object.values(nativeKernelCalls()).reduce((a, b) => a + b, 0);
      let loss = first;
      for (let i = 0; i < 30; i++) loss = trainStep(net, optimizer, x, y);
      assert.equal(tf.memory().numTensors, tensors, 'tensors created per step were not disposed');
      assert.equal(tf.memory().numBytes, bytes, 'tensor bytes grew');
      // The primitive cache holds one entry per layer shape: it fills on the first steps and then stays.
      assert.deepEqual(addon!.cacheStats(), cache, 'the native primitive cache grew after warm-up');
      assert.ok(Object.values(nativeKernelCalls()).reduce((a, b) => a + b, 0) > callsBefore, 'no native kernel ran');
      assert.ok(Number.isFinite(first) && loss < first, `loss ${first} → ${loss} on a repeated batch`);
      tf.dispose([x, y]);
      optimizer.dispose();
      net.dispose();
    });
  }

  // mnist-deep's second convolution runs on oneDNN (mnist-base's only one is the fused one-channel kernel).
  test('clearCache frees every cached primitive and the kernels rebuild them on demand', () => {
    trainedWeights('mnist-deep', 1);
    assert.ok(addon!.cacheStats().primitives > 0);
    addon!.clearCache();
    assert.deepEqual(addon!.cacheStats(), { primitives: 0, bytes: 0 });
    trainedWeights('mnist-deep', 1);
    assert.ok(addon!.cacheStats().primitives > 0);
  });

  // A member trains on 1 thread in a worker and on every core in-process (train --workers 1, a Slurm task):
  // its weights must not depend on which. Each count builds its own primitives (the cache is cleared), as
  // a fresh process would. Batches of 128 (the paper's) and an odd 75 split the convolutions' weights
  // gradients into two parts, which 2 threads sum at once; mnist-deep's second convolution is MNIST's only
  // one on oneDNN (mnist-base's is the fused one-channel kernel).
  test('the same seed gives bit-identical weights on 1 and on 2 threads, MNIST and CIFAR-10, batches 128 and 75', () => {
    const previous = addon!.getThreads();
    const trainedOn = (threads: number, model: string, size: number) => {
      addon!.setThreads(threads);
      addon!.clearCache();
      return trainedWeights(model, 3, size);
    };
    try {
      for (const size of [128, 75]) {
        assert.equal(convBackwardWeightsParts(size), 2, `batch ${size} no longer splits: this test would not exercise the parts`);
        for (const model of ['mnist-base', 'mnist-deep', 'cifar10-base']) {
          const one = trainedOn(1, model, size);
          const two = trainedOn(2, model, size);
          one.forEach((w, i) => assert.ok(Buffer.from(w.buffer).equals(Buffer.from(two[i].buffer)), `${model}, batch ${size}: weight ${i} differs between 1 and 2 threads`));
        }
      }
    } finally {
      addon!.setThreads(previous);
      addon!.clearCache();
    }
  });

  for (const threads of [1, 2]) {
    test(`same seed → bit-identical weights after 5 steps, ${threads} thread(s), MNIST and CIFAR-10`, () => {
      const previous = addon!.getThreads();
      addon!.setThreads(threads);
      try {
        for (const model of ['mnist-base', 'cifar10-base']) {
          const a = trainedWeights(model, 5);
          const b = trainedWeights(model, 5);
          assert.equal(a.length, b.length);
          a.forEach((w, i) => assert.ok(Buffer.from(w.buffer).equals(Buffer.from(b[i].buffer)), `${model} weight ${i} differs between two identical runs`));
        }
      } finally {
        addon!.setThreads(previous);
      }
    });
  }
});

describe('the fused Adam kernel', { skip }, () => {
  /** Parameters and gradients with signs, zeros and a wide range of magnitudes, the same on every backend. */
  function problem(seed: number) {
    const rng = new Rng(seed);
    const shapes = [[3, 3, 1, 8], [8], [40, 7], [7], [0, 3]];
    const values = (n: number, scale: number) => Float32Array.from(uniformValues(rng, n, -scale, scale), (v, i) => (i % 17 === 0 ? 0 : v));
    const params = shapes.map((s) => values(s.reduce((a, b) => a * b, 1), 1));
    const gradients = Array.from({ length: 6 }, (_, step) => shapes.map((s) => values(s.reduce((a, b) => a * b, 1), 10 ** (step - 4))));
    return { shapes, params, gradients };
  }

  /** Runs the optimizer over the fixed gradients on the current backend; returns parameters and moments. */
  function run(optimizer: tf.AdamOptimizer, { shapes, params, gradients }: ReturnType<typeof problem>): Float32Array[] {
    const variables = params.map((p, i) => tf.variable(tf.tensor(p, shapes[i]), true, `fused-adam-${tf.getBackend()}-${i}-${Math.random()}`));
    for (const step of gradients) {
      const g = step.map((values, i) => ({ name: variables[i].name, tensor: tf.tensor(values, shapes[i]) }));
      // The last variable gets no gradient in odd steps: its slots exist, its values stay.
      optimizer.applyGradients(g.filter((_, i) => i < g.length - 1 || step === gradients[0]));
      tf.dispose(g.map((x) => x.tensor));
    }
    const state = optimizer as unknown as { accumulatedFirstMoment: { variable: tf.Variable }[]; accumulatedSecondMoment: { variable: tf.Variable }[] };
    const out = [...variables, ...state.accumulatedFirstMoment.map((s) => s.variable), ...state.accumulatedSecondMoment.map((s) => s.variable)].map((t) => Float32Array.from(t.dataSync()));
    tf.dispose(variables);
    optimizer.dispose();
    return out;
  }

  test('its parameters and moments equal tf.train.adam on the cpu backend bit for bit over six steps', async () => {
    const data = problem(3);
    const before = nativeKernelCalls().EnsdefAdam ?? 0;
    const fused = run(adam(1e-3), data);
    assert.ok((nativeKernelCalls().EnsdefAdam ?? 0) > before, 'the fused kernel did not run');
    await tf.setBackend('cpu');
    try {
      const reference = run(tf.train.adam(1e-3), data);
      assert.equal(fused.length, reference.length);
      fused.forEach((values, i) => assert.deepEqual(new Uint32Array(values.buffer), new Uint32Array(reference[i].buffer), `tensor ${i} differs from cpu`));
      assert.ok(fused[0].some((v, i) => v !== data.params[0][i]), 'the parameters did not move');
    } finally {
      await tf.setBackend('wasm');
    }
  });

  test('leaks no tensor per step', () => {
    const optimizer = new FusedAdam(1e-3, 0.9, 0.999);
    const w = tf.variable(tf.ones([64, 10]));
    const g = tf.fill([64, 10], 0.5);
    optimizer.applyGradients([{ name: w.name, tensor: g }]);
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) optimizer.applyGradients([{ name: w.name, tensor: g }]);
    assert.equal(tf.memory().numTensors, tensors);
    tf.dispose([w, g]);
    optimizer.dispose();
  });
});
