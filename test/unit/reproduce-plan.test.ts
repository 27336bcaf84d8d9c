import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveAttack } from '../../src/attacks/registry.ts';
import { datasetDescriptor } from '../../src/datasets/registry.ts';
import { buildPlan, planRuns, selectRuns, type Step, type TrainStep } from '../../src/reproduce/plan.ts';
import { PRESETS } from '../../src/reproduce/presets.ts';
import { budgetShares, describeEstimate, Eta } from '../../src/reproduce/estimate.ts';
import { describeSitting, reproduce, REPORT_STEP } from '../../src/reproduce/run.ts';
import { cpuTicks, measureParallelTraining, othersShare } from '../../src/reproduce/speed.ts';
import { memberProcesses } from '../../src/training/worker-pool.ts';
import { slurmStatus } from '../../src/cluster/executor.ts';
import { UserError } from '../../src/errors.ts';
import { appendResults, resultsPath } from '../../src/eval/results.ts';
import { writeManifest } from '../../src/run/manifest.ts';
import { runManifest } from '../helpers/reliability.ts';
import { resultRow } from '../helpers/results.ts';

describe('reproduce plan', () => {
  const plan = buildPlan(PRESETS.smoke, ['mnist']);

  it('--runs: a part of the plan is its runs\' steps, plus the surrogate their transfer attacks need', () => {
    const part = selectRuns(plan, ['mnist-random-init', 'mnist-bagging']);
    assert.deepEqual(planRuns(part), ['mnist-random-init', 'mnist-bagging', 'mnist-surrogate']);
    assert.deepEqual(
      part.filter((s) => s.kind !== 'train').map((s) => s.id),
      plan.filter((s) => s.kind !== 'train' && ['mnist-random-init', 'mnist-bagging'].includes(s.runName)).map((s) => s.id),
    );
    assert.ok(part.some((s) => s.kind === 'attack' && s.surrogate === 'mnist-surrogate'));
    assert.ok(part.some((s) => s.kind === 'figure'));
    // Parts together are the whole plan.
    const rest = selectRuns(plan, planRuns(plan).filter((r) => !['mnist-random-init', 'mnist-bagging', 'mnist-surrogate'].includes(r)));
    assert.deepEqual(new Set([...part, ...rest].map((s) => s.id)), new Set(plan.map((s) => s.id)));
    assert.throws(
      () => selectRuns(plan, ['mnist-bagging', 'mnist-nope']),
      (e: unknown) => e instanceof UserError && /^--runs: mnist-nope is not in this plan \(its runs: mnist-random-init, /.test(e.message),
    );
  });

  it('trains every run of Tables 2 and 4 plus a surrogate, each before its attacks', () => {
    const trained = plan.filter((s) => s.kind === 'train').map((s) => s.runName);
    assert.deepEqual(trained.sort(), [
      'mnist-adversarial-training',
      'mnist-bagging',
      'mnist-bagging-and-adversarial-training',
      'mnist-bagging-and-distillation',
      'mnist-distillation',
      'mnist-ensemble-pgd-adversarial-training-atAlpha0.04-atSteps10-atRampEpochs1',
      'mnist-gaussian-noise',
      'mnist-mixed-models',
      'mnist-pgd-adversarial-training-atAlpha0.04-atSteps10-atRampEpochs1',
      'mnist-random-init',
      'mnist-random-init-and-pgd-adversarial-training-atAlpha0.04-atSteps10-atRampEpochs1',
      'mnist-surrogate',
    ]);
    plan.forEach((step, i) => {
      if (step.kind !== 'attack') return;
      const trainedAt = plan.findIndex((s) => s.kind === 'train' && s.runName === step.runName);
      assert.ok(trainedAt >= 0 && trainedAt < i, `${step.id} comes after its training`);
      if (step.surrogate) assert.ok(plan.findIndex((s) => s.kind === 'train' && s.runName === step.surrogate) < i);
    });
  });

  it('beyond the paper: PGD training and two ensembles of it, at most 3 members, attacked like a Table 4 row and by the suite', () => {
    for (const dataset of ['mnist', 'cifar10']) {
      const full = buildPlan(PRESETS.paper, [dataset]);
      const descriptor = datasetDescriptor(dataset);
      const runs = full.filter((s): s is TrainStep => s.kind === 'train' && s.config.method.includes('pgd'));
      assert.deepEqual(runs.map((s) => s.config.method), ['pgd-adversarial-training', 'random-init+pgd-adversarial-training', 'ensemble-pgd-adversarial-training']);
      for (const { config, runName } of runs) {
        assert.equal(config.members, config.method === 'pgd-adversarial-training' ? 1 : 3, runName);
        assert.equal(config.epochs, descriptor.training.epochs);
        assert.equal(config.atRampEpochs, 1);
        assert.equal(config.atEps, descriptor.paperAttacks.fgsm.eps, 'the paper\'s ε');
        // At most 10 PGD steps, and n·α as far as the default's (MNIST: Madry et al.'s 40 × 0.01; CIFAR-10's 7 steps stay).
        assert.equal(config.atSteps, Math.min(10, descriptor.training.pgdTraining.steps));
        assert.ok(Math.abs((config.atSteps as number) * (config.atAlpha as number) - descriptor.training.pgdTraining.steps * descriptor.training.pgdTraining.alpha) < 1e-9, runName);
        const attacks = full.filter((s) => s.kind === 'attack' && s.runName === runName).map((s) => (s.kind === 'attack' ? `${s.job.attack?.definition.id ?? 'none'}:g${s.job.grad ?? ''}` : ''));
        for (const expected of ['none:g', 'fgsm:g3', 'bim:g3', 'worst-case:g3']) {
          assert.ok(attacks.includes(config.members > 1 ? expected : expected.replace('g3', expected.startsWith('worst') ? 'g3' : 'g1')), `${runName} ${expected}`);
        }
      }
    }
  });

  it('step ids are unique and stable', () => {
    assert.equal(new Set(plan.map((s) => s.id)).size, plan.length);
    assert.deepEqual(buildPlan(PRESETS.smoke, ['mnist']).map((s) => s.id), plan.map((s) => s.id));
  });

  it('covers Table 2 (both loss forms, Grad. 1-3), Table 4, PGD, sweeps and transfer', () => {
    const ids = plan.map((s) => s.id);
    for (const loss of ['logits', 'clipped-probs']) {
      for (const g of ['1', '2', '3']) assert.ok(ids.includes(`attack:mnist-random-init:bim-e0.2-a0.025-n8:g${g}:${loss}:n200`), `${g} ${loss}`);
    }
    assert.ok(ids.some((id) => id.startsWith('attack:mnist-distillation:fgsm-e0.3:g1:')));
    assert.ok(ids.some((id) => id.startsWith('attack:mnist-bagging:pgd-')));
    assert.ok(ids.some((id) => id.includes('n16:g3')));
    assert.ok(ids.some((id) => id.endsWith(':from-mnist-surrogate')));
    // The worst-case suite with the preset's budgets on every attacked run, none on the surrogate.
    const trained = plan.flatMap((s) => (s.kind === 'train' ? [s.runName] : []));
    const suites = plan.flatMap((s) => (s.kind === 'attack' && s.job.attack?.definition.id === 'worst-case' ? [s] : []));
    assert.deepEqual(suites.map((s) => s.runName), trained.filter((name) => name !== 'mnist-surrogate'));
    assert.ok(suites.every((s) => s.job.grad === '3' && s.job.attack?.params.steps === 10 && s.job.attack?.params.queries === 100 && s.testLimit === 200));
    const figure = plan.find((s) => s.kind === 'figure');
    assert.ok(figure && figure.kind === 'figure' && figure.path === 'figures/figure1-mnist.svg' && figure.job.attack?.definition.id === 'bim' && figure.job.grad === '1');
    const sweepEps = new Set(plan.flatMap((s) => (s.kind === 'attack' && s.job.attack?.definition.id === 'fgsm' && s.runName === 'mnist-bagging' ? [s.job.attack.params.eps] : [])));
    assert.ok(sweepEps.size >= 3);
  });

  it('scales per data set: the cpu preset trims CIFAR-10 further than MNIST; --data-dir reaches every training config', () => {
    const cifar = buildPlan(PRESETS.cpu, ['cifar10'], { cifar10: '/data/standin' });
    const mnist = buildPlan(PRESETS.cpu, ['mnist']);
    const trainOf = (steps: Step[], name: string) => steps.find((s): s is TrainStep => s.kind === 'train' && s.runName === name)!;
    const cifarScale = PRESETS.cpu.scale(datasetDescriptor('cifar10'));
    assert.equal(trainOf(cifar, 'cifar10-bagging').config.members, cifarScale.members);
    assert.equal(trainOf(cifar, 'cifar10-bagging').config.trainLimit, cifarScale.trainLimit);
    assert.equal(trainOf(mnist, 'mnist-bagging').config.members, 5);
    assert.equal(trainOf(mnist, 'mnist-bagging').config.trainLimit, undefined);
    assert.ok(cifar.every((s) => s.kind !== 'train' || s.config.dataDir === '/data/standin'));
    assert.ok(mnist.every((s) => s.kind !== 'train' || s.config.dataDir === undefined));
    // The data directory is where the files are, not what the run is: step ids do not depend on it.
    assert.deepEqual(buildPlan(PRESETS.cpu, ['cifar10']).map((s) => s.id), cifar.map((s) => s.id));
  });

  it("estimates from the measured speed, then from the finished steps of the same kind, data set and attack", () => {
    const speeds = { mnist: { trainSamplesPerSecond: 2000, gradientsPerSecond: 500 } };
    const eta = new Eta(speeds);
    const train = plan.find((s): s is TrainStep => s.kind === 'train')!;
    const bim = plan.find((s) => s.kind === 'attack' && s.job.attack?.definition.id === 'bim')!;
    const fgsm = plan.find((s) => s.kind === 'attack' && s.job.attack?.definition.id === 'fgsm')!;
    // Cost units are training samples (× work per sample) and input-gradient evaluations.
    assert.equal(eta.seconds(train), train.cost / 2000);
    assert.equal(eta.seconds(bim), bim.cost / 500);
    eta.record(bim, 3 * (bim.cost / 500));
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-9 * b, `${a} ≈ ${b}`);
    close(eta.seconds(bim), (3 * bim.cost) / 500);
    assert.equal(eta.seconds(fgsm), fgsm.cost / 500, 'another attack keeps the measured speed');
    close(eta.remaining([train, bim]), train.cost / 2000 + (3 * bim.cost) / 500);
    // The suite stops at each image's first success: its share is stated as a bound.
    const suite = plan.find((s) => s.kind === 'attack' && s.job.attack?.definition.id === 'worst-case')!;
    assert.match(describeEstimate([train, suite], new Eta(speeds)), /up to .* first success/);
    assert.doesNotMatch(describeEstimate([train, bim], new Eta(speeds)), /up to/);
    // The next sitting, on a machine twice as fast: the measured speed is new, the learned ratio carries.
    const suiteTimed = new Eta(speeds);
    suiteTimed.record(suite, 0.1 * (suite.cost / 500));
    const next = new Eta({ mnist: { trainSamplesPerSecond: 4000, gradientsPerSecond: 1000 } }, suiteTimed.learned());
    close(next.seconds(suite), 0.1 * (suite.cost / 1000));
    close(next.seconds(bim), bim.cost / 1000);
    assert.doesNotMatch(describeEstimate([suite], next), /up to/, 'a timed suite is no longer a bound');
  });

  it('predicts members trained in parallel workers from the workers\' measured speed, a joint run or a single model from the process\'s', () => {
    const speeds = { mnist: { trainSamplesPerSecond: 800, parallelTraining: { workers: 2, samplesPerSecond: 1500 }, gradientsPerSecond: 500 } };
    const paper = buildPlan(PRESETS.paper, ['mnist']);
    const trainOf = (method: string) => paper.find((s): s is TrainStep => s.kind === 'train' && s.config.method === method)!;
    const [ensemble, single, joint] = [trainOf('bagging'), trainOf('distillation'), trainOf('ensemble-pgd-adversarial-training')];
    assert.deepEqual([ensemble.separateMembers, single.separateMembers, joint.separateMembers], [10, 1, 1], "a joint run's members train together in one process");
    const eta = new Eta(speeds);
    assert.equal(eta.seconds(ensemble), ensemble.cost / 1500);
    assert.equal(eta.seconds(single), single.cost / 800);
    assert.equal(eta.seconds(joint), joint.cost / 800);
    const twoMembers = { ...ensemble, separateMembers: 2 };
    const fourWorkers = new Eta({ mnist: { ...speeds.mnist, parallelTraining: { workers: 4, samplesPerSecond: 3000 } } });
    assert.equal(fourWorkers.seconds(twoMembers), twoMembers.cost / 1500, 'two members keep two of the four workers busy');
    assert.equal(new Eta({ mnist: { trainSamplesPerSecond: 800, gradientsPerSecond: 500 } }).seconds(ensemble), ensemble.cost / 800, 'no parallel measure: the process\'s speed');
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-9 * b, `${a} ≈ ${b}`);
    // One worker process per member, in rounds of one member at 750 samples/s each after a start; 3 members
    // on 2 workers are one round of 3 processes sharing the 2 cores, so 1.5 members' time.
    const [threeMembers, fiveMembers] = [{ ...ensemble, separateMembers: 3 }, { ...ensemble, separateMembers: 5 }];
    close(eta.seconds(threeMembers), 1.5 * (threeMembers.cost / 3 / 750));
    close(eta.seconds(fiveMembers), 3 * (fiveMembers.cost / 5 / 750));
    const started = new Eta({ mnist: { ...speeds.mnist, parallelTraining: { ...speeds.mnist.parallelTraining, startupSeconds: 1.5 } } });
    close(started.seconds(ensemble), 5 * 1.5 + ensemble.cost / 1500);
    close(started.seconds(threeMembers), 1.5 * (1.5 + threeMembers.cost / 3 / 750));
    // A ratio learned when training was predicted from the process's speed alone does not carry.
    assert.equal(new Eta(speeds, { 'mnist:train:': { seconds: 3, predicted: 1 } }).seconds(ensemble), ensemble.cost / 1500);
  });

  it('runs every member at once only where that saves a round: between one and two full rounds of workers', () => {
    const cases: [members: number, workers: number, processes: number][] = [[1, 2, 1], [2, 2, 2], [3, 2, 3], [4, 2, 2], [5, 2, 2], [10, 2, 2], [5, 4, 5], [7, 4, 7], [8, 4, 4], [3, 1, 1], [2, 8, 2]];
    for (const [members, workers, processes] of cases) assert.equal(memberProcesses(members, workers), processes, `${members} members on ${workers} workers`);
  });

  it('measures parallel training in worker processes released together, and gives up on a worker that fails', async () => {
    const measured = await measureParallelTraining('mnist', 2, 'wasm');
    assert.ok(measured !== undefined && measured.workers === 2 && measured.samplesPerSecond > 0, `two wasm workers together: ${JSON.stringify(measured)}`);
    // Two node processes cannot start, load the backend and warm up in no time, nor take the minute the probe allows.
    assert.ok(measured.startupSeconds! > 0.05 && measured.startupSeconds! < 60, `started in ${measured.startupSeconds} s`);
    assert.equal(await measureParallelTraining('mnist', 2, 'no-such-backend'), undefined);
  });

  it('reads how much of the machine other processes took from the CPU ticks before and after', () => {
    assert.equal(othersShare({ machineBusy: 100, machineAll: 400, own: 50 }, { machineBusy: 300, machineAll: 800, own: 150 }), 0.25);
    assert.equal(othersShare({ machineBusy: 100, machineAll: 400, own: 50 }, { machineBusy: 200, machineAll: 800, own: 150 }), 0, 'only this process was busy');
    assert.equal(othersShare(undefined, { machineBusy: 1, machineAll: 2, own: 0 }), 0, 'unknown off Linux');
    const before = cpuTicks();
    if (before === undefined) return;
    const until = performance.now() + 300;
    let spin = 0;
    while (performance.now() < until) spin += Math.sqrt(spin + 1);
    const after = cpuTicks()!;
    assert.ok(spin > 0 && after.own > before.own && after.machineBusy - before.machineBusy >= after.own - before.own - 2, `${JSON.stringify(before)} → ${JSON.stringify(after)}`);
  });

  it("predicts an attack that stops at first success from the share of its budget saved runs of the same method used", () => {
    const mnist = datasetDescriptor('mnist');
    const suiteRow = (fields: Parameters<typeof resultRow>[0]) => resultRow({ attack: 'worst-case', grad: '3', loss: 'logits', n: 100, ...fields });
    // The plan prices an attack at (gradients per iteration + 0.5) per image and iteration.
    const units = (gradients: number, iterations: number) => 100 * iterations * (gradients + 0.5);
    const suiteIterations = resolveAttack(mnist, 'worst-case').definition.cost(suiteRow({}).params);
    const shares = budgetShares([
      {
        // BIM Grad. 2, 2 members, 8 steps, 100 images: 2,000 units in 16 s.
        dataset: 'mnist', method: 'bagging', members: 2,
        rows: [
          resultRow({ attack: 'bim', grad: '2', loss: 'logits', n: 100, seconds: 16 }),
          // One suite job writes a row per stage, each with the job's seconds: 30 s = 3,750 units at BIM's pace.
          ...[1, 2, 3].map((stages) => suiteRow({ params: { ...suiteRow({}).params, stages }, seconds: 30 })),
        ],
      },
      {
        // A single model: BIM Grad. 1 on 100 images, 1,200 units in 4 s (one job, scored twice).
        dataset: 'mnist', method: 'pgd-adversarial-training', members: 1,
        rows: [
          resultRow({ attack: 'bim', grad: '1', loss: 'logits', n: 100, seconds: 4, scored_on: 'single', member: '0' }),
          resultRow({ attack: 'bim', grad: '1', loss: 'logits', n: 100, seconds: 4, scored_on: 'ensemble', member: '0' }),
          suiteRow({ seconds: 60 }),
        ],
      },
      // No BIM to compare with: this run says nothing about the suite's share.
      { dataset: 'cifar10', method: 'bagging', members: 2, rows: [suiteRow({ dataset: 'cifar10', seconds: 1 })] },
    ]);
    assert.equal(units(2, 8), 2000);
    assert.equal(units(1, 8), 1200);
    const [baggingUsed, singleUsed] = [30 / (16 / units(2, 8)), 60 / (4 / units(1, 8))];
    assert.equal(baggingUsed, 3750);
    assert.equal(singleUsed, 18000);
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, b), `${a} ≈ ${b}`);
    close(shares['mnist:worst-case@bagging'], baggingUsed / units(2, suiteIterations));
    close(shares['worst-case@pgd-adversarial-training'], singleUsed / units(1, suiteIterations));
    close(shares['mnist:worst-case'], (baggingUsed + singleUsed) / (units(2, suiteIterations) + units(1, suiteIterations)));
    assert.equal(shares['cifar10:worst-case'], undefined);
    assert.equal(shares.bim, undefined);

    const speeds = { mnist: { trainSamplesPerSecond: 2000, gradientsPerSecond: 500 } };
    const cpuPlan = buildPlan(PRESETS.cpu, ['mnist']);
    const suiteOf = (method: string) => cpuPlan.find((s) => s.kind === 'attack' && s.method === method && s.job.attack?.definition.id === 'worst-case')!;
    const [bagging, randomInit] = [suiteOf('bagging'), suiteOf('random-init')];
    const bim = cpuPlan.find((s) => s.kind === 'attack' && s.job.attack?.definition.id === 'bim')!;
    const eta = new Eta(speeds, {}, shares);
    close(eta.seconds(bagging), shares['mnist:worst-case@bagging'] * (bagging.cost / 500));
    close(eta.bound(bagging), bagging.cost / 500);
    // No saved run of this method: the data set's share over every method.
    close(eta.seconds(randomInit), shares['mnist:worst-case'] * (randomInit.cost / 500));
    assert.match(describeEstimate([bagging, randomInit], eta), /worst-case at \d+–\d+%.*at most/);
    // Here BIM runs at twice its predicted time: the suites' predictions follow.
    eta.record(bim, 2 * (bim.cost / 500));
    close(eta.seconds(bagging), 2 * shares['mnist:worst-case@bagging'] * (bagging.cost / 500));
    // Once the suite has run here on a method, that method's own ratio is used; other methods keep their shares.
    eta.record(bagging, 0.05 * (bagging.cost / 500));
    close(eta.seconds(bagging), 0.05 * (bagging.cost / 500));
    close(eta.seconds(randomInit), 2 * shares['mnist:worst-case'] * (randomInit.cost / 500));
    assert.doesNotMatch(describeEstimate([bagging], eta), /at most|up to/);
  });

  it('a finished local reproduction records its report, so --status shows no step after training left to do', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ensdef-repro-'));
    const plan = buildPlan(PRESETS.smoke, ['mnist']);
    writeFileSync(join(out, 'reproduce-state.json'), JSON.stringify({ preset: 'smoke', datasets: ['mnist'], done: plan.map((s) => s.id) }));
    // Its runs' results, as the plan's steps left them (one clean-accuracy row stands for them here).
    writeManifest(join(out, 'runs', 'mnist-bagging'), runManifest({ method: 'bagging', members: 2, status: 'complete' }));
    appendResults(resultsPath(join(out, 'runs', 'mnist-bagging')), [resultRow({ accuracy: 0.9 })]);
    await reproduce({ preset: PRESETS.smoke, datasets: ['mnist'], outDir: out, workers: 1, backend: { name: 'cpu', package: '', version: '', threads: 1, trainingKernels: false }, command: 'test', log: () => {}, measureSpeed: () => ({ trainSamplesPerSecond: 1000, gradientsPerSecond: 1000 }) });
    const state = JSON.parse(readFileSync(join(out, 'reproduce-state.json'), 'utf8'));
    assert.ok(state.done.includes(REPORT_STEP));
    // A sitting keeps what the estimate predicted for the steps it finished, to be held against its time.
    const sitting = { started: '2026-12-07T08:00:00.000Z', seconds: 3300, estimated: 3000, machine: 'AMD EPYC ×2, 24 GiB', backend: 'native', steps: 9 };
    assert.match(describeSitting(sitting, 0), /55m00s to its last step \(estimated 50m00s at its start: \+10 %\), 9 steps/);
    assert.match(describeSitting({ ...sitting, seconds: 2400 }, 0), /: −20 %\)/);
    assert.match(describeSitting({ ...sitting, othersShare: 0.234 }, 0), /native, other processes took 23 % of the machine$/);
    // (Training steps are judged by their members' records, which this stand-in run does not have.)
    const status = slurmStatus({ preset: PRESETS.smoke, datasets: ['mnist'], outDir: out });
    assert.deepEqual(status.filter((s) => s.state !== 'done' && !s.stepId.startsWith('train:')), []);
  });

  it('refuses to continue an output directory made with another preset', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ensdef-repro-'));
    writeFileSync(join(out, 'reproduce-state.json'), JSON.stringify({ preset: 'cpu', datasets: ['mnist'], done: [] }));
    await assert.rejects(
      reproduce({ preset: PRESETS.smoke, datasets: ['mnist'], outDir: out, workers: 1, backend: { name: 'cpu', package: '', version: '', threads: 1, trainingKernels: false }, command: 'test', log: () => {}, measureSpeed: () => ({ trainSamplesPerSecond: 1000, gradientsPerSecond: 1000 }) }),
      (e: unknown) => e instanceof UserError && /--preset cpu/.test(e.message),
    );
  });
});
