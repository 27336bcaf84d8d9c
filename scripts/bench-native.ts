/**
 * `npm run bench -- --compare` (and the first part of a plain `npm run bench`): the native oneDNN path
 * against plain wasm and against PyTorch, in one run on one machine, so that ratios are comparable even
 * where absolute figures are not (shared machines).
 *
 * - ensdef: each path runs scripts/bench.ts in a child process (`--backend native|wasm`), one thread
 *   (ENSDEF_THREADS=1), then the whole machine as N worker processes × 1 thread, and (native) one process
 *   × N threads: the faster of the two is the default (docs/PERFORMANCE.md).
 * - PyTorch (scripts/torch_reference.py, when `python3 -c "import torch"` works): 1 thread, N threads,
 *   and N processes × 1 thread; its whole-machine figure is the better of the last two.
 * - fp32 peak: a large oneDNN sgemm (1 thread and N threads); the convolutions' share of it is their
 *   FLOPs over their time inside CIFAR-10 training steps, measured per kernel call.
 */
import * as tf from '@tensorflow/tfjs';
import { CONV_RELU_KERNEL } from '../src/backend/conv-relu.ts';
import { adam } from '../src/backend/fused-adam.ts';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNativeAddon, type NativeAddon } from '../src/backend/native-addon.ts';
import { initBackend } from '../src/backend/select.ts';
import { baseModelFor, buildModel } from '../src/datasets/registry.ts';
import { Rng } from '../src/run/rng.ts';
import { trainStep } from '../src/models/train-member.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const BENCH = join(HERE, 'bench.ts');
const TORCH = join(HERE, 'torch_reference.py');
const KERNEL_MEASURES = ['mnist-train', 'cifar10-train', 'mnist-input-grad', 'cifar10-input-grad'];

export interface CompareResult {
  lines: string[];
  details: Record<string, unknown>;
}

type Figures = Record<string, number>;

