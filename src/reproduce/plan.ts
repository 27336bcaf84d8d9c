/**
 * The reproduction as data: every training run and every attack job of Tables 2 and 4 plus the checks
 * beyond the paper (PGD restarts, ε and iteration sweeps, transfer), each a step with a stable id.
 */
import { resolveSpec, type AttackDefinition, type AttackSpec } from '../attacks/definition.ts';
import { GRAD_NAMES, type GradName, type LossForm } from '../attacks/gradients.ts';
import { ATTACKS, resolveAttack } from '../attacks/registry.ts';
import type { TrainConfig } from '../config/train-config.ts';
import type { DatasetDescriptor, ReproductionScale } from '../datasets/descriptor.ts';
import { datasetDescriptor } from '../datasets/registry.ts';
import { table2Jobs, table4Jobs, type AttackJob } from '../eval/jobs.ts';
import type { MethodParams } from '../ensembles/method.ts';
import { methodDefinition, methodParams, METHODS, trainConfig } from '../training/methods.ts';
import type { Preset } from './presets.ts';
import { usageError } from '../errors.ts';

export interface TrainStep {
  kind: 'train';
  id: string;
  runName: string;
  config: TrainConfig;
  /** Relative cost: training samples processed, weighted by the method's work per sample. */
  cost: number;
  /** Members that can train in separate worker processes at once (1 for a jointly trained run). */
  separateMembers: number;
}

export interface AttackStep {
  kind: 'attack';
  id: string;
  dataset: string;
  runName: string;
  /** The attacked run's method: how far an attack that stops at first success gets depends on it. */
  method: string;
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
  dataset: string;
  runName: string;
  job: AttackJob;
  /** Path inside the report directory. */
  path: string;
  cost: number;
}

export type Step = TrainStep | AttackStep | FigureStep;

export function datasetOf(step: Step): string {
  return step.kind === 'train' ? step.config.dataset : step.dataset;
}

export function figurePath(dataset: string): string {
  return `figures/figure1-${dataset}.svg`;
}

/** Seed offset of the surrogate ensemble used for transfer attacks: independent of every attacked run. */
const SURROGATE_SEED = 1000;
/** The paper's iterative attack: Figure 1, the iteration sweep and the transfer attack use it. */
const PAPER_ITERATIVE = 'bim';

export function runNameFor(dataset: string, method: string): string {
  return `${dataset}-${method.replace(/\+/g, '-and-')}`;
}

function trainStep(
  scale: ReproductionScale,
  dataset: DatasetDescriptor,
  method: string,
  seed: number,
  runName: string,
  dataDir: string | undefined,
  beyond?: { setting: MethodParams; maxMembers?: number },
): TrainStep {
  const definition = methodDefinition(method);
  const config = trainConfig({
    ...beyond?.setting,
    dataset: dataset.name,
    method,
    members: definition.size === 'ensemble' ? Math.min(scale.members, beyond?.maxMembers ?? Infinity) : 1,
    epochs: scale.epochs,
    seed,
    trainLimit: scale.trainLimit,
    testLimit: scale.testLimit,
    dataDir,
  });
  const samples = Math.min(scale.trainLimit ?? Infinity, dataset.sizes.train);
  const cost = config.members * config.epochs * samples * definition.workPerSample(methodParams(config));
  return { kind: 'train', id: `train:${runName}`, runName, config, cost, separateMembers: definition.joint ? 1 : config.members };
}

/** A method's run beyond the paper: its name says the parameters it sets, e.g. "-atSteps20" (none at the defaults). */
function settingSuffix(setting: MethodParams): string {
  return Object.entries(setting)
    .map(([key, value]) => `-${key}${value}`)
    .join('');
}

/** e.g. "bim-e0.2-a0.025-n8:g2:logits": the attack and every parameter but the seed of its random starts. */
function jobLabel(job: AttackJob): string {
  if (!job.attack) return `none:${job.loss}`;
  const { definition, params } = job.attack;
  const values = definition.params.filter((p) => p.key !== 'seed').map((p) => `${p.short}${params[p.key]}`);
  return `${[definition.id, ...values].join('-')}:g${job.grad}:${job.loss}`;
}

