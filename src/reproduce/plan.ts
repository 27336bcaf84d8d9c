/**
 * The reproduction as data: every training run and every attack job of Tables 2 and 4 plus the checks
 * beyond the paper (PGD restarts, ε and iteration sweeps, transfer), each a step with a stable id.
 */
import { GRAD_NAMES, type GradName, type LossForm } from '../attacks/gradients.ts';
import { table2Jobs, table4Jobs, type AttackJob } from '../attacks/jobs.ts';
import type { AttackName, AttackSpec } from '../attacks/params.ts';
import { ATTACK_DEFAULTS, resolveAttackSpec } from '../config/attack-config.ts';
import { DATASET_DEFAULTS, TRAIN_DEFAULTS, type MethodName, type TrainConfig } from '../config/train-config.ts';
import type { DatasetName } from '../data/dataset.ts';
import type { Preset } from './presets.ts';

export interface TrainStep {
  kind: 'train';
  id: string;
  runName: string;
  config: TrainConfig;
  /** Relative cost: training samples processed, weighted by the method's work per sample. */
  cost: number;
}

export interface AttackStep {
  kind: 'attack';
  id: string;
  runName: string;
  job: AttackJob;
  surrogate?: string;
  testLimit?: number;
  /** Relative cost: input gradients evaluated. */
  cost: number;
}

/** The paper's Figure 1: BIM on a single classifier, clean and adversarial test images side by side. */
export interface FigureStep {
  kind: 'figure';
  id: string;
  runName: string;
  job: AttackJob;
  /** Path inside the report directory. */
  path: string;
  cost: number;
}

export type Step = TrainStep | AttackStep | FigureStep;

export function figurePath(dataset: DatasetName): string {
  return `figures/figure1-${dataset}.png`;
}

const TABLE2_METHODS: MethodName[] = ['random-init', 'mixed-models', 'bagging', 'gaussian-noise'];
const DEFENSES: Array<{ method: MethodName; ensemble: boolean }> = [
  { method: 'adversarial-training', ensemble: false },
  { method: 'distillation', ensemble: false },
  { method: 'bagging+adversarial-training', ensemble: true },
  { method: 'bagging+distillation', ensemble: true },
];
/** Work per training sample relative to plain training (FGSM pass; teacher + student). */
const TRAIN_WORK: Partial<Record<MethodName, number>> = {
  'adversarial-training': 3,
  'bagging+adversarial-training': 3,
  distillation: 2,
  'bagging+distillation': 2,
};
const TRAIN_SIZE: Record<DatasetName, number> = { mnist: 60000, cifar10: 50000 };
const TEST_SIZE = 10000;
const PAPER_BIM_STEPS = ATTACK_DEFAULTS.mnist.bim.steps;
/** Seed offset of the surrogate ensemble used for transfer attacks: independent of every attacked run. */
const SURROGATE_SEED = 1000;

export function runNameFor(dataset: DatasetName, method: MethodName | 'surrogate'): string {
  return `${dataset}-${method.replace(/\+/g, '-and-')}`;
}

function trainStep(preset: Preset, dataset: DatasetName, method: MethodName, members: number, seed: number, runName: string): TrainStep {
  const config: TrainConfig = {
    dataset,
    method,
    members,
    epochs: preset.epochs[dataset],
    batchSize: TRAIN_DEFAULTS.batchSize,
    learningRate: TRAIN_DEFAULTS.learningRate,
    seed,
    trainLimit: preset.trainLimit,
    testLimit: preset.testLimit,
    noiseSigma: DATASET_DEFAULTS[dataset].noiseSigma,
    rho: TRAIN_DEFAULTS.rho,
    atEps: DATASET_DEFAULTS[dataset].fgsmEps,
    temperature: TRAIN_DEFAULTS.temperature,
  };
  const samples = Math.min(preset.trainLimit ?? Infinity, TRAIN_SIZE[dataset]);
  return { kind: 'train', id: `train:${runName}`, runName, config, cost: members * config.epochs * samples * (TRAIN_WORK[method] ?? 1) };
}

function jobLabel(job: AttackJob): string {
  if (!job.attack) return `none:${job.loss}`;
  const a = job.attack;
  const params = a.name === 'fgsm' ? `e${a.eps}` : `e${a.eps}-a${a.alpha}-n${a.steps}${a.name === 'pgd' ? `-r${a.restarts}` : ''}`;
  return `${a.name}-${params}:g${job.grad}:${job.loss}`;
}

