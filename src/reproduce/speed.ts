/**
 * This machine's speed on a data set's network, measured in a few seconds before a reproduction starts, so
 * the plan's estimate is in this machine's seconds: training samples per second (Adam steps on the paper's
 * network, batch 128) and input gradients per second (one model, in the batches attacks run). Random pixels:
 * speed does not depend on the images. Also how much of the machine other processes took while a step ran,
 * so that a step's time can be read as the idle machine's.
 */
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { adam } from '../backend/fused-adam.ts';
import { TRAIN_DEFAULTS } from '../config/train-config.ts';
import { ATTACK_BATCH_SIZE } from '../eval/attack-run.ts';
import type { DatasetDescriptor } from '../datasets/descriptor.ts';
import { baseModelFor, buildModel } from '../datasets/registry.ts';
import { crossEntropyFromLogits } from '../models/loss.ts';
import { trainStep } from '../models/train-member.ts';
import { Rng } from '../run/rng.ts';
import { ENSDEF_BIN } from '../training/worker-pool.ts';

export interface MachineSpeed {
  /** In this process, on all its threads: a member trained here (a single model, a joint run). */
  trainSamplesPerSecond: number;
  /**
   * `workers` training worker processes released together, as `train` runs members in parallel: their samples
   * per second in all (absent with one worker, and before 2026-12-07). On 2 vCPUs, two one-thread native workers
   * trained MNIST 1.5–2.2x faster than this process on both threads, which is why the estimate needs it.
   */
  parallelTraining?: ParallelTraining;
  gradientsPerSecond: number;
}

export interface ParallelTraining {
  workers: number;
  samplesPerSecond: number;
  /**
   * Seconds from a worker's spawn until it could train (node, the backend, the network built and warmed up),
   * the slowest of them: what each round of member workers costs before its first sample (absent before 2026-12-08).
   */
  startupSeconds?: number;
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
  const probe = trainingProbe(dataset);
  const attack = randomBatch(dataset, GRADIENT_BATCH);
  const gradient = tf.grad((input: tf.Tensor) => crossEntropyFromLogits(attack.y, probe.model.apply(input, { training: false }) as tf.Tensor2D));
  try {
    const trainSeconds = secondsPer(probe.step, repeats);
    const gradientSeconds = secondsPer(() => tf.tidy(() => void gradient(attack.x).dataSync()), repeats);
    return { trainSamplesPerSecond: TRAIN_BATCH / trainSeconds, gradientsPerSecond: GRADIENT_BATCH / gradientSeconds };
  } finally {
    tf.dispose([attack.x, attack.y]);
    probe.dispose();
  }
}

/** The paper's network, its optimizer and a random batch: `step` is one training step on them. */
function trainingProbe(dataset: DatasetDescriptor): { model: tf.LayersModel; step: () => void; dispose: () => void } {
  const model = buildModel(baseModelFor(dataset.name), 0);
  const optimizer = adam(TRAIN_DEFAULTS.learningRate);
  const train = randomBatch(dataset, TRAIN_BATCH);
  return {
    model,
    step: () => trainStep(model, optimizer, train.x, train.y),
    dispose: () => {
      tf.dispose([train.x, train.y]);
      optimizer.dispose();
      model.dispose();
    },
  };
}

/** Trains on random batches for `seconds`, warmed up before: samples per second. `ready` is awaited between the two. */
async function probeTraining(dataset: DatasetDescriptor, seconds: number, ready: () => Promise<void>): Promise<number> {
  const { step, dispose } = trainingProbe(dataset);
  try {
    for (let i = 0; i < 3; i++) step();
    await ready();
    const started = performance.now();
    let steps = 0;
    while (performance.now() - started < 1000 * seconds) {
      step();
      steps++;
    }
    return (steps * TRAIN_BATCH) / ((performance.now() - started) / 1000);
  } finally {
    dispose();
  }
}

/**
 * One worker of measureParallelTraining (`ensdef speed-probe`): warms up, prints "ready", trains once a line
 * arrives on stdin (the parent releases every worker at once), then prints its samples per second as JSON.
 */
export async function speedProbeWorker(dataset: DatasetDescriptor, seconds: number): Promise<void> {
  const samplesPerSecond = await probeTraining(dataset, seconds, () => {
    process.stdout.write(`${PROBE_READY}\n`);
    return new Promise((resolve) => process.stdin.once('data', () => resolve()));
  });
  process.stdin.destroy();
  console.log(JSON.stringify({ samplesPerSecond }));
}

export const PARALLEL_PROBE_SECONDS = 3;
const PROBE_READY = 'ready';
const PROBE_GO = 'go';
// Workers not all warmed up by then (a machine far too slow or busy) leave the estimate to the process's speed.
const PARALLEL_PROBE_TIMEOUT_MS = 60_000;

/**
 * `workers` worker processes (`ensdef speed-probe`, on a worker's threads: backend/select.ts), each warmed
 * up, then released together to train for a few seconds: their samples per second in all, and how long they
 * took to start; undefined if one failed or the workers were not all ready within a minute.
 */
export async function measureParallelTraining(dataset: string, workers: number, backend: string): Promise<ParallelTraining | undefined> {
  const args = [ENSDEF_BIN, 'speed-probe', '--dataset', dataset, '--seconds', String(PARALLEL_PROBE_SECONDS), '--backend', backend];
  const spawned = performance.now();
  const children = Array.from({ length: workers }, () => spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'ignore'] }));
  let startupSeconds = 0;
  let readyCount = 0;
  let released = false;
  const stopAll = () => children.forEach((child) => child.kill());
  const timeout = setTimeout(stopAll, PARALLEL_PROBE_TIMEOUT_MS);
  const rates = await Promise.all(
    children.map(
      (child) =>
        new Promise<number | undefined>((resolve) => {
          let out = '';
          let ready = false;
          child.stdout!.on('data', (chunk: Buffer) => {
            out += chunk;
            if (!ready && out.startsWith(`${PROBE_READY}\n`)) {
              ready = true;
              startupSeconds = Math.max(startupSeconds, (performance.now() - spawned) / 1000);
              if (++readyCount === workers) {
                released = true;
                children.forEach((c) => c.stdin!.end(`${PROBE_GO}\n`));
              }
            }
          });
          child.on('error', () => resolve(undefined));
          child.on('exit', (code) => {
            // One that ends before the release would leave the others waiting for it.
            if (!released) stopAll();
            const result = out.split('\n').find((line) => line.startsWith('{'));
            const rate = code === 0 && result ? Number(JSON.parse(result).samplesPerSecond) : NaN;
            resolve(Number.isFinite(rate) && rate > 0 ? rate : undefined);
          });
        }),
    ),
  );
  clearTimeout(timeout);
  if (!rates.every((r): r is number => r !== undefined)) return undefined;
  return { workers, samplesPerSecond: rates.reduce((a, b) => a + b, 0), startupSeconds };
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
