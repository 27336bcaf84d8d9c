/**
 * `npm run bench`: how fast ensdef trains and attacks on the active tensor backend (initBackend).
 *
 *   npm run bench                                  every measure (about 8 minutes on 2 wasm cores)
 *   npm run bench -- --quick                       fewer batches, smaller pipelines (about 3 minutes)
 *   npm run bench -- --only mnist-train,mnist-epoch
 *   npm run bench -- --backend cpu --only mnist-train
 *   npm run bench -- --profile cifar10             CPU ms per kernel of one training step (mnist-input-grad: of an attack's
 *                                                  gradient; mnist-grad2|grad3: of a 10-member ensemble's, batch 200)
 *   npm run bench -- --compare [--quick]           only the native / wasm / PyTorch comparison (scripts/bench-native.ts),
 *                                                  which a plain `npm run bench` runs first
 *
 * One line per measure on stdout (e.g. `mnist train 2150 samples/s`). Kernel-level throughputs are the
 * median of several timed batches of 128 after warm-up, on the paper's networks (src/models/registry.ts)
 * and random inputs. Pipeline measures run the project's own code: trainMember over the embedded MNIST,
 * and BIM with Grad. 2 / Grad. 3 over a 10-member ensemble of freshly initialised members (attacks run in a
 * child process so that its peak RSS is the attack's own). Parallel measures time N worker processes of
 * one thread each training at once, released together; their summed samples/s is the whole machine's.
 * The machine is shared: each measure also records the CPU time the process got and the load average,
 * and everything goes to results/bench-<timestamp>.json. Speed targets live here, never in tests.
 */
import * as tf from '@tensorflow/tfjs';
import { adam } from '../src/backend/fused-adam.ts';
import { fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gradientHooks, NO_GRADIENT } from '../src/attacks/gradients.ts';
import { argmaxRows, scoreSplit } from '../src/models/predict.ts';
import { resolveAttack } from '../src/attacks/registry.ts';
import { ensemblePredictor, scorerOf } from '../src/attacks/scoring.ts';
import { ATTACK_BATCH_SIZE } from '../src/eval/attack-run.ts';
import { runAttack } from '../src/eval/measure.ts';
import { initBackend, parseBackend, type BackendChoice, type BackendInfo } from '../src/backend/select.ts';
import { Ensemble } from '../src/ensembles/ensemble.ts';
import { USAGE_EXIT, UserError, usageError } from '../src/errors.ts';
import { baseModelFor, buildModel, DATASET_NAMES, datasetDescriptor, loadDataset } from '../src/datasets/registry.ts';
import { writeJsonAtomic } from '../src/run/atomic.ts';
import { packageVersions } from '../src/run/manifest.ts';
import { Rng } from '../src/run/rng.ts';
import { crossEntropyFromLogits } from '../src/models/loss.ts';
import { trainMember, trainStep } from '../src/models/train-member.ts';
import { randomBatch } from '../src/reproduce/speed.ts';
import { pgdTrainingLoss, REPRODUCE_PGD_TRAINING } from '../src/defenses/pgd-adversarial-training.ts';
import { methodParams, trainConfig } from '../src/training/methods.ts';

const BATCH = 128;
const LEARNING_RATE = 1e-3;
const SEED = 7;
const SCRIPT = fileURLToPath(import.meta.url);
const RESULTS_DIR = resolve(dirname(SCRIPT), '..', 'results');
const IMAGE_SHAPES: Record<string, [number, number, number]> = Object.fromEntries(DATASET_NAMES.map((name) => [name, datasetDescriptor(name).imageShape]));
const ENSEMBLE_SIZE = 10;
const MiB = 1024 * 1024;

interface Settings {
  quick: boolean;
  backend: BackendChoice;
  workers: number;
}

/** What one measure reports: its stdout line and the figures behind it (into the JSON). */
interface Measure {
  name: string;
  line: string;
  value: number;
  unit: string;
  details: Record<string, unknown>;
}