/**
 * What an attack does per image and iteration besides its input gradients (the step, the projection, the
 * success test), in input gradients: the value that prices the saved runs' BIM Grad. 1 (one gradient per
 * iteration) and Grad. 2 (one per member) alike per unit, median over the 18 ensembles in docs/reproductions
 * with both (0 left one-gradient attacks 1.26x dearer per unit than ensemble ones).
 */
const ITERATION_OVERHEAD = 0.5;

function perImageCost(job: AttackJob, members: number): number {
  if (!job.attack) return 0;
  const perEvaluation = job.grad === '1' ? 1 : members;
  return (perEvaluation + ITERATION_OVERHEAD) * job.attack.definition.cost(job.attack.params);
}

/** An attack job's relative cost on `images` images of a run of `members` members, in input gradients. */
export function attackCost(job: AttackJob, members: number, images: number): number {
  // Clean scoring still costs a forward pass per member.
  return images * Math.max(perImageCost(job, members), members / 3);
}

function attackStep(run: TrainStep, job: AttackJob, dataset: DatasetDescriptor, testLimit: number | undefined, surrogate?: string): AttackStep {
  const images = Math.min(testLimit ?? dataset.sizes.test, dataset.sizes.test);
  const { runName, config } = run;
  const id = `attack:${runName}:${jobLabel(job)}:n${testLimit ?? 'all'}${surrogate ? `:from-${surrogate}` : ''}`;
  return { kind: 'attack', id, dataset: dataset.name, runName, method: config.method, job, surrogate, testLimit, cost: attackCost(job, config.members, images) };
}

function job(attack: AttackSpec | null, grad: GradName | null, loss: LossForm, transfer = false): AttackJob {
  return { attack, grad, loss, transfer };
}

