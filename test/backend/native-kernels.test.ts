/**
 * Every kernel the native path (src/backend/native-kernels.ts, oneDNN) registers must compute what tfjs'
 * reference cpu backend computes, on the shapes of both paper networks and their mixed-model variants,
 * with padding 'same' / 'valid' / explicit, strides, and (max pooling) ties. Each case also checks that the
 * native kernel itself ran, not a fallback, so a registration mistake cannot pass unnoticed.
 * Skipped, with the reason, where the addon is not built.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { convRelu, convReluPool } from '../../src/backend/conv-relu.ts';
import { loadNativeAddon, NATIVE_BUILD_HINT } from '../../src/backend/native-addon.ts';
import { convBackwardWeightsParts, nativeKernelCalls } from '../../src/backend/native-kernels.ts';
import { initBackend } from '../../src/backend/select.ts';
import { buildModel, MODELS } from '../../src/datasets/registry.ts';
import { Rng } from '../../src/run/rng.ts';
import { crossEntropyFromLogits } from '../../src/models/loss.ts';
import { assertMatchesCpu, uniformValues, valuesOn } from '../helpers/backends.ts';

const { addon, reason } = loadNativeAddon();
const skip = addon ? false : `${reason}: ${NATIVE_BUILD_HINT}`;
const TOLERANCE = 1e-4;
// What the native conv-pool kernels need for their 16-lane version (native/src/conv-pool.cc).
const cpuFlags = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
const avx512 = ['avx512f', 'avx512dq', 'avx512bw', 'avx512vl'].every((flag) => new RegExp(`\\b${flag}\\b`).test(cpuFlags));

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

/** The computation's outputs with the native kernels (tfjs 'wasm' + addon) and on cpu; leaves wasm active. */
async function onNativeAndCpu(compute: () => tf.Tensor[]): Promise<{ native: Float32Array[]; cpu: Float32Array[] }> {
  try {
    return { native: await valuesOn('wasm', compute), cpu: await valuesOn('cpu', compute) };
  } finally {
    await tf.setBackend('wasm');
  }
}