/** Wall and CPU seconds of each timed repetition. */
interface Timings {
  wallSeconds: number[];
  cpuSeconds: number[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function cpuSecondsNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Runs `step` `warmup` times untimed, then `repeats` times timed; `step` must finish its work synchronously. */
function timeRepeated(step: () => void, warmup: number, repeats: number): Timings {
  for (let i = 0; i < warmup; i++) step();
  const timings: Timings = { wallSeconds: [], cpuSeconds: [] };
  for (let i = 0; i < repeats; i++) {
    const wall = performance.now();
    const cpu = cpuSecondsNow();
    step();
    timings.cpuSeconds.push(cpuSecondsNow() - cpu);
    timings.wallSeconds.push((performance.now() - wall) / 1000);
  }
  return timings;
}

/** items / median wall time, plus the same per CPU-second (what one unshared core would do). */
function rates(items: number, timings: Timings): { perSecond: number; perCpuSecond: number; details: Record<string, unknown> } {
  const perSecond = items / median(timings.wallSeconds);
  const perCpuSecond = items / median(timings.cpuSeconds);
  return { perSecond, perCpuSecond, details: { itemsPerRepeat: items, perSecond, perCpuSecond, ...timings } };
}

function benchBatch(dataset: string, seed: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return randomBatch(datasetDescriptor(dataset), BATCH, seed);
}

function trainRepeats(dataset: string, quick: boolean): { warmup: number; repeats: number } {
  if (dataset === 'mnist') return quick ? { warmup: 3, repeats: 8 } : { warmup: 5, repeats: 25 };
  return quick ? { warmup: 1, repeats: 3 } : { warmup: 2, repeats: 8 };
}

function measureTrain(dataset: string, settings: Settings): Measure {
  const model = buildModel(baseModelFor(dataset), SEED);
  const optimizer = adam(LEARNING_RATE);
  const { x, y } = benchBatch(dataset, SEED);
  const { warmup, repeats } = trainRepeats(dataset, settings.quick);
  const timings = timeRepeated(() => trainStep(model, optimizer, x, y), warmup, repeats);
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  const r = rates(BATCH, timings);
  return { name: `${dataset}-train`, line: `${dataset} train ${Math.round(r.perSecond)} samples/s`, value: r.perSecond, unit: 'samples/s', details: r.details };
}

function measureInputGrad(dataset: string, settings: Settings): Measure {
  const model = buildModel(baseModelFor(dataset), SEED);
  const { x, y } = benchBatch(dataset, SEED);
  const gradient = tf.grad((input: tf.Tensor) => crossEntropyFromLogits(y, model.apply(input, { training: false }) as tf.Tensor2D));
  const { warmup, repeats } = trainRepeats(dataset, settings.quick);
  const timings = timeRepeated(() => tf.tidy(() => void gradient(x).dataSync()), warmup, repeats);
  tf.dispose([x, y]);
  model.dispose();
  const r = rates(BATCH, timings);
  return { name: `${dataset}-input-grad`, line: `${dataset} input-grad ${Math.round(r.perSecond)} images/s`, value: r.perSecond, unit: 'images/s', details: r.details };
}

/** One member epoch through trainMember, the function `ensdef train` runs per member. */
function measureMnistEpoch(settings: Settings): Measure {
  const limit = settings.quick ? 12_800 : undefined;
  const dataset = loadDataset({ dataset: 'mnist', trainLimit: limit });
  const model = buildModel('mnist-base', SEED);
  const n = dataset.train.count;
  const cpu = cpuSecondsNow();
  const result = trainMember(model, {
    split: dataset.train,
    imageShape: dataset.imageShape,
    numClasses: dataset.numClasses,
    indices: Int32Array.from({ length: n }, (_, i) => i),
    epochs: 1,
    batchSize: BATCH,
    learningRate: LEARNING_RATE,
    shuffleSeed: SEED,
  });
  const cpuSeconds = cpuSecondsNow() - cpu;
  model.dispose();
  const scope = limit ? ` (first ${n} of 60000 images)` : '';
  return {
    name: 'mnist-epoch',
    line: `mnist epoch ${result.seconds.toFixed(1)} s, ${Math.round(result.samplesPerSecond)} samples/s${scope}`,
    value: result.seconds,
    unit: 's',
    details: { samples: n, seconds: result.seconds, samplesPerSecond: result.samplesPerSecond, cpuSeconds, samplesPerCpuSecond: n / cpuSeconds, finalLoss: result.finalLoss },
  };
}

interface AttackPlan {
  dataset: string;
  /** A registry attack at its defaults but for `given`. */
  attack: string;
  given?: Record<string, number>;
  /** null: a gradient-free attack. */
  grad: '2' | '3' | null;
  images: number;
  /** Attack the embedded MNIST test images (true) or random images (CIFAR-10 is not embedded). */
  realImages: boolean;
}

function attackPlans(settings: Settings): Record<string, AttackPlan> {
  const mnistImages = settings.quick ? 200 : 1000;
  return {
    'mnist-bim-grad2': { dataset: 'mnist', attack: 'bim', grad: '2', images: mnistImages, realImages: true },
    'mnist-bim-grad3': { dataset: 'mnist', attack: 'bim', grad: '3', images: mnistImages, realImages: true },
    'cifar10-bim-grad2': { dataset: 'cifar10', attack: 'bim', grad: '2', images: settings.quick ? 3 * 10 : 3 * ATTACK_BATCH_SIZE, realImages: false },
    'cifar10-bim-grad3': { dataset: 'cifar10', attack: 'bim', grad: '3', images: settings.quick ? 3 * 10 : 3 * ATTACK_BATCH_SIZE, realImages: false },
    // APGD at AutoAttack's 100 iterations; Square with a 1,000-query budget on images the ensemble classifies
    // correctly (fresh members misclassify most test images, where Square stops after its first query).
    'mnist-apgd-ce-grad3': { dataset: 'mnist', attack: 'apgd-ce', grad: '3', images: settings.quick ? 15 : 150, realImages: true },
    'mnist-square': { dataset: 'mnist', attack: 'square', given: { queries: 1000 }, grad: null, images: settings.quick ? 15 : 150, realImages: true },
  };
}

function attackImages(plan: AttackPlan): { images: Float32Array; labels: Uint8Array } {
  if (plan.realImages) {
    const test = loadDataset({ dataset: plan.dataset, testLimit: plan.images }).test;
    return { images: test.images, labels: test.labels };
  }
  const rng = new Rng(SEED);
  const [h, w, c] = IMAGE_SHAPES[plan.dataset];
  return { images: Float32Array.from({ length: plan.images * h * w * c }, () => rng.next()), labels: Uint8Array.from({ length: plan.images }, () => rng.int(10)) };
}

/**
 * BIM (the paper's ε, α, 8 steps) with Grad. 2 or Grad. 3 over a 10-member ensemble, batch by batch as
 * `ensdef attack` runs it; RSS after every batch shows whether memory grows with the number of batches.
 */
function measureAttack(name: string, plan: AttackPlan): Measure {
  const shape = IMAGE_SHAPES[plan.dataset];
  const pixels = shape[0] * shape[1] * shape[2];
  // Three batches at least, so that the RSS after each shows whether memory grows batch by batch.
  const batchSize = Math.min(ATTACK_BATCH_SIZE, Math.ceil(plan.images / 3));
  const ensemble = new Ensemble(Array.from({ length: ENSEMBLE_SIZE }, (_, i) => buildModel(baseModelFor(plan.dataset), SEED + i)));
  const hooks = plan.grad ? gradientHooks(ensemble, { grad: plan.grad, member: 0, loss: 'logits' }) : NO_GRADIENT;
  const spec = resolveAttack(datasetDescriptor(plan.dataset), plan.attack, plan.given);
  const scored = { scorer: scorerOf(ensemblePredictor(ensemble)), probabilities: (x: tf.Tensor4D) => ensemble.probabilities(x) };
  const data = attackImages(plan);
  const { images } = data;
  // A score-based attack is timed on images the ensemble gets right (its own predictions as labels).
  const labels = plan.grad ? data.labels : argmaxRows(scoreSplit((x) => ensemble.probabilities(x), { images, labels: data.labels, count: plan.images }, shape), 10);
  let queries = 0;
  const rssAfterBatchMiB: number[] = [];
  // Bytes held by live tensors: flat from batch to batch means no tensor leaks (RSS also holds V8's heap).
  const tensorMiBAfterBatch: number[] = [];
  const wall = performance.now();
  const cpu = cpuSecondsNow();
  for (let start = 0; start < plan.images; start += batchSize) {
    const n = Math.min(batchSize, plan.images - start);
    tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(start * pixels, (start + n) * pixels), [n, ...shape]);
      const y = tf.oneHot(tf.tensor1d(Int32Array.from(labels.subarray(start, start + n)), 'int32'), 10).toFloat() as tf.Tensor2D;
      const result = runAttack(spec, hooks, x, y, scored, start / batchSize);
      result.adversarial.dataSync();
      if (result.queries) queries += tf.sum(result.queries).arraySync() as number;
    });
    rssAfterBatchMiB.push(Math.round(process.memoryUsage().rss / MiB));
    tensorMiBAfterBatch.push(Math.round(tf.memory().numBytes / MiB));
  }
  const seconds = (performance.now() - wall) / 1000;
  const cpuSeconds = cpuSecondsNow() - cpu;
  ensemble.dispose();
  const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  const what = `${plan.dataset} ${plan.attack} ${plan.grad ? `grad${plan.grad}` : `${(queries / plan.images).toFixed(0)} queries per image`} ${ENSEMBLE_SIZE} members ${plan.images} ${plan.realImages ? 'test' : 'random'} images`;
  return {
    name,
    line: `${what} ${seconds.toFixed(1)} s, ${(plan.images / seconds).toFixed(1)} images/s, peak RSS ${peakRssMiB} MiB (after each batch: RSS ${rssAfterBatchMiB.join(', ')} MiB; live tensors ${tensorMiBAfterBatch.join(', ')} MiB)`,
    value: seconds,
    unit: 's',
    details: { ...plan, batchSize, params: spec.params, queriesPerImage: queries / plan.images, seconds, cpuSeconds, imagesPerSecond: plan.images / seconds, peakRssMiB, rssAfterBatchMiB, tensorMiBAfterBatch },
  };
}

