/**
 * The paper's networks layer by layer. The expected layers, output shapes and parameter counts are
 * derived here from the architectures as the paper and SPEC.md describe them (3x3 convs, 2x2 pooling),
 * independently of src/models, and the base totals must equal the paper's Table 1 and Table 3.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend } from '../../src/backend/select.ts';
import { UserError } from '../../src/errors.ts';
import { ConvRelu } from '../../src/models/conv-relu-layer.ts';
import { loadCheckpoint, readCheckpointMeta, saveCheckpoint } from '../../src/models/checkpoint.ts';
import { buildModel, MODELS, variantsFor } from '../../src/datasets/registry.ts';
import { Rng } from '../../src/run/rng.ts';
import { uniformValues } from '../helpers/backends.ts';
import { tempDir } from '../helpers/temp-dir.ts';

type LayerSpec =
  | { kind: 'conv'; filters: number; padding: 'same' | 'valid'; pool: boolean }
  | { kind: 'flatten' }
  | { kind: 'dense'; units: number; activation: 'relu' | 'linear' }
  | { kind: 'dropout'; rate: number };

const conv = (filters: number, padding: 'same' | 'valid'): LayerSpec => ({ kind: 'conv', filters, padding, pool: false });
/** A conv followed by 2×2 max pooling: one layer (ConvRelu with pool), as Table 1's and Table 3's Conv + MaxPool. */
const convPool = (filters: number, padding: 'same' | 'valid'): LayerSpec => ({ kind: 'conv', filters, padding, pool: true });
const dropout = (rate: number): LayerSpec => ({ kind: 'dropout', rate });
/** Flatten → Dense 128|512 relu → Dropout .5 → Dense 10 (logits, no softmax). */
const head = (units: number): LayerSpec[] => [{ kind: 'flatten' }, { kind: 'dense', units, activation: 'relu' }, dropout(0.5), { kind: 'dense', units: 10, activation: 'linear' }];
/** Table 3's block: the first conv of each pair `same`, the second `valid` (Keras' CIFAR example). */
const cifarBlock = (filters: number, rate: number, extraConv = false): LayerSpec[] => [
  conv(filters, 'same'),
  ...(extraConv ? [conv(filters, 'same')] : []),
  convPool(filters, 'valid'),
  dropout(rate),
];

const ARCHITECTURES: Record<string, { input: number[]; layers: LayerSpec[] }> = {
  'mnist-base': { input: [28, 28, 1], layers: [convPool(32, 'valid'), ...head(128)] },
  'mnist-wide': { input: [28, 28, 1], layers: [convPool(64, 'valid'), ...head(128)] },
  'mnist-deep': { input: [28, 28, 1], layers: [conv(32, 'valid'), convPool(32, 'valid'), ...head(128)] },
  'cifar10-base': { input: [32, 32, 3], layers: [...cifarBlock(32, 0.2), ...cifarBlock(64, 0.3), ...cifarBlock(128, 0.4), ...head(512)] },
  'cifar10-wide': { input: [32, 32, 3], layers: [...cifarBlock(64, 0.2), ...cifarBlock(64, 0.3), ...cifarBlock(128, 0.4), ...head(512)] },
  'cifar10-deep': { input: [32, 32, 3], layers: [...cifarBlock(32, 0.2), ...cifarBlock(64, 0.3), ...cifarBlock(128, 0.4, true), ...head(512)] },
};

interface ExpectedLayer {
  className: string;
  outputShape: number[];
  params: number;
  activation?: string;
  rate?: number;
}

/** Walks the spec: 3x3 'valid' convs shrink each side by 2, 2x2 pooling halves (flooring). */
function expectedLayers(input: number[], specs: LayerSpec[]): ExpectedLayer[] {
  let shape = input;
  return specs.map((spec) => {
    switch (spec.kind) {
      case 'conv': {
        const [h, w, c] = shape;
        const shrink = spec.padding === 'valid' ? 2 : 0;
        shape = spec.pool ? [Math.floor((h - shrink) / 2), Math.floor((w - shrink) / 2), spec.filters] : [h - shrink, w - shrink, spec.filters];
        return { className: 'EnsdefConvRelu', outputShape: shape, params: 3 * 3 * c * spec.filters + spec.filters, activation: 'relu' };
      }
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        return { className: 'Flatten', outputShape: shape, params: 0 };
      case 'dense': {
        const params = shape[0] * spec.units + spec.units;
        shape = [spec.units];
        return { className: 'Dense', outputShape: shape, params, activation: spec.activation };
      }
      case 'dropout':
        return { className: 'SeededDropout', outputShape: shape, params: 0, rate: spec.rate };
    }
  });
}