/** Runs `body` and asserts it made each named native kernel run at least once. */
async function expectNative<T>(kernels: string[], body: () => Promise<T>): Promise<T> {
  const before = nativeKernelCalls();
  const result = await body();
  const after = nativeKernelCalls();
  for (const k of kernels) assert.ok((after[k] ?? 0) > (before[k] ?? 0), `native ${k} did not run (fell back to wasm)`);
  return result;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

interface ConvCase {
  name: string;
  x: Shape4;
  filter: Shape4;
  strides: number | [number, number];
  pad: Pad;
}

const CONV_CASES: ConvCase[] = [
  { name: 'valid, stride 1', x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { name: 'same, stride 1', x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: 'same, non-square filter, odd sizes', x: [2, 7, 9, 2], filter: [3, 2, 2, 5], strides: 1, pad: 'same' },
  { name: 'valid, stride 2, last row and column unused', x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'valid' },
  { name: 'same, stride 2, asymmetric padding', x: [1, 9, 10, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'same' },
  { name: 'valid, strides [2, 1]', x: [2, 8, 7, 2], filter: [2, 2, 2, 3], strides: [2, 1], pad: 'valid' },
  { name: 'explicit padding, stride 2', x: [2, 7, 8, 3], filter: [3, 2, 3, 4], strides: 2, pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  { name: 'same, stride 2, 16 channels', x: [2, 9, 10, 16], filter: [3, 3, 16, 24], strides: 2, pad: 'same' },
  { name: 'one input channel, same, stride 3, a window wider than the image', x: [2, 2, 4, 1], filter: [3, 5, 1, 6], strides: 3, pad: 'same' },
  { name: 'one input channel, same, stride 2, asymmetric padding', x: [2, 9, 10, 1], filter: [3, 3, 1, 5], strides: 2, pad: 'same' },
  { name: 'one input channel, explicit padding, strides [1, 2]', x: [2, 7, 8, 1], filter: [2, 3, 1, 4], strides: [1, 2], pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  // The paper networks' layers and the mixed-model variants' (src/models/registry.ts), batch 4.
  { name: 'MNIST conv (base, deep first)', x: [4, 28, 28, 1], filter: [3, 3, 1, 32], strides: 1, pad: 'valid' },
  { name: 'MNIST wide conv', x: [4, 28, 28, 1], filter: [3, 3, 1, 64], strides: 1, pad: 'valid' },
  { name: 'MNIST deep second conv', x: [4, 26, 26, 32], filter: [3, 3, 32, 32], strides: 1, pad: 'valid' },
  { name: 'CIFAR-10 block 1 conv 1', x: [4, 32, 32, 3], filter: [3, 3, 3, 32], strides: 1, pad: 'same' },
  { name: 'CIFAR-10 block 1 conv 2', x: [4, 32, 32, 32], filter: [3, 3, 32, 32], strides: 1, pad: 'valid' },
  { name: 'CIFAR-10 wide block 1 conv 2', x: [2, 32, 32, 64], filter: [3, 3, 64, 64], strides: 1, pad: 'valid' },
  { name: 'CIFAR-10 block 2 conv 1', x: [4, 15, 15, 32], filter: [3, 3, 32, 64], strides: 1, pad: 'same' },
  { name: 'CIFAR-10 block 2 conv 2', x: [4, 15, 15, 64], filter: [3, 3, 64, 64], strides: 1, pad: 'valid' },
  { name: 'CIFAR-10 block 3 conv 1', x: [4, 6, 6, 64], filter: [3, 3, 64, 128], strides: 1, pad: 'same' },
  { name: 'CIFAR-10 deep block 3 extra conv', x: [4, 6, 6, 128], filter: [3, 3, 128, 128], strides: 1, pad: 'same' },
  { name: 'CIFAR-10 block 3 conv 2', x: [4, 6, 6, 128], filter: [3, 3, 128, 128], strides: 1, pad: 'valid' },
];

before(async () => {
  if (addon) assert.equal((await initBackend('native')).name, 'native');
});

describe('native convolutions match cpu', { skip }, () => {
  CONV_CASES.forEach((c, caseIndex) => {
    test(`${c.name}: x ${c.x.join('x')}, filter ${c.filter.join('x')}, stride ${c.strides}`, async () => {
      const outShape = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad).outShape;
      const rng = new Rng(2000 + caseIndex);
      const xValues = uniformValues(rng, size(c.x));
      const wValues = uniformValues(rng, size(c.filter));
      const bValues = uniformValues(rng, c.filter[3]);
      const dyValues = uniformValues(rng, size(outShape));
      const { native, cpu } = await expectNative(['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'], () =>
        onNativeAndCpu(() => {
          const x = tf.tensor4d(xValues, c.x);
          const w = tf.tensor4d(wValues, c.filter);
          const plain = tf.conv2d(x, w, c.strides, c.pad);
          const fused = tf.fused.conv2d({ x, filter: w, bias: tf.tensor1d(bValues), strides: c.strides, pad: c.pad, activation: 'relu' });
          // sum(conv(x, w) · dy) hands dy to Conv2DBackpropInput (dx) and Conv2DBackpropFilter (dw), as training does.
          const dy = tf.tensor4d(dyValues, outShape);
          const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad).mul(dy).sum())([x, w]);
          return [plain, fused, dx, dw];
        }),
      );
      assertMatchesCpu(native[0], cpu[0], TOLERANCE, 'Conv2D');
      assertMatchesCpu(native[1], cpu[1], TOLERANCE, 'FusedConv2D (bias + relu)');
      assertMatchesCpu(native[2], cpu[2], TOLERANCE, 'dx (Conv2DBackpropInput)');
      assertMatchesCpu(native[3], cpu[3], TOLERANCE, 'dw (Conv2DBackpropFilter)');
    });
  });

  test('dilated convolutions fall back to the wasm kernels and still match cpu', async () => {
    const rng = new Rng(7);
    const xValues = uniformValues(rng, 2 * 9 * 9 * 3);
    const wValues = uniformValues(rng, 3 * 3 * 3 * 4);
    const { native, cpu } = await onNativeAndCpu(() => [tf.conv2d(tf.tensor4d(xValues, [2, 9, 9, 3]), tf.tensor4d(wValues, [3, 3, 3, 4]), 1, 'valid', 'NHWC', 2)]);
    assertMatchesCpu(native[0], cpu[0], TOLERANCE, 'dilated Conv2D');
  });
});

describe('the native weights gradient summed over fixed parts of the batch', { skip }, () => {
  // Batch 1 and 31 run as one part; 32 splits into halves of 16, 33 into 17 + 16 (the rule is the batch size's alone).
  const cases: { batch: number; parts: number }[] = [
    { batch: 1, parts: 1 },
    { batch: 31, parts: 1 },
    { batch: 32, parts: 2 },
    { batch: 33, parts: 2 },
  ];
  for (const { batch, parts } of cases) {
    test(`batch ${batch} (${parts} part${parts > 1 ? 's' : ''}): matches cpu, and is the same bits on 1 and on 2 threads`, async () => {
      assert.equal(convBackwardWeightsParts(batch), parts);
      const x: Shape4 = [batch, 9, 10, 16];
      const filter: Shape4 = [3, 3, 16, 24];
      const outShape = tf.backend_util.computeConv2DInfo(x, filter, 2, 1, 'same').outShape;
      const rng = new Rng(2500 + batch);
      const xValues = uniformValues(rng, size(x));
      const dyValues = uniformValues(rng, size(outShape));
      const attrs = { strides: 2, pad: 'same', dataFormat: 'NHWC', dilations: 1, filterShape: filter };
      const dw = () => [tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor4d(xValues, x), dy: tf.tensor4d(dyValues, outShape) }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor];
      const previous = addon!.getThreads();
      try {
        addon!.setThreads(1);
        const { native, cpu } = await expectNative(['Conv2DBackpropFilter'], () => onNativeAndCpu(dw));
        assertMatchesCpu(native[0], cpu[0], TOLERANCE, 'dw');
        addon!.setThreads(2);
        addon!.clearCache();
        const twoThreads = await valuesOn('wasm', dw);
        assert.deepEqual(new Uint32Array(twoThreads[0].buffer), new Uint32Array(native[0].buffer), 'dw differs between 1 and 2 threads');
      } finally {
        addon!.setThreads(previous);
        addon!.clearCache();
      }
    });
  }
});

interface MatMulCase {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const MATMUL_CASES: MatMulCase[] = [
  { name: 'plain', a: [5, 7], b: [7, 3], transposeA: false, transposeB: false },
  { name: 'transposeA', a: [7, 5], b: [7, 3], transposeA: true, transposeB: false },
  { name: 'transposeB', a: [5, 7], b: [3, 7], transposeA: false, transposeB: true },
  { name: 'both transposed', a: [7, 5], b: [3, 7], transposeA: true, transposeB: true },
  { name: 'batched', a: [3, 4, 6], b: [3, 6, 5], transposeA: false, transposeB: false },
  { name: 'batched, b broadcast', a: [3, 4, 6], b: [1, 6, 5], transposeA: false, transposeB: false },
  { name: 'batched, a broadcast, transposeB', a: [1, 4, 6], b: [3, 5, 6], transposeA: false, transposeB: true },
  { name: 'MNIST dense 1 (5408 → 128)', a: [16, 5408], b: [5408, 128], transposeA: false, transposeB: false },
  { name: 'MNIST dense 1 input gradient (dy · Wᵀ)', a: [16, 128], b: [5408, 128], transposeA: false, transposeB: true },
  { name: 'MNIST dense 1 weight gradient (xᵀ · dy)', a: [16, 5408], b: [16, 128], transposeA: true, transposeB: false },
  { name: 'CIFAR-10 dense 1 (512 → 512)', a: [16, 512], b: [512, 512], transposeA: false, transposeB: false },
  { name: 'dense 2 (→ 10)', a: [16, 128], b: [128, 10], transposeA: false, transposeB: false },
];

describe('native matmuls match cpu', { skip }, () => {
  MATMUL_CASES.forEach((c, caseIndex) => {
    test(`${c.name}: ${c.a.join('x')} · ${c.b.join('x')}`, async () => {
      const rng = new Rng(3000 + caseIndex);
      const aValues = uniformValues(rng, size(c.a));
      const bValues = uniformValues(rng, size(c.b));
      const n = c.transposeB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
      const biasValues = uniformValues(rng, n);
      const { native, cpu } = await expectNative(['BatchMatMul', '_FusedMatMul'], () =>
        onNativeAndCpu(() => {
          const a = tf.tensor(aValues, c.a);
          const b = tf.tensor(bValues, c.b);
          const plain = tf.matMul(a, b, c.transposeA, c.transposeB);
          const fused = tf.fused.matMul({ a, b, transposeA: c.transposeA, transposeB: c.transposeB, bias: tf.tensor1d(biasValues), activation: 'relu' });
          return [plain, fused];
        }),
      );
      assertMatchesCpu(native[0], cpu[0], TOLERANCE, 'BatchMatMul');
      assertMatchesCpu(native[1], cpu[1], TOLERANCE, '_FusedMatMul (bias + relu)');
    });
  });
});

interface PoolCase {
  name: string;
  x: Shape4;
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: Pad;
}

const POOL_CASES: PoolCase[] = [
  { name: '2x2 stride 2 (the paper networks), even sizes', x: [2, 26, 26, 32], filterSize: 2, strides: 2, pad: 'valid' },
  { name: '2x2 stride 2, odd sizes: last row and column dropped', x: [2, 13, 13, 64], filterSize: 2, strides: 2, pad: 'valid' },
  { name: '2x2 stride 2, same padding, odd sizes', x: [2, 7, 9, 3], filterSize: 2, strides: 2, pad: 'same' },
  { name: '3x3 stride 3, same padding', x: [2, 10, 11, 4], filterSize: 3, strides: 3, pad: 'same' },
  { name: '2x3 window, strides [2, 4] (gaps between windows)', x: [2, 9, 13, 5], filterSize: [2, 3], strides: [2, 4], pad: 'valid' },
];

/** Values drawn from a few levels, so that most windows hold tied maxima. */
function tiedValues(rng: Rng, n: number): Float32Array {
  const levels = [-1, 0, 0.5, 1];
  return Float32Array.from({ length: n }, () => levels[rng.int(levels.length)]);
}

function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

describe('native max pooling matches cpu bit for bit, ties included', { skip }, () => {
  POOL_CASES.forEach((c, caseIndex) => {
    test(c.name, async () => {
      const outShape = tf.backend_util.computePool2DInfo(c.x, c.filterSize, c.strides, 1, c.pad).outShape;
      const rng = new Rng(4000 + caseIndex);
      const xValues = tiedValues(rng, size(c.x));
      const dyValues = uniformValues(rng, size(outShape));
      // tfjs-cpu accumulates into +0, so a −0 gradient arrives as +0: one −0 checks that.
      dyValues[0] = -0;
      const { native, cpu } = await expectNative(['MaxPool', 'MaxPoolGrad'], () =>
        onNativeAndCpu(() => {
          const x = tf.tensor4d(xValues, c.x);
          const dy = tf.tensor4d(dyValues, outShape);
          const pool = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.filterSize, c.strides, c.pad);
          return [pool(x), tf.grad((t: tf.Tensor) => pool(t).mul(dy).sum())(x)];
        }),
      );
      assert.deepEqual(bits(native[0]), bits(cpu[0]), 'MaxPool differs from cpu');
      assert.ok(cpu[1].some((v) => v !== 0), 'the cpu reference gradient is all zeros');
      assert.deepEqual(bits(native[1]), bits(cpu[1]), 'MaxPoolGrad differs from cpu (tie rule: first maximum in the window wins)');
    });
  });

  test('windows of only NaN or −∞ pass no gradient, as on cpu', async () => {
    const xValues = Float32Array.from([NaN, NaN, NaN, NaN, -Infinity, -Infinity, -Infinity, -Infinity, NaN, 1, 1, NaN, 2, 2, 2, 2]);
    const dyValues = Float32Array.from([1, 2, 3, 4]);
    const { native, cpu } = await expectNative(['MaxPoolGrad'], () =>
      onNativeAndCpu(() => {
        // Four 2×2 windows laid out as one row of four; channels last, so pixels are [1, 2, 8, 1] → windows by column pairs.
        const x = tf.tensor4d(xValues, [1, 2, 8, 1]);
        const dy = tf.tensor4d(dyValues, [1, 1, 4, 1]);
        return [tf.grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid').mul(dy).sum())(x)];
      }),
    );
    assert.deepEqual(bits(native[0]), bits(cpu[0]));
  });

  test('a forward output no input equals (a NaN-propagating MaxPool) falls back to the exact scan', async () => {
    const rng = new Rng(11);
    const xValues = tiedValues(rng, 2 * 6 * 6 * 8);
    const dyValues = uniformValues(rng, 2 * 3 * 3 * 8);
    const { native, cpu } = await expectNative(['MaxPoolGrad'], () =>
      onNativeAndCpu(() => {
        const x = tf.tensor4d(xValues, [2, 6, 6, 8]);
        const dy = tf.tensor4d(dyValues, [2, 3, 3, 8]);
        // tfjs-cpu finds maxima from x alone; the native kernel is handed a y that matches no input.
        const y = tf.fill([2, 3, 3, 8], NaN);
        return [tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor];
      }),
    );
    assert.ok(cpu[0].some((v) => v !== 0), 'the cpu reference gradient is all zeros');
    assert.deepEqual(bits(native[0]), bits(cpu[0]));
  });

  test('overlapping windows fall back to the wasm kernel and still match cpu', async () => {
    const rng = new Rng(9);
    const xValues = tiedValues(rng, 2 * 9 * 9 * 3);
    const dyShape = tf.backend_util.computePool2DInfo([2, 9, 9, 3], 3, 2, 1, 'valid').outShape;
    const dyValues = uniformValues(rng, size(dyShape));
    const { native, cpu } = await onNativeAndCpu(() => {
      const dy = tf.tensor4d(dyValues, dyShape);
      return [tf.grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, 3, 2, 'valid').mul(dy).sum())(tf.tensor4d(xValues, [2, 9, 9, 3]))];
    });
    assertMatchesCpu(native[0], cpu[0], 1e-6, 'overlapping MaxPoolGrad');
  });
});