/** A worker's training window: what it reports to the parent once released. */
interface WorkerReport {
  samples: number;
  startMs: number;
  endMs: number;
  cpuSeconds: number;
  peakRssMiB: number;
}

function parallelBatches(dataset: string, quick: boolean): number {
  if (dataset === 'mnist') return quick ? 10 : 40;
  return quick ? 3 : 8;
}

/** Worker side: warm up, say ready, train `batches` steps once the parent says go, report. */
async function runTrainWorker(dataset: string, batches: number): Promise<WorkerReport> {
  const model = buildModel(baseModelFor(dataset), SEED);
  const optimizer = adam(LEARNING_RATE);
  const { x, y } = benchBatch(dataset, SEED);
  for (let i = 0; i < 2; i++) trainStep(model, optimizer, x, y);
  await new Promise<void>((go) => {
    process.once('message', () => go());
    process.send!({ ready: true });
  });
  const startMs = Date.now();
  const cpu = cpuSecondsNow();
  for (let i = 0; i < batches; i++) trainStep(model, optimizer, x, y);
  return { samples: batches * BATCH, startMs, endMs: Date.now(), cpuSeconds: cpuSecondsNow() - cpu, peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) };
}

function forkChild(args: string[]) {
  return fork(SCRIPT, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

/** Starts `workers` training processes, releases them together once all are warm, returns their reports. */
async function runWorkers(dataset: string, workers: number, settings: Settings): Promise<WorkerReport[]> {
  const batches = String(parallelBatches(dataset, settings.quick));
  const children = Array.from({ length: workers }, () => forkChild(['--worker', dataset, '--batches', batches, '--backend', settings.backend]));
  const ready: Promise<void>[] = [];
  const reports: Promise<WorkerReport>[] = [];
  for (const child of children) {
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`bench worker exited (code ${code}) before reporting`))));
    ready.push(Promise.race([new Promise<void>((resolveReady) => child.once('message', () => resolveReady())), exited]));
    reports.push(Promise.race([new Promise<WorkerReport>((resolveReport) => child.on('message', (m: { report?: WorkerReport }) => m.report && resolveReport(m.report))), exited]));
  }
  await Promise.all(ready);
  children.forEach((child) => child.send({ go: true }));
  return Promise.all(reports);
}

