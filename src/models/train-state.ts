/**
 * A training checkpoint taken after every epoch, so a killed or requeued member (a preempted Slurm task,
 * a lost node) continues at its last finished epoch and ends with the same weights, bit for bit, as an
 * uninterrupted run on the same backend. It holds everything the next step reads:
 *   - the model's weights;
 *   - Adam's state: first and second moments, the step count, and the running β₁ᵗ, β₂ᵗ products
 *     (tfjs' own Optimizer.setWeights recomputes those with pow(), whose float32 result differs from the
 *     repeated products in the last bit — so they are saved and put back as they were);
 *   - the shuffling PRNG's state (the next epoch's data order comes from it);
 *   - how many dropout masks each SeededDropout layer has drawn (its next mask's seed);
 *   - the epoch reached, the last loss and the samples seen (for the record and the progress line).
 * Per-batch transforms (Gaussian noise) and the bootstrap replicate are functions of the seed and the step,
 * so they need no state. The whole checkpoint is one file written atomically: a reader sees the previous
 * epoch's or this epoch's, never a mix. Models trained together under one optimiser (an ensemble trained
 * as a whole) share one checkpoint, their weights in the order given, so they resume at the same epoch.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../run/atomic.ts';
import { Rng } from '../run/rng.ts';
import { SeededDropout } from './seeded-dropout.ts';

export const TRAIN_STATE_FILE = 'train-state.bin';
const FORMAT = 'ensdef-train-state-1';

/** What a checkpoint must match to be resumed: the same training, described by its caller. */
export interface TrainStateTarget {
  path: string;
  /** e.g. the run's training identity and the phase (teacher / member); a state for anything else is not resumed. */
  identity: string;
}

export interface TrainProgress {
  epochsDone: number;
  finalLoss: number;
  samplesDone: number;
  /** Training seconds spent before this process (the record's trainSeconds sums every attempt). */
  seconds: number;
}

interface Header extends TrainProgress {
  format: typeof FORMAT;
  identity: string;
  rng: number[];
  dropoutCalls: number[];
  iterations: number;
  /** Adam's β₁ᵗ and β₂ᵗ as float32 bit patterns. */
  accBeta: number[];
  /** Float32 element counts, in file order: weights, first moments, second moments. */
  tensors: { group: 'weight' | 'm' | 'v'; shape: number[] }[];
  payloadSha256: string;
}

/** The fields of tfjs' AdamOptimizer a checkpoint needs (tfjs-core 4.x; checked on use). */
interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
  iterations_: number;
}

function adamInternals(optimizer: tf.Optimizer): AdamInternals {
  const adam = optimizer as unknown as AdamInternals;
  if (!(adam.accBeta1 instanceof tf.Variable) || !Array.isArray(adam.accumulatedFirstMoment) || !Array.isArray(adam.accumulatedSecondMoment)) {
    throw new Error('this tfjs version lays out AdamOptimizer differently; training checkpoints need updating (src/models/train-state.ts)');
  }
  return adam;
}

/** One model, or several trained together under one optimiser. */
export type Trained = tf.LayersModel | readonly tf.LayersModel[];

function modelsOf(trained: Trained): readonly tf.LayersModel[] {
  return Array.isArray(trained) ? trained : [trained as tf.LayersModel];
}

function dropoutLayers(trained: Trained): SeededDropout[] {
  return modelsOf(trained).flatMap((model) => model.layers.filter((l): l is SeededDropout => l instanceof SeededDropout));
}

function float32Bits(value: number): number {
  return new Uint32Array(new Float32Array([value]).buffer)[0];
}

function fromFloat32Bits(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0];
}