/** Runs scripts/bench.ts in a child and returns its measures by name (value), from the JSON it writes. */
function benchChild(backend: string, only: string[], quick: boolean, threads: number, extra: string[] = []): { values: Figures; details: Record<string, unknown> } {
  const out = mkdtempSync(join(tmpdir(), 'ensdef-bench-'));
  try {
    const args = ['--import', 'tsx', BENCH, '--backend', backend, '--only', only.join(','), '--out', out, ...(quick ? ['--quick'] : []), ...extra];
    const child = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ENSDEF_THREADS: String(threads) } });
    if (child.status !== 0) throw new Error(`bench child (${backend}) failed: ${child.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const file = readdirSync(out).find((f) => f.endsWith('.json'))!;
    const report = JSON.parse(readFileSync(join(out, file), 'utf8')) as { measures: Array<{ name: string; value: number; details: Record<string, unknown> }> };
    return { values: Object.fromEntries(report.measures.map((m) => [m.name, m.value])), details: Object.fromEntries(report.measures.map((m) => [m.name, m.details])) };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The python that has torch: `python3` first, then Debian's /usr/bin/python3 (pyenv shims often lack it). */
function torchPython(): string | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8', env: torchEnv() });
    if (probe.status === 0) return python;
  }
  return undefined;
}

/**
 * PyTorch's environment for `threads` threads. torch.set_num_threads does not reach OpenBLAS, which runs
 * the linear layers on its own pool (a "1 thread" process used ~2 CPU-seconds per second), so every pool
 * is pinned here. This machine also forces an older OpenBLAS core type: unset it for the child only.
 */
function torchEnv(threads = 1): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/** PyTorch's samples/s (wall) and, in `cpu`, per CPU-second of its process. */
function torchRunFull(python: string, threads: number, quick: boolean, only: string[]): Promise<{ wall: Figures; cpu: Figures; matmulGflops: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [TORCH, '--threads', String(threads), '--only', only.join(','), ...(quick ? ['--quick'] : [])], { env: torchEnv(threads) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`torch_reference.py failed: ${stderr.trim().split('\n').at(-1)}`));
      const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { results: Figures; perCpuSecond: Figures; matmulGflopsPerCpuSecond: number };
      resolve({ wall: report.results, cpu: report.perCpuSecond, matmulGflops: report.matmulGflopsPerCpuSecond });
    });
  });
}

async function torchRun(python: string, threads: number, quick: boolean, only: string[]): Promise<Figures> {
  return (await torchRunFull(python, threads, quick, only)).wall;
}

/** N PyTorch processes of one thread each at once; their summed rates. */
async function torchProcesses(python: string, n: number, quick: boolean, only: string[]): Promise<Figures> {
  const all = await Promise.all(Array.from({ length: n }, () => torchRun(python, 1, quick, only)));
  return Object.fromEntries(only.map((m) => [m, all.reduce((s, r) => s + r[m], 0)]));
}

/** CPU seconds this process has used (all its threads). */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * GFLOP/s of a 2048³ sgemm through oneDNN: the fp32 peak this machine reaches in practice. With one
 * thread, per CPU-second (what a shared machine cannot take away); with more, per wall second.
 */
function gemmPeak(addon: NativeAddon, threads: number): number {
  const n = 2048;
  const heap = new ArrayBuffer(3 * n * n * 4);
  const a = new Float32Array(heap, 0, n * n);
  a.fill(0.5);
  new Float32Array(heap, n * n * 4, n * n).fill(0.25);
  const previous = addon.getThreads();
  addon.setThreads(threads);
  const times: number[] = [];
  const clock = threads === 1 ? cpuSeconds : () => performance.now() / 1000;
  for (let i = 0; i < 5; i++) {
    const start = clock();
    addon.matMul(heap, { a: 0, b: n * n * 4, c: 2 * n * n * 4 }, { batch: 1, m: n, n, k: n, transposeA: false, transposeB: false, aBatchStride: 0, bBatchStride: 0 }, { relu: false });
    times.push(clock() - start);
  }
  addon.setThreads(previous);
  return (2 * n ** 3) / Math.min(...times) / 1e9;
}

const CONV_KERNELS = [CONV_RELU_KERNEL, 'Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];

/** Conv FLOPs and CPU seconds inside CIFAR-10 training steps on the native path (this process, 1 thread). */
function convThroughput(quick: boolean): { gflops: number; convShare: number; stepSeconds: number } {
  let seconds = 0;
  let flops = 0;
  for (const name of CONV_KERNELS) {
    const config = tf.getKernel(name, 'wasm')!;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        const start = cpuSeconds();
        const out = config.kernelFunc(args);
        seconds += cpuSeconds() - start;
        // 2·(output elements)·KH·KW·Cin for each of the three conv kernels: dy/y and the filter give it.
        const filter = (args.inputs.filter?.shape ?? (args.attrs as { filterShape: number[] }).filterShape) as number[];
        const outShape = name === 'Conv2DBackpropFilter' || name === 'Conv2DBackpropInput' ? args.inputs.dy!.shape : (Array.isArray(out) ? out[0] : out).shape;
        flops += 2 * outShape.reduce((p, d) => p * d, 1) * filter[0] * filter[1] * filter[2];
        return out;
      },
    });
  }
  const model = buildModel(baseModelFor('cifar10'), 7);
  const optimizer = adam(1e-3);
  const rng = new Rng(7);
  const x = tf.tensor4d(Float32Array.from({ length: 128 * 32 * 32 * 3 }, () => rng.next()), [128, 32, 32, 3]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from({ length: 128 }, () => rng.int(10)), 'int32'), 10).toFloat() as tf.Tensor2D);
  for (let i = 0; i < 2; i++) trainStep(model, optimizer, x, y);
  seconds = 0;
  flops = 0;
  const steps = quick ? 3 : 8;
  const start = cpuSeconds();
  for (let i = 0; i < steps; i++) trainStep(model, optimizer, x, y);
  const stepSeconds = (cpuSeconds() - start) / steps;
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return { gflops: flops / seconds / 1e9, convShare: seconds / steps / stepSeconds, stepSeconds };
}

/**
 * FLOPs of one sample through a model: forward 2·(outputs)·(kernel fan-in) per conv or dense layer; a
 * training step adds the weights gradient for every layer and the input gradient for all but the first;
 * an input gradient (what attacks compute) adds the input gradient of every layer.
 */
export function flopsPerSample(dataset: string): { train: number; inputGrad: number } {
  const model = buildModel(baseModelFor(dataset), 0);
  const forward = model.layers.map((layer) => {
    const kernel = layer.getWeights()[0];
    if (!kernel) return 0;
    const fanIn = kernel.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const units = kernel.shape[kernel.shape.length - 1];
    if (kernel.rank === 2) return 2 * fanIn * units;
    // A convolution's outputs before any pooling the layer does: 'valid' shrinks each side by the kernel less one.
    const [, height, width] = (layer.input as tf.SymbolicTensor).shape as number[];
    const shrink = layer.getConfig().padding === 'valid' ? kernel.shape[0] - 1 : 0;
    return 2 * (height - shrink) * (width - shrink) * units * fanIn;
  });
  model.dispose();
  const total = forward.reduce((a, b) => a + b, 0);
  const first = forward.find((f) => f > 0)!;
  return { train: 3 * total - first, inputGrad: 2 * total };
}

const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v >= 100 ? String(Math.round(v)) : v.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}x` : '–');

