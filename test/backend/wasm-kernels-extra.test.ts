/**
 * The speed paths ensdef adds on wasm (src/backend/max-pool-grad.ts, wasm-fast-paths.ts and the staged
 * matrix transpose in wasm-kernel-utils.ts) must compute what tfjs' reference cpu backend computes:
 * MaxPoolGrad EXACTLY (bit for bit, ties included), the others to 1e-4 relative error.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../../src/backend/select.ts';
import { Rng } from '../../src/run/rng.ts';
import { assertMatchesCpu, onWasmAndCpu, uniformValues } from '../helpers/backends.ts';

const TOLERANCE = 1e-4;

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Values from a small set, so that most pooling windows hold tied maxima; every 5th pixel is 0. */
function tiedValues(rng: Rng, n: number, levels: number[]): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : levels[rng.int(levels.length)]));
}

/** Bit-for-bit equality (distinguishes −0 from +0 and compares NaN by bits). */
function assertSameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  const first = a.findIndex((bits, i) => bits !== e[i]);
  assert.equal(first, -1, `${what}: element ${first} is ${actual[first]} on wasm, ${expected[first]} on cpu`);
}

before(async () => {
  await initBackend('wasm');
});

interface PoolCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number];
  strides: [number, number];
  pad: 'valid' | 'same';
}

const POOL_CASES: PoolCase[] = [
  { name: '2x2 stride 2 (the paper networks)', x: [2, 8, 8, 3], filter: [2, 2], strides: [2, 2], pad: 'valid' },
  { name: '2x2 stride 2, odd size: last row and column in no window', x: [2, 13, 11, 4], filter: [2, 2], strides: [2, 2], pad: 'valid' },
  { name: '2x2 stride 2, same padding (clipped windows)', x: [1, 7, 9, 3], filter: [2, 2], strides: [2, 2], pad: 'same' },
  { name: '3x3 stride 1, same padding (overlapping, clipped windows)', x: [2, 6, 7, 3], filter: [3, 3], strides: [1, 1], pad: 'same' },
  { name: '3x3 stride 2 (overlapping rows and columns)', x: [2, 9, 9, 2], filter: [3, 3], strides: [2, 2], pad: 'valid' },
  { name: '2x3 stride [1, 2]', x: [1, 6, 9, 5], filter: [2, 3], strides: [1, 2], pad: 'valid' },
];