describe('the fused convolution + bias + relu op matches tfjs on cpu', { skip }, () => {
  const cases: { name: string; x: Shape4; filters: number; pad: 'same' | 'valid' }[] = [
    { name: 'MNIST first layer', x: [4, 28, 28, 1], filters: 32, pad: 'valid' },
    { name: 'CIFAR-10 first conv of a block', x: [2, 32, 32, 3], filters: 32, pad: 'same' },
    { name: 'CIFAR-10 second conv of a block', x: [2, 15, 15, 64], filters: 64, pad: 'valid' },
  ];
  cases.forEach((c, caseIndex) => {
    test(`${c.name}: value and the gradients of x, filter and bias`, async () => {
      const rng = new Rng(6000 + caseIndex);
      const filterShape: Shape4 = [3, 3, c.x[3], c.filters];
      const xValues = uniformValues(rng, size(c.x));
      const wValues = uniformValues(rng, size(filterShape));
      // Biases around zero so that relu cuts a good share of the activations.
      const bValues = uniformValues(rng, c.filters, -0.5, 0.5);
      const outShape = tf.backend_util.computeConv2DInfo(c.x, filterShape, 1, 1, c.pad).outShape;
      const dyValues = uniformValues(rng, size(outShape));
      const { native, cpu } = await expectNative(['EnsdefConvRelu', 'EnsdefReluBiasGrad'], () =>
        onNativeAndCpu(() => {
          const x = tf.tensor4d(xValues, c.x);
          const w = tf.tensor4d(wValues, filterShape);
          const b = tf.tensor1d(bValues);
          const dy = tf.tensor4d(dyValues, outShape);
          const f = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) => convRelu(xi as tf.Tensor4D, wi as tf.Tensor4D, bi as tf.Tensor1D, c.pad).mul(dy).sum();
          const grads = tf.grads(f)([x, w, b]);
          return [convRelu(x, w, b, c.pad), ...grads];
        }),
      );
      ['value', 'dx', 'dfilter', 'dbias'].forEach((what, i) => assertMatchesCpu(native[i], cpu[i], TOLERANCE, what));
      assert.ok(cpu[0].some((v) => v === 0) && cpu[0].some((v) => v > 0), 'relu should cut some activations and pass others');
    });
  });
});