function gradientEvaluations(job: AttackJob, members: number): number {
  if (!job.attack) return 0;
  const perStep = job.grad === '1' ? 1 : members;
  const steps = job.attack.name === 'fgsm' ? 1 : job.attack.steps * (job.attack.name === 'pgd' ? job.attack.restarts : 1);
  return perStep * steps;
}

function attackStep(runName: string, job: AttackJob, members: number, testLimit: number | undefined, surrogate?: string): AttackStep {
  const images = Math.min(testLimit ?? TEST_SIZE, TEST_SIZE);
  // Clean scoring still costs a forward pass per member.
  const cost = images * Math.max(gradientEvaluations(job, members), members / 3);
  const id = `attack:${runName}:${jobLabel(job)}:n${testLimit ?? 'all'}${surrogate ? `:from-${surrogate}` : ''}`;
  return { kind: 'attack', id, runName, job, surrogate, testLimit, cost };
}

function spec(dataset: DatasetName, name: AttackName, values: { eps?: number; steps?: number; restarts?: number }): AttackSpec {
  return resolveAttackSpec(dataset, name, { ...values, seed: 0 });
}

function job(attack: AttackSpec | null, grad: GradName | null, loss: LossForm, transfer = false): AttackJob {
  return { attack, grad, loss, transfer };
}

export function buildPlan(preset: Preset, datasets: DatasetName[], seed = 0): Step[] {
  const steps: Step[] = [];
  for (const dataset of datasets) {
    const fgsm = spec(dataset, 'fgsm', {});
    const bim = spec(dataset, 'bim', {});
    // Each run is followed by its own attacks, so a partial reproduction already holds complete table rows.
    for (const method of TABLE2_METHODS) {
      const run = trainStep(preset, dataset, method, preset.members, seed, runNameFor(dataset, method));
      steps.push(run);
      for (const loss of preset.lossForms) {
        const jobs = table2Jobs([fgsm, bim], loss).filter((j) => j.attack !== null || loss === preset.lossForms[0]);
        steps.push(...jobs.map((j) => attackStep(run.runName, j, preset.members, preset.testLimit)));
      }
      if (method === 'random-init') {
        const path = figurePath(dataset);
        steps.push({ kind: 'figure', id: `figure:${path}`, runName: run.runName, job: job(bim, '1', preset.lossForms[0]), path, cost: 10 * PAPER_BIM_STEPS });
      }
    }
    for (const { method, ensemble } of DEFENSES) {
      const run = trainStep(preset, dataset, method, ensemble ? preset.members : 1, seed, runNameFor(dataset, method));
      steps.push(run);
      for (const loss of preset.lossForms) {
        const jobs = table4Jobs([fgsm, bim], loss, ensemble).filter((j) => j.attack !== null || loss === preset.lossForms[0]);
        steps.push(...jobs.map((j) => attackStep(run.runName, j, run.config.members, preset.testLimit)));
      }
    }
    steps.push(trainStep(preset, dataset, 'random-init', preset.members, seed + SURROGATE_SEED, runNameFor(dataset, 'surrogate')));

    // Beyond the paper, on the bagging ensemble (the paper's strongest plain ensemble), loss from logits.
    const bagging = runNameFor(dataset, 'bagging');
    const limit = preset.sweepTestLimit;
    const honest: LossForm = 'logits';
    const pgd = spec(dataset, 'pgd', { restarts: preset.pgdRestarts });
    for (const grad of ['2', '3'] as const) steps.push(attackStep(bagging, job(pgd, grad, honest), preset.members, limit));
    for (const eps of preset.sweepEps[dataset]) {
      for (const name of ['fgsm', 'bim', 'pgd'] as const) {
        for (const grad of ['2', '3'] as const) {
          const sweepSpec = spec(dataset, name, { eps, restarts: name === 'pgd' ? preset.pgdRestarts : undefined });
          steps.push(attackStep(bagging, job(sweepSpec, grad, honest), preset.members, limit));
        }
      }
    }
    for (const multiple of preset.sweepStepMultiples) {
      // Same ε and α as the paper's BIM: more iterations can only explore more of the ε-ball.
      const longer = spec(dataset, 'bim', { steps: PAPER_BIM_STEPS * multiple });
      for (const grad of ['2', '3'] as const) steps.push(attackStep(bagging, job(longer, grad, honest), preset.members, limit));
    }
    for (const grad of GRAD_NAMES.filter((g) => g !== '1')) {
      steps.push(attackStep(bagging, job(bim, grad, honest, true), preset.members, limit, runNameFor(dataset, 'surrogate')));
    }
  }
  // A sweep point can coincide with another step (same job, same images); run it once.
  const seen = new Set<string>();
  return steps.filter((s) => (seen.has(s.id) ? false : (seen.add(s.id), true)));
}