function describeLayer(layer: tf.layers.Layer): ExpectedLayer {
  const config = layer.getConfig();
  return {
    className: layer.getClassName(),
    outputShape: (layer.outputShape as number[]).slice(1),
    params: layer.countParams(),
    ...(typeof config.activation === 'string' ? { activation: config.activation } : {}),
    ...(typeof config.rate === 'number' ? { rate: config.rate } : {}),
  };
}

function totalParams(layers: ExpectedLayer[]): number {
  return layers.reduce((n, l) => n + l.params, 0);
}

function weightValues(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => Float32Array.from(w.dataSync()));
}

before(async () => {
  await initBackend('wasm');
});

describe('architectures', () => {
  test('the hand-derived base networks have the paper parameter counts', () => {
    assert.equal(totalParams(expectedLayers(ARCHITECTURES['mnist-base'].input, ARCHITECTURES['mnist-base'].layers)), 693_962);
    assert.equal(totalParams(expectedLayers(ARCHITECTURES['cifar10-base'].input, ARCHITECTURES['cifar10-base'].layers)), 554_794);
  });

  test('the registry holds exactly the six described models, base first per data set', () => {
    assert.deepEqual(Object.keys(MODELS).sort(), Object.keys(ARCHITECTURES).sort());
    assert.deepEqual(variantsFor('mnist'), ['mnist-base', 'mnist-wide', 'mnist-deep']);
    assert.deepEqual(variantsFor('cifar10'), ['cifar10-base', 'cifar10-wide', 'cifar10-deep']);
  });

  for (const [name, architecture] of Object.entries(ARCHITECTURES)) {
    test(`${name}: layers, output shapes and parameter counts`, () => {
      const model = buildModel(name, 1);
      const expected = expectedLayers(architecture.input, architecture.layers);
      assert.deepEqual(model.layers.map(describeLayer), expected);
      assert.equal(model.countParams(), totalParams(expected));
      model.dispose();
    });
  }

  test('the variants differ from base only as described', () => {
    const params = (name: string) => totalParams(expectedLayers(ARCHITECTURES[name].input, ARCHITECTURES[name].layers));
    // mnist-wide: conv 1→64 (+320) and a dense input of 13·13·64 instead of 13·13·32 (+5408·128).
    assert.equal(params('mnist-wide') - params('mnist-base'), 320 + 13 * 13 * 32 * 128);
    // mnist-deep: a 32→32 conv (+9248); pooling 24→12 shrinks the dense input from 5408 to 4608.
    assert.equal(params('mnist-deep') - params('mnist-base'), 9248 - (5408 - 4608) * 128);
    // cifar10-deep: one extra 128→128 3x3 conv; the 'same' padding keeps every later shape.
    assert.equal(params('cifar10-deep') - params('cifar10-base'), 3 * 3 * 128 * 128 + 128);
  });

  test('models output logits: a [B, 10] tensor whose rows are not probabilities', () => {
    for (const [name, shape] of [['mnist-base', [28, 28, 1]], ['cifar10-base', [32, 32, 3]]] as const) {
      const model = buildModel(name, 2);
      const input = tf.tensor4d(uniformValues(new Rng(3), 3 * shape[0] * shape[1] * shape[2], 0, 1), [3, ...shape]);
      const logits = model.predict(input) as tf.Tensor;
      assert.deepEqual(logits.shape, [3, 10]);
      assert.ok(
        logits.dataSync().some((v) => v < 0),
        `${name}: no negative output, looks like softmax probabilities`,
      );
      tf.dispose([input, logits]);
      model.dispose();
    }
  });
});

describe('seeded initialisation', () => {
  test('the same seed gives identical weights; another seed different kernels and zero biases', () => {
    const [a, b, c] = [buildModel('mnist-base', 42), buildModel('mnist-base', 42), buildModel('mnist-base', 43)];
    const [wa, wb, wc] = [a, b, c].map(weightValues);
    assert.deepEqual(wa, wb);
    a.getWeights().forEach((w, i) => {
      const isBias = w.shape.length === 1;
      assert.equal(isBias, wa[i].every((v) => v === 0), `${a.weights[i].name}: biases start at zero, kernels do not`);
      if (!isBias) assert.notDeepEqual(wa[i], wc[i], `${a.weights[i].name} is the same under seeds 42 and 43`);
    });
    [a, b, c].forEach((m) => m.dispose());
  });

  test('dropout masks follow the seed: equal models drop the same units', () => {
    const [a, b] = [buildModel('mnist-base', 42), buildModel('mnist-base', 42)];
    const input = tf.tensor4d(uniformValues(new Rng(4), 2 * 784, 0, 1), [2, 28, 28, 1]);
    const outputs = [a, b].map((m) => tf.tidy(() => (m.apply(input, { training: true }) as tf.Tensor).dataSync()));
    const eval0 = tf.tidy(() => (a.apply(input, { training: false }) as tf.Tensor).dataSync());
    assert.deepEqual(outputs[0], outputs[1]);
    assert.notDeepEqual(outputs[0], eval0, 'training mode should drop units');
    tf.dispose(input);
    [a, b].forEach((m) => m.dispose());
  });
});