/** Whole-machine samples/s: all workers' samples over the span from the first start to the last end. */
function machineRate(reports: WorkerReport[]): number {
  const samples = reports.reduce((sum, r) => sum + r.samples, 0);
  const span = (Math.max(...reports.map((r) => r.endMs)) - Math.min(...reports.map((r) => r.startMs))) / 1000;
  return samples / span;
}

async function measureParallel(dataset: string, settings: Settings): Promise<Measure> {
  const single = await runWorkers(dataset, 1, settings);
  const parallel = await runWorkers(dataset, settings.workers, settings);
  const oneRate = machineRate(single);
  const allRate = machineRate(parallel);
  // On a shared machine the workers may not each get a core: report the share of a core each had, and
  // samples per CPU-second, which shows what contention between the workers themselves costs.
  const coreShare = parallel.map((r) => r.cpuSeconds / ((r.endMs - r.startMs) / 1000));
  const perCpuSecond = (reports: WorkerReport[]) => reports.map((r) => Math.round(r.samples / r.cpuSeconds));
  const share = `workers had ${coreShare.map((c) => `${Math.round(100 * c)}%`).join(', ')} of a core`;
  const cpuRates = `samples per CPU-second ${perCpuSecond(parallel).join(' + ')} vs ${perCpuSecond(single)[0]} alone`;
  return {
    name: `${dataset}-parallel`,
    line: `${dataset} train ${settings.workers} workers × 1 thread ${Math.round(allRate)} samples/s (1 worker ${Math.round(oneRate)} samples/s, ${(allRate / oneRate).toFixed(2)}x; ${share}; ${cpuRates})`,
    value: allRate,
    unit: 'samples/s',
    details: {
      workers: settings.workers,
      coreShare,
      oneWorker: { samplesPerSecond: oneRate, samplesPerCpuSecond: perCpuSecond(single), reports: single },
      allWorkers: { samplesPerSecond: allRate, samplesPerCpuSecond: perCpuSecond(parallel), reports: parallel },
    },
  };
}