describe('the fused one-channel convolution + bias + relu + max pooling matches tfjs on cpu', { skip }, () => {
  const cases: { name: string; x: Shape4; filters: number; tied: boolean }[] = [
    { name: 'MNIST first layer', x: [4, 28, 28, 1], filters: 32, tied: false },
    { name: 'MNIST wide first layer, flat regions (relu and pooling ties)', x: [3, 28, 28, 1], filters: 64, tied: true },
    { name: 'odd sizes: the last row and column are not pooled', x: [2, 11, 9, 1], filters: 8, tied: true },
  ];
  cases.forEach((c, caseIndex) => {
    test(`${c.name}: value and the gradients of x, filter and bias`, async () => {
      const rng = new Rng(7000 + caseIndex);
      const filterShape: Shape4 = [3, 3, 1, c.filters];
      const xValues = c.tied ? tiedValues(rng, size(c.x)) : uniformValues(rng, size(c.x), 0, 1);
      const wValues = uniformValues(rng, size(filterShape));
      const bValues = uniformValues(rng, c.filters, -0.5, 0.5);
      const outShape: Shape4 = [c.x[0], Math.floor((c.x[1] - 2) / 2), Math.floor((c.x[2] - 2) / 2), c.filters];
      const dyValues = uniformValues(rng, size(outShape));
      dyValues[0] = -0;
      const { native, cpu } = await expectNative(['EnsdefConvReluPool', 'EnsdefConvReluPoolGrad'], () =>
        onNativeAndCpu(() => {
          const x = tf.tensor4d(xValues, c.x);
          const w = tf.tensor4d(wValues, filterShape);
          const b = tf.tensor1d(bValues);
          const dy = tf.tensor4d(dyValues, outShape);
          const f = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) => convReluPool(xi as tf.Tensor4D, wi as tf.Tensor4D, bi as tf.Tensor1D, 'valid').mul(dy).sum();
          return [convReluPool(x, w, b, 'valid'), ...tf.grads(f)([x, w, b])];
        }),
      );
      ['value', 'dx', 'dfilter', 'dbias'].forEach((what, i) => assertMatchesCpu(native[i], cpu[i], TOLERANCE, what));
      assert.ok(cpu[1].some((v) => v !== 0), 'the cpu input gradient is all zeros');
    });
  });

  test('with AVX-512, the 16-lane kernels give the same bits as the 8-lane ones (AVX2 and baseline)', { skip: avx512 ? false : 'this CPU has no AVX-512 F/DQ/BW/VL: only the 8-lane kernels run here' }, () => {
    const hashes = (lanes: Record<string, string>) =>
      JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../fixtures/conv-pool-bits.ts', import.meta.url))], { env: { ...process.env, ...lanes }, encoding: 'utf8' })) as string[];
    const sixteen = hashes({});
    assert.equal(sixteen.length, 12);
    assert.deepEqual(hashes({ ENSDEF_NATIVE_LANES: '8' }), sixteen);
  });

  test('filter counts that are not a multiple of eight use convRelu and max pooling', async () => {
    const before = nativeKernelCalls().EnsdefConvReluPool ?? 0;
    const { native, cpu } = await onNativeAndCpu(() => [convReluPool(tf.ones([1, 6, 6, 1]), tf.fill([3, 3, 1, 5], 0.1) as tf.Tensor4D, tf.zeros([5]), 'valid')]);
    assert.equal(nativeKernelCalls().EnsdefConvReluPool ?? 0, before);
    assertMatchesCpu(native[0], cpu[0], TOLERANCE, 'value');
  });
});