export async function compareBackends(options: { quick: boolean; workers?: number }): Promise<CompareResult> {
  const quick = options.quick;
  const n = options.workers ?? Math.min(2, availableParallelism());
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    process.stderr.write(`compare: ${line}\n`);
  };
  const { addon, reason } = loadNativeAddon();
  const paths = addon ? ['native', 'wasm'] : ['wasm'];
  if (!addon) say(`native path skipped: ${reason}`);
  const single: Record<string, Figures> = {};
  // Per CPU-second of the one-thread process: what a shared machine cannot take away (wall rates can).
  const perCpu: Record<string, Figures> = {};
  const machine: Record<string, Figures> = {};
  const details: Record<string, unknown> = { workers: n, paths };
  for (const path of paths) {
    const one = benchChild(path, KERNEL_MEASURES, quick, 1);
    single[path] = one.values;
    perCpu[path] = Object.fromEntries(KERNEL_MEASURES.map((m) => [m, (one.details[m] as { perCpuSecond: number }).perCpuSecond]));
    const parallel = benchChild(path, ['mnist-parallel', 'cifar10-parallel'], quick, 1, ['--workers', String(n)]);
    machine[path] = { 'mnist-train': parallel.values['mnist-parallel'], 'cifar10-train': parallel.values['cifar10-parallel'] };
    details[`${path}-parallel`] = parallel.details;
    say(`${path} 1 thread: ${KERNEL_MEASURES.map((m) => `${m} ${fmt(single[path][m])}`).join(', ')}; ${n} workers × 1 thread: mnist-train ${fmt(machine[path]['mnist-train'])}, cifar10-train ${fmt(machine[path]['cifar10-train'])}`);
  }
  if (addon) {
    const threaded = benchChild('native', ['mnist-train', 'cifar10-train'], quick, n).values;
    details.nativeThreads = threaded;
    say(`native 1 process × ${n} threads: mnist-train ${fmt(threaded['mnist-train'])}, cifar10-train ${fmt(threaded['cifar10-train'])} (vs ${n} workers × 1 thread: ${fmt(machine.native['mnist-train'])}, ${fmt(machine.native['cifar10-train'])})`);
    // The whole machine's figure for the native path is the better way of using it.
    for (const m of ['mnist-train', 'cifar10-train']) machine.native[m] = Math.max(machine.native[m], threaded[m]);
  }
  const python = torchPython();
  if (python) {
    const torchOne = await torchRunFull(python, 1, quick, KERNEL_MEASURES);
    single.torch = torchOne.wall;
    perCpu.torch = torchOne.cpu;
    const threads = await torchRun(python, n, quick, ['mnist-train', 'cifar10-train']);
    const procs = await torchProcesses(python, n, quick, ['mnist-train', 'cifar10-train']);
    machine.torch = Object.fromEntries(['mnist-train', 'cifar10-train'].map((m) => [m, Math.max(threads[m], procs[m])]));
    details.torch = { single: single.torch, threads, processes: procs };
    details.torchMatmulGflopsPerCpuSecond = torchOne.matmulGflops;
    if (torchOne.matmulGflops < 20) say(`pytorch's BLAS does ${fmt(torchOne.matmulGflops)} GFLOP/s on the MNIST dense layer: the reference BLAS, not a comparison (apt-get install libopenblas0-pthread)`);
    say(`pytorch 1 thread: ${KERNEL_MEASURES.map((m) => `${m} ${fmt(single.torch[m])}`).join(', ')}; ${n} threads: ${fmt(threads['mnist-train'])}, ${fmt(threads['cifar10-train'])}; ${n} processes: ${fmt(procs['mnist-train'])}, ${fmt(procs['cifar10-train'])}`);
  } else {
    say('pytorch skipped: `python3 -c "import torch"` fails (Debian: apt-get install python3-torch)');
  }
  const out: string[] = [];
  for (const path of paths) {
    for (const m of KERNEL_MEASURES) {
      out.push(
        `${path} ${m} 1 thread ${fmt(single[path][m])}/s` +
          (single.torch ? `, ${ratio(single[path][m], single.torch[m])} pytorch` : '') +
          (path === 'native' ? `, ${ratio(single.native[m], single.wasm[m])} wasm` : '') +
          `; per CPU-second ${fmt(perCpu[path][m])}` +
          (perCpu.torch ? `, ${ratio(perCpu[path][m], perCpu.torch[m])} pytorch` : '') +
          (path === 'native' ? `, ${ratio(perCpu.native[m], perCpu.wasm[m])} wasm` : ''),
      );
    }
    for (const m of ['mnist-train', 'cifar10-train']) {
      out.push(`${path} ${m} whole machine ${fmt(machine[path][m])}/s` + (machine.torch ? `, ${ratio(machine[path][m], machine.torch[m])} pytorch` : '') + (path === 'native' ? `, ${ratio(machine.native[m], machine.wasm[m])} wasm` : ''));
    }
  }
  if (addon) {
    const peak = await peakAndConvolutions(addon, n, quick);
    out.push(...peak.lines);
    Object.assign(details, peak.details);
    const { oneThreadGflopsPerCpuSecond: peak1, allThreadsGflops: peakN } = peak.details.peak as { oneThreadGflopsPerCpuSecond: number; allThreadsGflops: number };
    // The share of the limit: the FLOPs a rate implies over the sgemm peak (a compute-bound ideal).
    const flops = { mnist: flopsPerSample('mnist'), cifar10: flopsPerSample('cifar10') };
    const flopsOf = (m: string) => flops[m.startsWith('mnist') ? 'mnist' : 'cifar10'][m.endsWith('train') ? 'train' : 'inputGrad'];
    const share = (rate: number | undefined, m: string, peakGflops: number) => (rate ? `${Math.round((100 * rate * flopsOf(m)) / (peakGflops * 1e9))}%` : '–');
    details.flopsPerSample = flops;
    for (const who of [...paths, ...(perCpu.torch ? ['torch'] : [])]) {
      out.push(
        `${who === 'torch' ? 'pytorch' : who} share of the sgemm limit, 1 thread per CPU-second: ${KERNEL_MEASURES.map((m) => `${m} ${share(perCpu[who][m], m, peak1)}`).join(', ')}; ` +
          `whole machine: ${['mnist-train', 'cifar10-train'].map((m) => `${m} ${share(machine[who]?.[m], m, peakN)}`).join(', ')}`,
      );
    }
  }
  details.single = single;
  details.perCpuSecond = perCpu;
  details.machine = machine;
  return { lines: out, details };
}