describe('MaxPoolGrad on wasm equals cpu exactly', () => {
  POOL_CASES.forEach((c, caseIndex) => {
    test(`${c.name}, ties in most windows`, async () => {
      const rng = new Rng(6000 + caseIndex);
      const xValues = tiedValues(rng, size(c.x), [0, 0.25, 0.5, 1]);
      const outShape = tf.backend_util.computePool2DInfo(c.x, c.filter, c.strides, 1, c.pad).outShape;
      // −0 in dy: tfjs-cpu sums the gradient into +0, so −0 must come back as +0.
      const dyValues = uniformValues(rng, size(outShape)).map((v, i) => (i % 7 === 0 ? -0 : v));
      const { wasm, cpu } = await onWasmAndCpu(() => {
        const dy = tf.tensor4d(dyValues, outShape);
        return [tf.grad((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, c.filter, c.strides, c.pad).mul(dy).sum())(tf.tensor4d(xValues, c.x))];
      });
      assert.ok(cpu[0].some((v) => v !== 0), 'the cpu reference is all zeros');
      assertSameBits(wasm[0], cpu[0], 'dx');
    });
  });

  test('an all-equal window passes dy to its first (top-left) input only', async () => {
    const { wasm, cpu } = await onWasmAndCpu(() => [
      tf.grad((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid').mul(tf.tensor4d([3, -2], [1, 1, 2, 1])).sum())(tf.fill([1, 2, 4, 1], 0.5)),
    ]);
    const expected = Float32Array.from([3, 0, -2, 0, 0, 0, 0, 0]);
    assertSameBits(cpu[0], expected, 'cpu');
    assertSameBits(wasm[0], expected, 'wasm');
  });

  test('windows of NaN and −∞ follow cpu (NaN never wins; an all −∞ window passes nothing)', async () => {
    // Four 2x2 windows: [NaN, 1, 2, NaN], [−∞ ×4], [NaN ×4], [−∞, NaN, 5, 5].
    const xValues = Float32Array.from([NaN, 1, -Infinity, -Infinity, 2, NaN, -Infinity, -Infinity, NaN, NaN, -Infinity, NaN, NaN, NaN, 5, 5]);
    const { wasm, cpu } = await onWasmAndCpu(() => [
      tf.grad((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid').mul(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1])).sum())(tf.tensor4d(xValues, [1, 4, 4, 1])),
    ]);
    assertSameBits(wasm[0], cpu[0], 'dx');
  });
});

interface FilterCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | tf.backend_util.ExplicitPadding;
}

// Cin ≤ 4 takes the im2col path, larger Cin the convolution with the staged transpose of x.
const FILTER_CASES: FilterCase[] = [
  { name: 'im2col: MNIST first layer, Cin 1', x: [3, 28, 28, 1], filter: [3, 3, 1, 8], strides: 1, pad: 'valid' },
  { name: 'im2col: CIFAR-10 first layer, Cin 3, same', x: [2, 32, 32, 3], filter: [3, 3, 3, 8], strides: 1, pad: 'same' },
  { name: 'im2col: Cin 4, stride 2, explicit padding', x: [2, 9, 8, 4], filter: [3, 2, 4, 5], strides: 2, pad: [[0, 0], [1, 0], [2, 1], [0, 0]] },
  { name: 'conv: Cin 5, valid', x: [4, 10, 10, 5], filter: [3, 3, 5, 6], strides: 1, pad: 'valid' },
  { name: 'conv: Cin 32, same (the CIFAR-10 second block)', x: [4, 15, 15, 32], filter: [3, 3, 32, 16], strides: 1, pad: 'same' },
  { name: 'conv: Cin 7, stride 2, last row and column unused', x: [3, 8, 8, 7], filter: [3, 3, 7, 4], strides: 2, pad: 'valid' },
];

describe('Conv2DBackpropFilter on wasm matches cpu on both paths', () => {
  FILTER_CASES.forEach((c, caseIndex) => {
    test(`${c.name}: x ${c.x.join('x')}, filter ${c.filter.join('x')}`, async () => {
      const outShape = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad).outShape;
      const rng = new Rng(7000 + caseIndex);
      const xValues = uniformValues(rng, size(c.x));
      const dyValues = uniformValues(rng, size(outShape));
      const { wasm, cpu } = await onWasmAndCpu(() => {
        const dy = tf.tensor4d(dyValues, outShape);
        const weighted = (w: tf.Tensor) => tf.conv2d(tf.tensor4d(xValues, c.x), w as tf.Tensor4D, c.strides, c.pad).mul(dy).sum();
        return [tf.grad(weighted)(tf.zeros(c.filter))];
      });
      assertMatchesCpu(wasm[0], cpu[0], TOLERANCE, 'dw');
    });
  });
});

describe('transposed matmuls (staged matrix transpose) match cpu', () => {
  // Tall and wide operands whose sizes split into blocks, and a prime size that cannot (direct transpose).
  const shapes: Array<[number, number, number]> = [
    [128, 96, 24],
    [24, 256, 40],
    [131, 17, 5],
  ];
  shapes.forEach(([m, k, n], caseIndex) => {
    for (const [transposeA, transposeB] of [
      [true, false],
      [false, true],
    ]) {
      test(`${m}x${k} · ${k}x${n}, transposeA ${transposeA}, transposeB ${transposeB}`, async () => {
        const rng = new Rng(8000 + caseIndex);
        const aValues = uniformValues(rng, m * k);
        const bValues = uniformValues(rng, k * n);
        const { wasm, cpu } = await onWasmAndCpu(() => [
          tf.matMul(tf.tensor2d(aValues, transposeA ? [k, m] : [m, k]), tf.tensor2d(bValues, transposeB ? [n, k] : [k, n]), transposeA, transposeB),
        ]);
        assertMatchesCpu(wasm[0], cpu[0], TOLERANCE, 'a·b');
      });
    }
  });
});

describe('Sum over leading axes matches cpu', () => {
  const cases: Array<{ shape: number[]; axes: number[]; keepDims: boolean }> = [
    { shape: [6, 5, 4, 7], axes: [0, 1, 2], keepDims: false },
    { shape: [6, 5, 4, 7], axes: [2, 0, 1], keepDims: true },
    { shape: [33, 9], axes: [0], keepDims: false },
    // Not a leading prefix: the built-in kernel's case.
    { shape: [6, 5, 4, 7], axes: [1, 3], keepDims: false },
  ];
  cases.forEach((c, caseIndex) => {
    test(`shape ${c.shape.join('x')}, axes [${c.axes.join(', ')}], keepDims ${c.keepDims}`, async () => {
      const values = uniformValues(new Rng(9000 + caseIndex), size(c.shape));
      const { wasm, cpu } = await onWasmAndCpu(() => {
        const sum = tf.sum(tf.tensor(values, c.shape), c.axes, c.keepDims);
        return [sum, tf.tensor1d(sum.shape)];
      });
      assert.deepEqual(wasm[1], cpu[1], 'output shape');
      assertMatchesCpu(wasm[0], cpu[0], TOLERANCE, 'sum');
    });
  });

  test('an int32 sum keeps its dtype and exact value', async () => {
    await initBackend('wasm');
    const sum = tf.sum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), 0);
    assert.equal(sum.dtype, 'int32');
    assert.deepEqual(Array.from(sum.dataSync()), [9, 12]);
    sum.dispose();
  });
});

