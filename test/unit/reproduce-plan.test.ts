import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildPlan } from '../../src/reproduce/plan.ts';
import { PRESETS } from '../../src/reproduce/presets.ts';
import { reproduce } from '../../src/reproduce/run.ts';
import { UserError } from '../../src/errors.ts';

describe('reproduce plan', () => {
  const plan = buildPlan(PRESETS.smoke, ['mnist']);

  it('trains every run of Tables 2 and 4 plus a surrogate, each before its attacks', () => {
    const trained = plan.filter((s) => s.kind === 'train').map((s) => s.runName);
    assert.deepEqual(trained.sort(), [
      'mnist-adversarial-training',
      'mnist-bagging',
      'mnist-bagging-and-adversarial-training',
      'mnist-bagging-and-distillation',
      'mnist-distillation',
      'mnist-gaussian-noise',
      'mnist-mixed-models',
      'mnist-random-init',
      'mnist-surrogate',
    ]);
    plan.forEach((step, i) => {
      if (step.kind !== 'attack') return;
      const trainedAt = plan.findIndex((s) => s.kind === 'train' && s.runName === step.runName);
      assert.ok(trainedAt >= 0 && trainedAt < i, `${step.id} comes after its training`);
      if (step.surrogate) assert.ok(plan.findIndex((s) => s.kind === 'train' && s.runName === step.surrogate) < i);
    });
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
    const suites = plan.flatMap((s) => (s.kind === 'attack' && s.job.attack?.attack === 'worst-case' ? [s] : []));
    assert.deepEqual(suites.map((s) => s.runName), trained.filter((name) => name !== 'mnist-surrogate'));
    assert.ok(suites.every((s) => s.job.grad === '3' && s.job.attack?.params.steps === 10 && s.job.attack?.params.queries === 100 && s.testLimit === 200));
    const figure = plan.find((s) => s.kind === 'figure');
    assert.ok(figure && figure.kind === 'figure' && figure.path === 'figures/figure1-mnist.png' && figure.job.attack?.attack === 'bim' && figure.job.grad === '1');
    const sweepEps = new Set(plan.flatMap((s) => (s.kind === 'attack' && s.job.attack?.attack === 'fgsm' && s.runName === 'mnist-bagging' ? [s.job.attack.params.eps] : [])));
    assert.ok(sweepEps.size >= 3);
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
