/**
 * Each kernel src/backend/wasm-kernels.ts registers for wasm must compute what tfjs' reference cpu
 * backend computes. The backprop kernels are driven the way training drives them: through tf.grads of
 * sum(conv(x, w) · dy), which hands dy to Conv2DBackpropInput (for dx) and Conv2DBackpropFilter (for dw).
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend } from '../../src/backend/select.ts';
import { Rng } from '../../src/run/rng.ts';
import { assertMatchesCpu, onWasmAndCpu, uniformValues } from '../helpers/backends.ts';

const TOLERANCE = 1e-4;

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
}

const CONV_CASES: ConvCase[] = [
  { name: 'valid, stride 1', x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { name: 'same, stride 1', x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: 'same, non-square filter, odd sizes', x: [2, 7, 9, 2], filter: [3, 2, 2, 5], strides: 1, pad: 'same' },
  { name: 'valid, non-square filter', x: [1, 6, 9, 3], filter: [2, 4, 3, 2], strides: 1, pad: 'valid' },
  // 8 rows, 3x3, stride 2: windows start at 0, 2, 4 and stop at row 6, so row 7 never reaches dw.
  { name: 'valid, stride 2, last row and column unused', x: [2, 8, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'valid' },
  { name: 'valid, stride 2, rows used exactly, last column unused', x: [2, 7, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'valid' },
  { name: 'same, stride 2, asymmetric padding', x: [1, 9, 10, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'same' },
  { name: 'same, stride 2, 5x5 filter', x: [2, 11, 11, 2], filter: [5, 5, 2, 3], strides: 2, pad: 'same' },
  { name: 'valid, strides [2, 1]', x: [2, 8, 7, 2], filter: [2, 2, 2, 3], strides: [2, 1], pad: 'valid' },
  { name: 'explicit padding, stride 1', x: [2, 7, 8, 3], filter: [3, 2, 3, 4], strides: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { name: 'explicit padding, stride 2', x: [2, 7, 8, 3], filter: [3, 2, 3, 4], strides: 2, pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  // tfjs-core sizes a numeric pad's output from the filter height and row stride alone, so numeric pads
  // are only well defined for square filters and equal strides (others overrun wasm's output buffer).
  { name: 'numeric pad 1, stride 1', x: [2, 7, 8, 3], filter: [3, 3, 3, 4], strides: 1, pad: 1 },
  { name: 'numeric pad 2, stride 2', x: [2, 7, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 2 },
  // Wider inputs, so both few-channel and many-channel code paths of the filter gradient are covered.
  { name: 'valid, stride 2, last row unused, 6 channels', x: [2, 8, 9, 6], filter: [3, 3, 6, 4], strides: 2, pad: 'valid' },
  { name: 'same, stride 2, 8 channels', x: [2, 9, 10, 8], filter: [3, 3, 8, 5], strides: 2, pad: 'same' },
  { name: 'explicit padding, stride 2, 5 channels', x: [1, 7, 8, 5], filter: [3, 2, 5, 4], strides: 2, pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  { name: 'MNIST first layer', x: [2, 28, 28, 1], filter: [3, 3, 1, 32], strides: 1, pad: 'valid' },
  { name: 'CIFAR-10 first layer', x: [2, 32, 32, 3], filter: [3, 3, 3, 8], strides: 1, pad: 'same' },
  { name: 'CIFAR-10 second layer', x: [2, 32, 32, 32], filter: [3, 3, 32, 32], strides: 1, pad: 'valid' },
];

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

before(async () => {
  await initBackend('wasm');
});

describe('Conv2DBackpropInput and Conv2DBackpropFilter on wasm match cpu', () => {
  test('the filter-gradient kernel is registered for wasm', () => {
    assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'), 'stock wasm lacks it; registerWasmTrainingKernels must add it');
  });

  CONV_CASES.forEach((c, caseIndex) => {
    test(`${c.name}: x ${c.x.join('x')}, filter ${c.filter.join('x')}`, async () => {
      const roundingMode = typeof c.pad === 'number' ? 'floor' : undefined;
      const conv = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.conv2d(x, w, c.strides, c.pad, 'NHWC', 1, roundingMode);
      const outShape = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, roundingMode).outShape;
      const rng = new Rng(1000 + caseIndex);
      const xValues = uniformValues(rng, size(c.x));
      const wValues = uniformValues(rng, size(c.filter));
      const dyValues = uniformValues(rng, size(outShape));
      const { wasm, cpu } = await onWasmAndCpu(() => {
        const dy = tf.tensor4d(dyValues, outShape);
        const weighted = (x: tf.Tensor, w: tf.Tensor) => conv(x as tf.Tensor4D, w as tf.Tensor4D).mul(dy).sum();
        return tf.grads(weighted)([tf.tensor4d(xValues, c.x), tf.tensor4d(wValues, c.filter)]);
      });
      assertMatchesCpu(wasm[0], cpu[0], TOLERANCE, 'dx (Conv2DBackpropInput)');
      assertMatchesCpu(wasm[1], cpu[1], TOLERANCE, 'dw (Conv2DBackpropFilter)');
    });
  });
});

interface MatMulCase {
  name: string;
  /** Shapes as the op receives them, i.e. already transposed where transposeA/B is set. */
  a: number[];
  b: number[];
}