describe('whole networks on the native path match cpu', { skip }, () => {
  // cifar10-wide and -deep add no layer shape the convolution cases above lack, and take ~1 min on cpu.
  for (const name of Object.keys(MODELS).filter((m) => !['cifar10-wide', 'cifar10-deep'].includes(m))) {
    test(`${name}: a training step's weight gradients and the input gradient`, async () => {
      // CIFAR-10 at batch 1: the cpu reference takes ~10 s per image for the wide variant.
      const shape: Shape4 = MODELS[name].dataset === 'mnist' ? [4, 28, 28, 1] : [1, 32, 32, 3];
      const rng = new Rng(5);
      const xValues = uniformValues(rng, size(shape), 0, 1);
      const labels = [3, 1, 4, 1].slice(0, shape[0]);
      // Convolutions run fused with their bias and relu, forward and backward, and MNIST's one-channel first
      // layer with its pooling too (backend/conv-relu.ts); under
      // tf.grad tfjs unfuses the dense relu layer (BatchMatMul + Add + Relu); the last dense layer stays fused.
      const kernels = MODELS[name].dataset === 'mnist' && name !== 'mnist-deep'
        ? ['EnsdefConvReluPool', 'EnsdefConvReluPoolGrad', 'EnsdefReluBiasGrad', 'BatchMatMul', '_FusedMatMul']
        : ['EnsdefConvRelu', 'EnsdefReluBiasGrad', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', '_FusedMatMul', 'MaxPool', 'MaxPoolGrad'];
      const { native, cpu } = await expectNative(kernels, () =>
        onNativeAndCpu(() => {
          const model = buildModel(name, 11);
          const x = tf.tensor4d(xValues, shape);
          const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat() as tf.Tensor2D;
          // Dropout off: its random mask would differ between backends; every other op is as in training.
          const loss = (input: tf.Tensor) => crossEntropyFromLogits(y, model.apply(input, { training: false }) as tf.Tensor2D);
          const { grads } = tf.variableGrads(() => loss(x) as tf.Scalar);
          const dx = tf.grad(loss)(x);
          const out = [...model.trainableWeights.map((w) => grads[w.originalName]), dx];
          model.dispose();
          return out;
        }),
      );
      assert.ok(native.length > 2);
      native.forEach((values, i) => assertMatchesCpu(values, cpu[i], 5e-4, i === native.length - 1 ? 'input gradient' : `weight gradient ${i}`));
    });
  }
});

/** Bit-exact comparison that still lets NaN equal NaN (cpu's NaN payloads vary) and tells −0 from +0. */
function canonical(v: number): string {
  return Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : String(v);
}

describe('native elementwise kernels match cpu', { skip }, () => {
  test('Multiply, Add (same shape and a broadcast bias row, either order), Relu, Step, a same-dtype Cast, a leading-axes Sum', async () => {
    const rng = new Rng(6000);
    const shape: Shape4 = [3, 5, 7, 6];
    const aValues = uniformValues(rng, size(shape));
    const bValues = uniformValues(rng, size(shape));
    const rowValues = uniformValues(rng, 6);
    // Relu and Step must keep NaN and −0 as cpu does.
    aValues[0] = NaN;
    aValues[1] = -0;
    aValues[2] = 0;
    const { native, cpu } = await expectNative(['Multiply', 'Add', 'Relu', 'Step', 'Cast', 'Sum'], () =>
      onNativeAndCpu(() => {
        const a = tf.tensor4d(aValues, shape);
        const b = tf.tensor4d(bValues, shape);
        const row = tf.tensor4d(rowValues, [1, 1, 1, 6]);
        return [
          tf.mul(a, b),
          tf.add(a, b),
          tf.add(a, row),
          tf.add(row, a),
          tf.add(a, tf.tensor1d(rowValues)),
          tf.relu(a),
          tf.step(a),
          tf.step(a, 0.25),
          tf.cast(a, 'float32').add(0),
          tf.sum(b, [0, 1, 2]),
          tf.sum(b, [0, 1], true),
        ];
      }),
    );
    const names = ['mul', 'add', 'add row', 'add row first', 'add 1-D row', 'relu', 'step', 'step alpha', 'cast', 'sum [0,1,2]', 'sum [0,1] keepDims'];
    native.forEach((values, i) => {
      if (names[i].startsWith('sum')) assertMatchesCpu(values, cpu[i], 1e-6, names[i]);
      else assert.deepEqual(Array.from(values, canonical), Array.from(cpu[i], canonical), `${names[i]} differs from cpu`);
    });
  });
});

/** Values drawn mostly from the cases Maximum, Minimum and the comparisons treat specially (NaN, ±0, ±∞, ties). */
function specialValues(rng: Rng, n: number): Float32Array {
  const levels = [NaN, -0, 0, Infinity, -Infinity, -1, 0.5, 1];
  return Float32Array.from({ length: n }, () => (rng.next() < 0.75 ? levels[rng.int(levels.length)] : 2 * rng.next() - 1));
}

describe('native selections, comparisons and clipping match cpu bit for bit', { skip }, () => {
  // b as the attacks pass it: a's shape (clipping to x ∓ ε), a scalar (sign and zero tests), one value per
  // row (DLR's test against each row's maximum); odd sizes leave a tail after the last full vector.
  const cases: { name: string; a: number[]; b: number[] }[] = [
    { name: 'same shape, 1 value', a: [1], b: [1] },
    { name: 'same shape, 7 values', a: [7], b: [7] },
    { name: 'same shape, 1001 values', a: [7, 11, 13], b: [7, 11, 13] },
    { name: 'scalar b, 1 value', a: [1], b: [] },
    { name: 'scalar b, 1001 values', a: [1001], b: [] },
    { name: 'scalar b of shape [1, 1, 1, 1]', a: [3, 5, 7, 6], b: [1, 1, 1, 1] },
    { name: 'one b per row, [7, 11] against [7, 1]', a: [7, 11], b: [7, 1] },
    { name: 'one b per image, [3, 5, 7, 6] against [3, 1, 1, 1]', a: [3, 5, 7, 6], b: [3, 1, 1, 1] },
  ];
  cases.forEach((c, caseIndex) => {
    test(`Maximum, Minimum, Equal, Greater, Less, Select: ${c.name}`, async () => {
      const rng = new Rng(8000 + caseIndex);
      const aValues = specialValues(rng, size(c.a));
      const bValues = specialValues(rng, size(c.b));
      const sameValues = specialValues(rng, size(c.a));
      const condition = Uint8Array.from({ length: size(c.a) }, () => rng.int(2));
      const kernels = ['Maximum', 'Minimum', 'Equal', 'Greater', 'Less', ...(size(c.b) === size(c.a) ? ['Select'] : [])];
      const { native, cpu } = await expectNative(kernels, () =>
        onNativeAndCpu(() => {
          const a = tf.tensor(aValues, c.a);
          const b = tf.tensor(bValues, c.b);
          const out = [tf.maximum(a, b), tf.minimum(a, b), tf.equal(a, b), tf.greater(a, b), tf.less(a, b)];
          // Select only at one shape: tf.where broadcasts its condition and operands to it before the kernel.
          return size(c.b) === size(c.a) ? [...out, tf.where(tf.tensor(condition, c.a, 'bool'), a, tf.tensor(sameValues, c.a))] : out;
        }),
      );
      const names = ['maximum', 'minimum', 'equal', 'greater', 'less', 'select'];
      native.forEach((values, i) => assert.deepEqual(Array.from(values, canonical), Array.from(cpu[i], canonical), `${names[i]} differs from cpu`));
    });
  });

  test('a broadcast a and int32 values fall back to wasm and still match cpu', async () => {
    const rng = new Rng(8100);
    const xValues = uniformValues(rng, 2 * 3 * 4);
    const before = nativeKernelCalls();
    const { native, cpu } = await onNativeAndCpu(() => {
      const x = tf.tensor3d(xValues, [2, 3, 4]);
      const column = tf.tensor3d([0.25, -0.5], [2, 1, 1]);
      return [tf.maximum(column, x), tf.greater(tf.tensor1d([3, 1, 2], 'int32'), tf.tensor1d([2, 2, 2], 'int32'))];
    });
    const after = nativeKernelCalls();
    for (const k of ['Maximum', 'Greater']) assert.equal(after[k] ?? 0, before[k] ?? 0, `${k} ran natively on a shape or dtype it does not cover`);
    native.forEach((values, i) => assert.deepEqual(Array.from(values), Array.from(cpu[i]), `fallback ${i} differs from cpu`));
  });
});