export function saveTrainState(target: TrainStateTarget, trained: Trained, optimizer: tf.Optimizer, rng: Rng, progress: TrainProgress): void {
  const adam = adamInternals(optimizer);
  const groups: [Header['tensors'][number]['group'], tf.Tensor[]][] = [
    ['weight', modelsOf(trained).flatMap((model) => model.getWeights())],
    ['m', adam.accumulatedFirstMoment.map((v) => v.variable)],
    ['v', adam.accumulatedSecondMoment.map((v) => v.variable)],
  ];
  const parts: Float32Array[] = [];
  const tensors: Header['tensors'] = [];
  for (const [group, list] of groups) {
    for (const t of list) {
      parts.push(t.dataSync() as Float32Array);
      tensors.push({ group, shape: t.shape });
    }
  }
  const payload = Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
  const header: Header = {
    format: FORMAT,
    identity: target.identity,
    ...progress,
    rng: rng.state(),
    dropoutCalls: dropoutLayers(trained).map((l) => l.calls),
    iterations: adam.iterations_ ?? 0,
    accBeta: [float32Bits(adam.accBeta1.dataSync()[0]), float32Bits(adam.accBeta2.dataSync()[0])],
    tensors,
    payloadSha256: createHash('sha256').update(payload).digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  writeFileAtomic(target.path, Buffer.concat([length, json, payload]));
}

export type LoadedTrainState = { progress: TrainProgress; rng: Rng } | { ignored: string } | undefined;

/**
 * Puts a saved state into `trained` and `optimizer` (fresh ones, built as for the first attempt) and returns
 * the progress and the PRNG to continue with; undefined when there is no state; `ignored` with the reason
 * when the file is damaged or belongs to other training — the caller then starts over.
 */
export function loadTrainState(target: TrainStateTarget, trained: Trained, optimizer: tf.Optimizer): LoadedTrainState {
  if (!existsSync(target.path)) return undefined;
  const bytes = readFileSync(target.path);
  let header: Header;
  let payload: Buffer;
  try {
    const length = bytes.readUInt32LE(0);
    header = JSON.parse(bytes.subarray(4, 4 + length).toString('utf8')) as Header;
    payload = bytes.subarray(4 + length);
  } catch {
    return { ignored: `${target.path} is damaged` };
  }
  if (header.format !== FORMAT) return { ignored: `${target.path} is not an ensdef training state` };
  if (header.identity !== target.identity) return { ignored: `${target.path} belongs to other training settings` };
  if (createHash('sha256').update(payload).digest('hex') !== header.payloadSha256) return { ignored: `${target.path} is damaged (sha256)` };
  const models = modelsOf(trained);
  const weights = models.flatMap((model) => model.getWeights());
  const dropouts = dropoutLayers(trained);
  const group = (name: string) => header.tensors.filter((t) => t.group === name);
  const sameShapes = group('weight').every((t, i) => JSON.stringify(t.shape) === JSON.stringify(weights[i]?.shape));
  if (group('weight').length !== weights.length || !sameShapes || header.dropoutCalls.length !== dropouts.length) {
    return { ignored: `${target.path} was saved for another network` };
  }
  const floats = new Float32Array(payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength));
  let offset = 0;
  // In file order; each group's tensors in the order their owner listed them (model weights; Adam's slots).
  const restored = header.tensors.map(({ group: name, shape }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(floats.slice(offset, offset + size), shape, 'float32');
    offset += size;
    return { name, t };
  });
  const of = (name: string) => restored.filter((r) => r.name === name).map((r) => r.t);
  const saved = of('weight');
  let first = 0;
  for (const model of models) {
    const count = model.getWeights().length;
    model.setWeights(saved.slice(first, first + count));
    first += count;
  }
  const adam = adamInternals(optimizer);
  tf.dispose([...adam.accumulatedFirstMoment.map((v) => v.variable), ...adam.accumulatedSecondMoment.map((v) => v.variable)]);
  const slots = (name: string) => of(name).map((t, i) => ({ originalName: `slot-${i}/${name}`, variable: tf.variable(t, false) }));
  adam.accumulatedFirstMoment = slots('m');
  adam.accumulatedSecondMoment = slots('v');
  tf.dispose(restored.map((r) => r.t));
  adam.iterations_ = header.iterations;
  adam.accBeta1.assign(tf.scalar(fromFloat32Bits(header.accBeta[0])));
  adam.accBeta2.assign(tf.scalar(fromFloat32Bits(header.accBeta[1])));
  dropouts.forEach((layer, i) => (layer.calls = header.dropoutCalls[i]));
  const { epochsDone, finalLoss, samplesDone, seconds } = header;
  return { progress: { epochsDone, finalLoss, samplesDone, seconds }, rng: Rng.fromState(header.rng) };
}