/** Runs one attack measure in a fresh process, so that its peak RSS belongs to the attack alone. */
function measureInChild(name: string, settings: Settings): Promise<Measure> {
  return new Promise((resolveMeasure, reject) => {
    const child = forkChild(['--child', name, '--backend', settings.backend, ...(settings.quick ? ['--quick'] : [])]);
    let measure: Measure | undefined;
    child.on('message', (message: { measure?: Measure }) => (measure = message.measure ?? measure));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && measure ? resolveMeasure(measure) : reject(new Error(`bench child '${name}' exited with code ${code}`))));
  });
}

/** The step `--profile` times, built for its kind, and how its line names it. */
function profiledStep(dataset: string, kind: string): { step: () => void; what: string } {
  const { x, y } = benchBatch(dataset, SEED);
  if (kind === 'grad2' || kind === 'grad3') {
    // One gradient of a 10-member ensemble over an attack's batch, as BIM asks for it at each step.
    const ensemble = new Ensemble(Array.from({ length: ENSEMBLE_SIZE }, (_, i) => buildModel(baseModelFor(dataset), SEED + i)));
    const { gradient } = gradientHooks(ensemble, { grad: kind === 'grad2' ? '2' : '3', member: 0, loss: 'logits' });
    const copies = Math.ceil(ATTACK_BATCH_SIZE / BATCH);
    const [bx, by] = tf.tidy(() => [tf.concat(Array(copies).fill(x)).slice(0, ATTACK_BATCH_SIZE) as tf.Tensor4D, tf.concat(Array(copies).fill(y)).slice(0, ATTACK_BATCH_SIZE) as tf.Tensor2D]);
    return { step: () => tf.tidy(() => void gradient(bx, by).dataSync()), what: `Grad. ${kind.slice(-1)} of ${ENSEMBLE_SIZE} members (batch ${ATTACK_BATCH_SIZE})` };
  }
  const model = buildModel(baseModelFor(dataset), SEED);
  if (kind === 'input-grad') {
    const gradient = tf.grad((input: tf.Tensor) => crossEntropyFromLogits(y, model.apply(input, { training: false }) as tf.Tensor2D));
    return { step: () => tf.tidy(() => void gradient(x).dataSync()), what: `input gradient (batch ${BATCH})` };
  }
  const optimizer = adam(LEARNING_RATE);
  if (kind === 'pgd-train') {
    // PGD adversarial training as reproduce runs it, past its ε ramp; the random start drawn per step.
    const params = methodParams(trainConfig({ dataset, method: 'pgd-adversarial-training', ...REPRODUCE_PGD_TRAINING.params(datasetDescriptor(dataset)) }));
    const schedule = { eps: params.atEps, alpha: params.atAlpha, steps: params.atSteps };
    const pgd = pgdTrainingLoss(() => schedule, SEED);
    let pgdSteps = 0;
    return { step: () => void trainStep(model, optimizer, x, y, pgd, pgdSteps++), what: `PGD training step, ${schedule.steps} steps of ${schedule.alpha} at ε ${schedule.eps} (batch ${BATCH})` };
  }
  return { step: () => trainStep(model, optimizer, x, y), what: `train step (batch ${BATCH})` };
}

