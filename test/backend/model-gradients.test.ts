/**
 * The paper's networks differentiate the same on wasm (with ensdef's training kernels) as on tfjs' cpu
 * reference: the loss gradient of every weight (what training follows) and of the input (what FGSM/BIM
 * follow), for softmax cross-entropy from logits with dropout off.
 */
import * as tf from '@tensorflow/tfjs';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/select.ts';
import { buildModel } from '../../src/datasets/registry.ts';
import { Rng } from '../../src/run/rng.ts';
import { crossEntropyFromLogits } from '../../src/models/loss.ts';
import { assertMatchesCpu, onWasmAndCpu, uniformValues } from '../helpers/backends.ts';

const TOLERANCE = 1e-4;

before(async () => {
  await initBackend('wasm');
});

async function compareGradients(modelName: string, imageShape: [number, number, number], batch: number): Promise<void> {
  const model = buildModel(modelName, 7);
  const rng = new Rng(11);
  const pixels = uniformValues(rng, batch * imageShape.reduce((a, b) => a * b, 1), 0, 1);
  const labels = Array.from({ length: batch }, () => rng.int(10));
  // LayerVariable.read() hands out the tf.Variable it holds (typed only as a Tensor).
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { wasm, cpu } = await onWasmAndCpu(() => {
    // The input is a variable so that one backward pass yields its gradient and the weights'.
    const input = tf.variable(tf.tensor4d(pixels, [batch, ...imageShape]));
    const targets = tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat() as tf.Tensor2D;
    const { grads } = tf.variableGrads(
      () => crossEntropyFromLogits(targets, model.apply(input, { training: false }) as tf.Tensor2D),
      [input, ...weights],
    );
    const inputGradient = grads[input.name];
    input.dispose();
    return [inputGradient, ...weights.map((w) => grads[w.name])];
  });
  assertMatchesCpu(wasm[0], cpu[0], TOLERANCE, `${modelName}: input gradient`);
  weights.forEach((w, i) => assertMatchesCpu(wasm[i + 1], cpu[i + 1], TOLERANCE, `${modelName}: gradient of ${w.name}`));
  model.dispose();
}

test('mnist-base: weight and input gradients on wasm match cpu', async () => {
  await compareGradients('mnist-base', [28, 28, 1], 4);
});

test('cifar10-base: weight and input gradients on wasm match cpu', async () => {
  await compareGradients('cifar10-base', [32, 32, 3], 4);
});
