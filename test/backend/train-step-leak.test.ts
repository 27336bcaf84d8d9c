/**
 * trainStep must leave no tensors behind: a training run takes thousands of steps, so one leaked
 * tensor per step exhausts memory. The first step creates Adam's slot variables; later steps may not grow.
 */
import * as tf from '@tensorflow/tfjs';
import { adam } from '../../src/backend/fused-adam.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend } from '../../src/backend/select.ts';
import { buildModel } from '../../src/datasets/registry.ts';
import { Rng } from '../../src/run/rng.ts';
import { trainStep } from '../../src/models/train-member.ts';
import { uniformValues } from '../helpers/backends.ts';

test('trainStep on mnist-base leaks no tensors after warm-up', async () => {
  await initBackend('wasm');
  const model = buildModel('mnist-base', 1);
  const optimizer = adam(1e-3);
  const x = tf.tensor4d(uniformValues(new Rng(2), 4 * 784, 0, 1), [4, 28, 28, 1]);
  const targets = tf.oneHot(tf.tensor1d([3, 1, 4, 1], 'int32'), 10).toFloat() as tf.Tensor2D;
  const firstLoss = trainStep(model, optimizer, x, targets);
  const before = tf.memory().numTensors;
  let loss = firstLoss;
  for (let step = 0; step < 3; step++) loss = trainStep(model, optimizer, x, targets);
  assert.equal(tf.memory().numTensors, before, 'tensors created per step were not disposed');
  // Guards against a step that leaks nothing because it does nothing.
  assert.ok(Number.isFinite(firstLoss) && loss < firstLoss, `loss ${firstLoss} → ${loss} on a repeated batch`);
  tf.dispose([x, targets]);
  optimizer.dispose();
  model.dispose();
});