/** `dataDirs`: where a data set's files are, by name (default: the embedded copy or the fetch cache). */
export function buildPlan(preset: Preset, datasets: string[], dataDirs: Readonly<Record<string, string>> = {}, seed = 0): Step[] {
  const steps: Step[] = [];
  for (const dataset of datasets.map(datasetDescriptor)) {
    const scale = preset.scale(dataset);
    const paperAttacks = ATTACKS.filter((a) => a.paper).map((a) => resolveSpec(a, dataset));
    const paperIterative = resolveAttack(dataset, PAPER_ITERATIVE);
    const attacked = (method: string) => runNameFor(dataset.name, method);
    // The worst-case suite (and any attack marked for every run) with the preset's budgets, on what each
    // run predicts with: Grad. 3 (for a single model, its own gradient), loss from logits.
    const everyRun = ATTACKS.filter((a) => a.reproduce?.everyRun).map((a) =>
      resolveSpec(a, dataset, Object.fromEntries(a.params.filter((p) => p.key === 'steps' || p.key === 'queries').map((p) => [p.key, scale.suite[p.key as 'steps' | 'queries']]))),
    );
    const suiteSteps = (run: TrainStep) => everyRun.map((spec) => attackStep(run, job(spec, '3', 'logits'), dataset, scale.suite.testLimit));
    // Each run is followed by its own attacks, so a partial reproduction already holds complete table rows.
    for (const method of METHODS.filter((m) => m.paperRows.table2)) {
      const run = trainStep(scale, dataset, method.name, seed, attacked(method.name), dataDirs[dataset.name]);
      steps.push(run);
      for (const loss of preset.lossForms) {
        const jobs = table2Jobs(paperAttacks, loss).filter((j) => j.attack !== null || loss === preset.lossForms[0]);
        steps.push(...jobs.map((j) => attackStep(run, j, dataset, scale.testLimit)));
      }
      steps.push(...suiteSteps(run));
      if (method.name === 'random-init') {
        const path = figurePath(dataset.name);
        const figureJob = job(paperIterative, '1', preset.lossForms[0]);
        steps.push({ kind: 'figure', id: `figure:${path}`, dataset: dataset.name, runName: run.runName, job: figureJob, path, cost: 10 * perImageCost(figureJob, 1) });
      }
    }
    // Table 4's defenses, then the methods reproduce runs beyond the paper, each attacked like a Table 4 row.
    const defenses = [
      ...METHODS.filter((m) => m.paperRows.table4 && !m.paperRows.table2).map((method) => ({ method, beyond: undefined })),
      ...METHODS.flatMap((method) => (method.reproduce?.beyond ?? []).map((run) => ({ method, beyond: { setting: run.params(dataset), maxMembers: run.maxMembers } }))),
    ];
    for (const { method, beyond } of defenses) {
      const name = attacked(method.name) + (beyond ? settingSuffix(beyond.setting) : '');
      const run = trainStep(scale, dataset, method.name, seed, name, dataDirs[dataset.name], beyond);
      steps.push(run);
      for (const loss of preset.lossForms) {
        const jobs = table4Jobs(paperAttacks, loss, run.config.members > 1).filter((j) => j.attack !== null || loss === preset.lossForms[0]);
        steps.push(...jobs.map((j) => attackStep(run, j, dataset, scale.testLimit)));
      }
      steps.push(...suiteSteps(run));
    }
    steps.push(trainStep(scale, dataset, 'random-init', seed + SURROGATE_SEED, runNameFor(dataset.name, 'surrogate'), dataDirs[dataset.name]));

    // Beyond the paper, on the bagging ensemble (the paper's strongest plain ensemble), loss from logits:
    // every other attack at the paper's ε, the ε sweeps, the iteration sweep and the transfer attack.
    const bagging = steps.find((s): s is TrainStep => s.kind === 'train' && s.runName === attacked('bagging'))!;
    const limit = scale.sweepTestLimit;
    const honest: LossForm = 'logits';
    const beyond = (attack: AttackDefinition, given: Record<string, number | undefined>) =>
      resolveSpec(attack, dataset, { ...given, restarts: attack.params.some((p) => p.key === 'restarts') ? preset.pgdRestarts : undefined });
    const grads = ['2', '3'] as const;
    for (const attack of ATTACKS.filter((a) => a.reproduce?.beyond)) {
      for (const grad of grads) steps.push(attackStep(bagging, job(beyond(attack, {}), grad, honest), dataset, limit));
    }
    for (const eps of preset.sweepEps(dataset)) {
      for (const attack of ATTACKS.filter((a) => a.reproduce?.sweep)) {
        for (const grad of grads) steps.push(attackStep(bagging, job(beyond(attack, { eps }), grad, honest), dataset, limit));
      }
    }
    for (const multiple of preset.sweepStepMultiples) {
      // Same ε and α as the paper's BIM: more iterations can only explore more of the ε-ball.
      const longer = resolveAttack(dataset, PAPER_ITERATIVE, { steps: paperIterative.params.steps * multiple });
      for (const grad of grads) steps.push(attackStep(bagging, job(longer, grad, honest), dataset, limit));
    }
    for (const grad of GRAD_NAMES.filter((g) => g !== '1')) {
      steps.push(attackStep(bagging, job(paperIterative, grad, honest, true), dataset, limit, runNameFor(dataset.name, 'surrogate')));
    }
  }
  // A sweep point can coincide with another step (same job, same images); run it once.
  const seen = new Set<string>();
  return steps.filter((s) => (seen.has(s.id) ? false : (seen.add(s.id), true)));
}

/** The run names a plan trains, in plan order. */
export function planRuns(plan: Step[]): string[] {
  return plan.filter((s): s is TrainStep => s.kind === 'train').map((s) => s.runName);
}

/**
 * A part of the plan: the named runs' steps (training, their attacks, their figure), with the training of any
 * surrogate their transfer attacks need. A reproduction too long for one sitting on one machine runs part by
 * part, each part saved when it finishes. Unknown names are refused with the plan's run names.
 */
export function selectRuns(plan: Step[], runs: readonly string[]): Step[] {
  const known = planRuns(plan);
  const unknown = runs.filter((r) => !known.includes(r));
  if (unknown.length > 0) throw usageError(`--runs: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in this plan (its runs: ${known.join(', ')})`);
  const surrogates = plan.filter((s): s is AttackStep => s.kind === 'attack' && runs.includes(s.runName) && s.surrogate !== undefined).map((s) => s.surrogate!);
  const selected = new Set([...runs, ...surrogates]);
  return plan.filter((s) => (s.kind === 'train' ? selected.has(s.runName) : runs.includes(s.runName)));
}