/** The sgemm peak and the share of it CIFAR-10 training's convolutions reach (native path). */
export async function peakAndConvolutions(addon: NativeAddon, n: number, quick: boolean): Promise<CompareResult> {
  const out: string[] = [];
  const details: Record<string, unknown> = {};
  const peak1 = gemmPeak(addon, 1);
  const peakN = gemmPeak(addon, n);
  out.push(`fp32 peak (oneDNN sgemm 2048³) ${fmt(peak1)} GFLOP/s per CPU-second 1 thread, ${fmt(peakN)} GFLOP/s wall ${n} threads`);
  details.peak = { oneThreadGflopsPerCpuSecond: peak1, allThreadsGflops: peakN };
  // The conv share needs the native kernels in this process (bench.ts may have started another backend).
  if ((await initBackend('native')).name === 'native') {
    const threads = addon.getThreads();
    addon.setThreads(1);
    const conv = convThroughput(quick);
    addon.setThreads(threads);
    details.conv = conv;
    out.push(`cifar10 training convolutions ${fmt(conv.gflops)} GFLOP/s per CPU-second 1 thread = ${Math.round((100 * conv.gflops) / peak1)}% of the sgemm peak; convolutions take ${Math.round(100 * conv.convShare)}% of a ${(1000 * conv.stepSeconds).toFixed(0)} CPU-ms step`);
  }
  return { lines: out, details };
}