test('Identity (tf.clone) shares memory: the copy outlives its source, and nothing is left behind', async () => {
  await initBackend('wasm');
  const backend = tf.backend();
  const before = backend.numDataIds();
  const source = tf.tensor1d([1.5, -2, 3]);
  const copy = tf.clone(source);
  source.dispose();
  assert.deepEqual(Array.from(copy.dataSync()), [1.5, -2, 3]);
  copy.dispose();
  assert.equal(backend.numDataIds(), before);
});

test('the speed paths free every intermediate buffer they allocate', async () => {
  await initBackend('wasm');
  const backend = tf.backend();
  const rng = new Rng(9500);
  const x1 = tf.tensor4d(uniformValues(rng, 2 * 8 * 8 * 2), [2, 8, 8, 2]);
  const x6 = tf.tensor4d(uniformValues(rng, 2 * 8 * 8 * 6), [2, 8, 8, 6]);
  const exercise = () =>
    tf.tidy(() => {
      const pool = tf.grad((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid').sum())(x6);
      const overlapping = tf.grad((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, 3, 1, 'same').sum())(x6);
      const im2col = tf.grad((w: tf.Tensor) => tf.conv2d(x1, w as tf.Tensor4D, 1, 'same').sum())(tf.ones([3, 3, 2, 4]));
      const conv = tf.grad((w: tf.Tensor) => tf.conv2d(x6, w as tf.Tensor4D, 2, 'valid').sum())(tf.ones([3, 3, 6, 4]));
      const product = tf.matMul(x6.reshape([16, 48]), x6.reshape([16, 48]), true, false);
      return tf.addN([pool, overlapping, im2col, conv, product].map((t) => t.sum())).dataSync()[0];
    });
  exercise();
  const before = backend.numDataIds();
  exercise();
  assert.equal(backend.numDataIds(), before, 'wasm buffers left behind by one pass');
  tf.dispose([x1, x6]);
});
