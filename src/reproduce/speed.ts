/**
 * This machine's speed on a data set's network, measured in a few seconds before a reproduction starts, so
 * the plan's estimate is in this machine's seconds: training samples per second (Adam steps on the paper's
 * network, batch 128) and input gradients per second (one model, in the batches attacks run). Random pixels:
 * speed does not depend on the images. Also how much of the machine other processes took while a step ran,
 * so that a step's time can be read as the idle machine's.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { adam } from '../backend/fused-adam.ts';
import { TRAIN_DEFAULTS } from '../config/train-config.ts';
import { ATTACK_BATCH_SIZE } from '../eval/attack-run.ts';
import type { DatasetDescriptor } from '../datasets/descriptor.ts';
import { baseModelFor, buildModel } from '../datasets/registry.ts';
import { crossEntropyFromLogits } from '../models/loss.ts';
import { trainStep } from '../models/train-member.ts';
import { Rng } from '../run/rng.ts';

export interface MachineSpeed {
  trainSamplesPerSecond: number;
  gradientsPerSecond: number;
}

const TRAIN_BATCH = 128;
// Per-batch costs are a visible part of a gradient here: at 100 images the probe read 0.6–0.7x what attacks in batches of 200 do.
const GRADIENT_BATCH = ATTACK_BATCH_SIZE;

/** `count` images of uniform random pixels with random one-hot labels (for timing: speed does not depend on them). */
export function randomBatch(dataset: Pick<DatasetDescriptor, 'imageShape' | 'numClasses'>, count: number, seed = 1): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const rng = new Rng(seed);
  const [h, w, c] = dataset.imageShape;
  const pixels = Float32Array.from({ length: count * h * w * c }, () => rng.next());
  const labels = Int32Array.from({ length: count }, () => rng.int(dataset.numClasses));
  return tf.tidy(() => ({ x: tf.tensor4d(pixels, [count, h, w, c]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), dataset.numClasses).toFloat() as tf.Tensor2D }));
}

/** Median seconds of `repeats` calls after one warm-up call. */
function secondsPer(run: () => void, repeats: number): number {
  run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    run();
    times.push((performance.now() - started) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

// The median of 3 single batches swung 6,000–9,900 training samples/s on one idle machine; of 25, 6,600–7,300.
export function measureSpeed(dataset: DatasetDescriptor, repeats = 25): MachineSpeed {
  const model = buildModel(baseModelFor(dataset.name), 0);
  const optimizer = adam(TRAIN_DEFAULTS.learningRate);
  const train = randomBatch(dataset, TRAIN_BATCH);
  const attack = randomBatch(dataset, GRADIENT_BATCH);
  const gradient = tf.grad((input: tf.Tensor) => crossEntropyFromLogits(attack.y, model.apply(input, { training: false }) as tf.Tensor2D));
  try {
    const trainSeconds = secondsPer(() => trainStep(model, optimizer, train.x, train.y), repeats);
    const gradientSeconds = secondsPer(() => tf.tidy(() => void gradient(attack.x).dataSync()), repeats);
    return { trainSamplesPerSecond: TRAIN_BATCH / trainSeconds, gradientsPerSecond: GRADIENT_BATCH / gradientSeconds };
  } finally {
    tf.dispose([train.x, train.y, attack.x, attack.y]);
    optimizer.dispose();
    model.dispose();
  }
}

/** CPU time in clock ticks: the whole machine's (busy, and in all) from /proc/stat, and this process's with its finished children. */
export interface CpuTicks {
  machineBusy: number;
  machineAll: number;
  own: number;
}

/** Now's CPU ticks; undefined where /proc is not there (not Linux). */
export function cpuTicks(): CpuTicks | undefined {
  try {
    const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const self = readFileSync('/proc/self/stat', 'utf8');
    // After the command name (which may hold spaces): state, then fields 4.., of which 14–17 are utime, stime, cutime, cstime.
    const fields = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
    const busy = user + nice + system + irq + softirq + steal;
    return { machineBusy: busy, machineAll: busy + idle + iowait, own: fields[11] + fields[12] + fields[13] + fields[14] };
  } catch {
    return undefined;
  }
}

/** The share of the machine's CPU time between two readings that went to other processes (and the hypervisor); 0 where unknown. */
export function othersShare(from: CpuTicks | undefined, to: CpuTicks | undefined): number {
  if (!from || !to || to.machineAll <= from.machineAll) return 0;
  const others = to.machineBusy - from.machineBusy - (to.own - from.own);
  return Math.min(1, Math.max(0, others / (to.machineAll - from.machineAll)));
}