describe('checkpoints', () => {
  const root = tempDir('checkpoint');

  test('save then load gives the same weights, layers and predictions', async () => {
    const dir = join(root, 'round-trip');
    const model = buildModel('cifar10-base', 9);
    await saveCheckpoint(model, dir, { architecture: 'cifar10-base', temperature: 1 });
    const loaded = await loadCheckpoint(dir);
    assert.deepEqual(loaded.layers.map(describeLayer), model.layers.map(describeLayer));
    assert.deepEqual(weightValues(loaded), weightValues(model));
    const input = tf.tensor4d(uniformValues(new Rng(5), 2 * 32 * 32 * 3, 0, 1), [2, 32, 32, 3]);
    const [before, after] = [model, loaded].map((m) => tf.tidy(() => (m.predict(input) as tf.Tensor).dataSync()));
    assert.deepEqual(after, before);
    assert.deepEqual(readCheckpointMeta(dir), { architecture: 'cifar10-base', temperature: 1 });
    tf.dispose(input);
    model.dispose();
    loaded.dispose();
  });

  test('a corrupted, truncated or missing weights.bin is a UserError naming it', async () => {
    const dir = join(root, 'damaged');
    const model = buildModel('mnist-base', 9);
    await saveCheckpoint(model, dir);
    model.dispose();
    const weightsPath = join(dir, 'weights.bin');
    const intact = readFileSync(weightsPath);
    const flipped = Buffer.from(intact);
    flipped[1000] ^= 0x40;
    const damages: Array<[string, () => void]> = [
      ['one flipped bit', () => writeFileSync(weightsPath, flipped)],
      ['truncated', () => writeFileSync(weightsPath, intact.subarray(0, intact.length - 4))],
      ['missing', () => rmSync(weightsPath)],
    ];
    for (const [damage, apply] of damages) {
      apply();
      await assert.rejects(loadCheckpoint(dir), (error: unknown) => {
        assert.ok(error instanceof UserError, `${damage}: expected a UserError, got ${String(error)}`);
        assert.ok(error.message.includes(weightsPath), `${damage}: ${error.message}`);
        return true;
      });
    }
  });

  test('a missing model.json is a UserError', async () => {
    await assert.rejects(loadCheckpoint(join(root, 'never-saved')), UserError);
  });
});

describe('ConvRelu computes what tf.layers.conv2d computes', () => {
  test('same weights from the same seed, and bit-identical outputs and gradients on cpu', async () => {
    const seed = 123;
    const ours = tf.sequential({ layers: [new ConvRelu({ filters: 6, padding: 'valid', seed, inputShape: [7, 8, 2] })] });
    const keras = tf.sequential({
      layers: [tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'valid', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }), inputShape: [7, 8, 2] })],
    });
    const xValues = uniformValues(new Rng(8), 3 * 7 * 8 * 2);
    await tf.setBackend('cpu');
    try {
      // A nonzero bias, so that the bias path and relu's cut are both exercised.
      const bias = Float32Array.from({ length: 6 }, (_, i) => (i - 2.5) / 10);
      for (const model of [ours, keras]) model.layers[0].setWeights([model.layers[0].getWeights()[0], tf.tensor1d(bias)]);
      const run = (model: tf.Sequential) => {
        const x = tf.tensor4d(xValues, [3, 7, 8, 2]);
        const { value, grads } = tf.variableGrads(() => (model.apply(x) as tf.Tensor).square().sum() as tf.Scalar, model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
        return [model.predict(x) as tf.Tensor, value, ...Object.values(grads)].map((t) => Array.from(t.dataSync()));
      };
      assert.deepEqual(ours.getWeights().map((w) => Array.from(w.dataSync())), keras.getWeights().map((w) => Array.from(w.dataSync())));
      const [a, b] = [run(ours), run(keras)];
      assert.equal(a.length, 4);
      assert.deepEqual(a, b);
      assert.ok(a[0].some((v) => v === 0) && a[0].some((v) => v > 0));
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
