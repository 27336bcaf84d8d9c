/**
 * The Slurm job graph without a cluster: every training run's flags rebuild exactly its config (a run
 * directory refuses any other), --sbatch splits as a shell would, job names are stable per --out, and
 * the graph has one array per run, attack jobs after their run's array, the report after everything.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { clusterJobs, jobName, jobPrefix, shellQuote, splitArgs, trainFlags, trainJob } from '../../src/cluster/executor.ts';
import { resolveTrainConfig, trainCommand } from '../../src/commands/train.ts';
import { buildPlan, type TrainStep } from '../../src/reproduce/plan.ts';
import { PRESETS } from '../../src/reproduce/presets.ts';
import { REPORT_STEP } from '../../src/reproduce/run.ts';
import { methodDefinition, trainConfig } from '../../src/training/methods.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test("each training run's sbatch flags parse back into exactly its config", () => {
  for (const preset of [PRESETS.smoke, PRESETS.paper]) {
    for (const step of buildPlan(preset, ['mnist', 'cifar10']).filter((s): s is TrainStep => s.kind === 'train')) {
      const command = trainCommand().exitOverride().action(() => {});
      command.parse(trainFlags(step.config), { from: 'user' });
      const parsed = JSON.parse(JSON.stringify(resolveTrainConfig(command.opts() as Parameters<typeof resolveTrainConfig>[0])));
      assert.deepEqual(parsed, JSON.parse(JSON.stringify(step.config)), step.id);
    }
  }
});

test('--sbatch splits into words as a shell would', () => {
  assert.deepEqual(splitArgs('--partition gpu  --gres=gpu:1 --time="4:00:00" --comment \'two words\''), ['--partition', 'gpu', '--gres=gpu:1', '--time=4:00:00', '--comment', 'two words']);
  assert.deepEqual(splitArgs(''), []);
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote('--gres=gpu:1'), '--gres=gpu:1');
});

test('job names are stable for one --out and differ between two', () => {
  assert.equal(jobName('/a/out', 'train:mnist-bagging'), jobName('/a/out', 'train:mnist-bagging'));
  assert.notEqual(jobPrefix('/a/out'), jobPrefix('/b/out'));
  assert.ok(jobName('/a/out', 'train:x').startsWith(jobPrefix('/a/out')));
});

test('the graph: one array per run (task i = member i), attacks after their arrays, the report after all', () => {
  const out = tempDir('cluster');
  const preset = PRESETS.smoke;
  const plan = buildPlan(preset, ['mnist']);
  const jobs = clusterJobs({ preset, datasets: ['mnist'], outDir: out }, () => false);
  assert.equal(jobs.length, plan.length + 1);
  const byStep = new Map(jobs.map((j) => [j.stepId, j]));
  for (const step of plan) {
    const job = byStep.get(step.id)!;
    assert.match(job.script, /#SBATCH --requeue/);
    if (step.kind === 'train' && methodDefinition(step.config.method).joint) {
      // Its members train together: one job (the next test).
      assert.equal(job.array, undefined);
      assert.deepEqual(job.after, []);
    } else if (step.kind === 'train') {
      assert.deepEqual(job.array, Array.from({ length: step.config.members }, (_, i) => i));
      assert.match(job.script, /--member "\$SLURM_ARRAY_TASK_ID"/);
      assert.deepEqual(job.after, []);
    } else {
      assert.equal(job.array, undefined);
      assert.ok(job.after.includes(`train:${step.runName}`), step.id);
      if (step.kind === 'attack' && step.surrogate) assert.ok(job.after.includes(`train:${step.surrogate}`));
      assert.match(job.script, new RegExp(`--step ${step.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    }
  }
  assert.deepEqual(byStep.get(REPORT_STEP)!.after, plan.map((s) => s.id));
  // Finished steps are left out; with everything finished there is nothing to submit.
  const trainDone = clusterJobs({ preset, datasets: ['mnist'], outDir: out }, (s) => s.kind === 'train');
  assert.ok(trainDone.every((j) => j.array === undefined));
  assert.deepEqual(clusterJobs({ preset, datasets: ['mnist'], outDir: out }, () => true), []);
});

test('a jointly trained run is one job, not an array: no --member, its log named by the job id', () => {
  const out = tempDir('cluster-joint');
  const step = (method: string): TrainStep => {
    const config = trainConfig({ dataset: 'mnist', method, members: 3, epochs: 1 });
    return { kind: 'train', id: `train:${method}`, runName: method, config, cost: 1, separateMembers: config.members };
  };
  const joint = trainJob(step('ensemble-pgd-adversarial-training'), 'j', join(out, 'runs'), join(out, 'logs'), ['node', 'ensdef.js']);
  assert.equal(joint.array, undefined);
  assert.doesNotMatch(joint.script, /--array|--member\b|SLURM_ARRAY_TASK_ID/);
  assert.match(joint.script, /--method ensemble-pgd-adversarial-training --members 3 /);
  assert.match(joint.log, /j-%j\.log$/);
  const perMember = trainJob(step('random-init+pgd-adversarial-training'), 'm', join(out, 'runs'), join(out, 'logs'), ['node', 'ensdef.js']);
  assert.deepEqual(perMember.array, [0, 1, 2]);
  assert.match(perMember.script, /--member "\$SLURM_ARRAY_TASK_ID"/);
});