/** [.., m, k] × [.., k, n] stored so that transposeA / transposeB undo the storage order. */
function matMulCases(batch: number[], m: number, k: number, n: number): Array<MatMulCase & { transposeA: boolean; transposeB: boolean }> {
  return [false, true].flatMap((transposeA) =>
    [false, true].map((transposeB) => ({
      name: `${batch.length ? `batch ${batch.join('x')}, ` : ''}${m}x${k} · ${k}x${n}, transposeA ${transposeA}, transposeB ${transposeB}`,
      a: [...batch, ...(transposeA ? [k, m] : [m, k])],
      b: [...batch, ...(transposeB ? [n, k] : [k, n])],
      transposeA,
      transposeB,
    })),
  );
}

const MATMUL_CASES = [...matMulCases([], 5, 7, 3), ...matMulCases([], 1, 9, 1), ...matMulCases([3], 4, 6, 5), ...matMulCases([2, 2], 3, 1, 4)];

describe('BatchMatMul on wasm matches cpu', () => {
  MATMUL_CASES.forEach((c, caseIndex) => {
    test(c.name, async () => {
      const rng = new Rng(2000 + caseIndex);
      const aValues = uniformValues(rng, size(c.a));
      const bValues = uniformValues(rng, size(c.b));
      const { wasm, cpu } = await onWasmAndCpu(() => [tf.matMul(tf.tensor(aValues, c.a), tf.tensor(bValues, c.b), c.transposeA, c.transposeB)]);
      assertMatchesCpu(wasm[0], cpu[0], TOLERANCE, 'a·b');
    });
  });
});

describe('_FusedMatMul on wasm matches cpu', () => {
  const fusedCases = [...matMulCases([], 6, 5, 4), ...matMulCases([3], 2, 5, 4)];
  fusedCases.forEach((c, caseIndex) => {
    test(`${c.name}, bias + relu`, async () => {
      const rng = new Rng(3000 + caseIndex);
      const aValues = uniformValues(rng, size(c.a));
      const bValues = uniformValues(rng, size(c.b));
      const biasValues = uniformValues(rng, 4);
      const { wasm, cpu } = await onWasmAndCpu(() => [
        tf.fused.matMul({
          a: tf.tensor(aValues, c.a),
          b: tf.tensor(bValues, c.b),
          transposeA: c.transposeA,
          transposeB: c.transposeB,
          bias: tf.tensor1d(biasValues),
          activation: 'relu',
        }),
      ]);
      assertMatchesCpu(wasm[0], cpu[0], TOLERANCE, 'relu(a·b + bias)');
    });
  });

  test('batch 3 · broadcast batch 1, bias + relu', async () => {
    const rng = new Rng(3500);
    const aValues = uniformValues(rng, 3 * 2 * 5);
    const bValues = uniformValues(rng, 5 * 4);
    const biasValues = uniformValues(rng, 4);
    const { wasm, cpu } = await onWasmAndCpu(() => [
      tf.fused.matMul({ a: tf.tensor3d(aValues, [3, 2, 5]), b: tf.tensor3d(bValues, [1, 5, 4]), bias: tf.tensor1d(biasValues), activation: 'relu' }),
    ]);
    assertMatchesCpu(wasm[0], cpu[0], TOLERANCE, 'relu(a·b + bias)');
  });

  test('the gradient of a dense layer (transposed products) matches cpu', async () => {
    const rng = new Rng(4000);
    const [batch, inputs, units] = [4, 9, 6];
    const xValues = uniformValues(rng, batch * inputs);
    const wValues = uniformValues(rng, inputs * units);
    const biasValues = uniformValues(rng, units);
    const dyValues = uniformValues(rng, batch * units);
    const { wasm, cpu } = await onWasmAndCpu(() => {
      const dy = tf.tensor2d(dyValues, [batch, units]);
      const weighted = (x: tf.Tensor, w: tf.Tensor) =>
        tf.fused
          .matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: tf.tensor1d(biasValues), activation: 'linear' })
          .mul(dy)
          .sum();
      return tf.grads(weighted)([tf.tensor2d(xValues, [batch, inputs]), tf.tensor2d(wValues, [inputs, units])]);
    });
    assertMatchesCpu(wasm[0], cpu[0], TOLERANCE, 'dx = dy·wᵀ');
    assertMatchesCpu(wasm[1], cpu[1], TOLERANCE, 'dw = xᵀ·dy');
  });
});

test('the replacement kernels free every intermediate buffer they allocate', async () => {
  await initBackend('wasm');
  const backend = tf.backend();
  const rng = new Rng(5000);
  const x = tf.tensor4d(uniformValues(rng, 2 * 8 * 8 * 6), [2, 8, 8, 6]);
  const w = tf.tensor4d(uniformValues(rng, 3 * 3 * 6 * 4), [3, 3, 6, 4]);
  const a = tf.tensor3d(uniformValues(rng, 3 * 4 * 5), [3, 4, 5]);
  const bias = tf.tensor1d(uniformValues(rng, 4));
  const exercise = () =>
    tf.tidy(() => {
      // stride 2 'valid' makes the filter gradient crop x; stride 1 'same' takes the new input-gradient path.
      const strided = tf.grads((xi: tf.Tensor, wi: tf.Tensor) => tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 2, 'valid').sum())([x, w]);
      const unit = tf.grads((xi: tf.Tensor, wi: tf.Tensor) => tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, 1, 'same').sum())([x, w]);
      const products = [tf.matMul(a, a, true, false), tf.fused.matMul({ a, b: a, transposeB: true, bias, activation: 'relu' })];
      return tf.addN([...strided, ...unit].map((g) => g.sum()).concat(products.map((p) => p.sum()))).dataSync()[0];
    });
  exercise();
  const before = backend.numDataIds();
  exercise();
  assert.equal(backend.numDataIds(), before, 'wasm buffers left behind by one pass');
  tf.dispose([x, w, a, bias]);
});