/**
 * `--profile mnist|cifar10[-input-grad|-grad2|-grad3|-pgd-train]`: CPU milliseconds per training step (or per input-gradient
 * batch, what the attacks run, or per Grad. 2 / Grad. 3 gradient of a 10-member ensemble) spent in each kernel of the active backend, by kernel and input shapes. A kernel
 * that runs other kernels (the wasm training kernels do) is charged for all of them; what the rows do not
 * add up to is tfjs's own bookkeeping between kernels.
 */
function profileStep(target: string, settings: Settings): void {
  const [, dataset, kind = 'train'] = /^(\w+?)(?:-(input-grad|grad2|grad3|pgd-train))?$/.exec(target)!;
  const { step, what } = profiledStep(dataset, kind);
  const { warmup, repeats } = trainRepeats(dataset, settings.quick);
  for (let i = 0; i < warmup; i++) step();
  const backendName = tf.getBackend();
  const spent = new Map<string, number>();
  let depth = 0;
  for (const config of tf.getKernelsForBackend(backendName)) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, backendName);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        if (depth > 0) return inner(args);
        depth++;
        const start = cpuSecondsNow();
        try {
          return inner(args);
        } finally {
          depth--;
          const shapes = Object.values(args.inputs).map((t) => (t ? t.shape.join('x') : '-'));
          const key = `${config.kernelName} ${shapes.join(', ')}`;
          spent.set(key, (spent.get(key) ?? 0) + cpuSecondsNow() - start);
        }
      },
    });
  }
  const timings = timeRepeated(step, 0, repeats);
  const stepMs = (1000 * timings.cpuSeconds.reduce((a, b) => a + b, 0)) / repeats;
  const kernelMs = (1000 * [...spent.values()].reduce((a, b) => a + b, 0)) / repeats;
  console.log(`profile ${dataset} ${what}: ${stepMs.toFixed(1)} CPU ms per step, ${kernelMs.toFixed(1)} in kernels`);
  for (const [key, seconds] of [...spent].sort((a, b) => b[1] - a[1])) {
    const ms = (1000 * seconds) / repeats;
    if (ms >= 0.05) console.log(`  ${ms.toFixed(2).padStart(8)} ms  ${key}`);
  }
}

type MeasureFn = (settings: Settings) => Measure | Promise<Measure>;

function measureTable(settings: Settings): Record<string, MeasureFn> {
  const attacks = attackPlans(settings);
  return {
    'mnist-train': (s) => measureTrain('mnist', s),
    'cifar10-train': (s) => measureTrain('cifar10', s),
    'mnist-input-grad': (s) => measureInputGrad('mnist', s),
    'cifar10-input-grad': (s) => measureInputGrad('cifar10', s),
    'mnist-epoch': measureMnistEpoch,
    ...Object.fromEntries(Object.keys(attacks).map((name) => [name, (s: Settings) => measureInChild(name, s)])),
    'mnist-parallel': (s) => measureParallel('mnist', s),
    'cifar10-parallel': (s) => measureParallel('cifar10', s),
  };
}

function loadAverage(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}

function parseCommandLine() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      compare: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      workers: { type: 'string', default: String(Math.min(2, availableParallelism())) },
      out: { type: 'string', default: RESULTS_DIR },
      // Internal: the parent starts children with these.
      child: { type: 'string' },
      worker: { type: 'string' },
      batches: { type: 'string' },
    },
  });
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) throw usageError(`--workers: expected an integer ≥ 1 (got '${values.workers}')`);
  const settings: Settings = { quick: values.quick, backend: parseBackend(values.backend), workers };
  return { values, settings };
}

async function main(): Promise<void> {
  const { values, settings } = parseCommandLine();
  const backend: BackendInfo = await initBackend(settings.backend);
  if (values.worker) {
    const report = await runTrainWorker(values.worker as string, Number(values.batches));
    process.send!({ report });
    return;
  }
  if (values.profile) {
    const targets = Object.keys(IMAGE_SHAPES).flatMap((d) => [d, `${d}-input-grad`, `${d}-grad2`, `${d}-grad3`, `${d}-pgd-train`]);
    if (!targets.includes(values.profile)) throw usageError(`--profile: expected one of ${targets.join(', ')} (got '${values.profile}')`);
    profileStep(values.profile, settings);
    return;
  }
  const table = measureTable(settings);
  if (values.child) {
    const plan = attackPlans(settings)[values.child];
    process.send!({ measure: measureAttack(values.child, plan) });
    return;
  }
  // The native / wasm / PyTorch comparison: alone with --compare, first in a plain `npm run bench`.
  let comparison: { lines: string[]; details: Record<string, unknown> } | undefined;
  if (values.compare || (!values.only && values.backend === 'auto')) {
    const { compareBackends } = await import('./bench-native.ts');
    comparison = await compareBackends({ quick: settings.quick, workers: settings.workers });
    comparison.lines.forEach((line) => console.log(line));
  }
  const names = values.compare ? [] : values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(table);
  const unknown = names.filter((name) => !(name in table));
  if (unknown.length > 0) throw usageError(`--only: unknown measure '${unknown[0]}' (allowed: ${Object.keys(table).join(', ')})`);

  const startedAt = new Date();
  const machine = { cpuModel: cpus()[0]?.model ?? 'unknown', cores: cpus().length, availableParallelism: availableParallelism(), memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverageAtStart: loadAverage() };
  process.stderr.write(
    `bench: ${backend.name} (${backend.package} ${backend.version}, ${backend.threads || 'native'} thread(s)) on ${machine.cores}× ${machine.cpuModel}, load average ${machine.loadAverageAtStart.join(' ')}${settings.quick ? ', quick' : ''}\n`,
  );
  const measures: Array<Measure & { loadAverageBefore: number[]; loadAverageAfter: number[] }> = [];
  for (const name of names) {
    const loadAverageBefore = loadAverage();
    const measure = await table[name](settings);
    measures.push({ ...measure, loadAverageBefore, loadAverageAfter: loadAverage() });
    console.log(measure.line);
  }
  const file = join(values.out, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(values.out, { recursive: true });
  writeJsonAtomic(file, {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    settings: { ...settings, batch: BATCH, only: names },
    machine: { ...machine, loadAverageAtEnd: loadAverage() },
    backend,
    versions: packageVersions(),
    measures,
    ...(comparison ? { comparison: comparison.details } : {}),
  });
  process.stderr.write(`bench: wrote ${file}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UserError) {
    process.stderr.write(`bench: ${error.message}\n`);
    process.exit(error.exitCode);
  }
  if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`bench: ${error.message}; options: --quick, --compare, --only NAMES, --profile mnist|cifar10[-input-grad|-grad2|-grad3|-pgd-train], --backend NAME, --workers N, --out DIR\n`);
    process.exit(USAGE_EXIT);
  }
  throw error;
});

