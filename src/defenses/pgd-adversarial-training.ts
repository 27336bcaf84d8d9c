/**
 * PGD adversarial training — Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks"
 * (2018): min_θ E[max_{‖δ‖∞ ≤ ε} J(θ, x + δ, y)], the inner maximum approximated by PGD. Every training
 * batch is replaced by its PGD examples: a uniform random start in the ε-ball, n signed-gradient steps of
 * size α, each projected back onto the ball and [0, 1] — the PGD attack's own iterative core
 * (src/attacks/iterative.ts), with the gradient of the member's current weights. Unlike `adversarial-training`
 * (the paper's FGSM half-and-half), no clean term: Madry et al. train on the worst case only.
 *
 * Defaults: ε the paper's (MNIST 0.3, CIFAR-10 0.03, as for FGSM adversarial training); MNIST α 0.01, 40 steps
 * (Madry et al.'s MNIST setting); CIFAR-10 7 steps of α 0.0075 — Madry et al.'s 2/255 rescaled to ε = 0.03 from
 * their 8/255, the same α/ε = 1/4 (docs/DEFENSES.md).
 */
import * as tf from '@tensorflow/tfjs';
import { gradientDescent, LINF_RANDOM_START, type DescentSchedule } from '../attacks/iterative.ts';
import { baseModelFor } from '../datasets/registry.ts';
import { MEMBER_STREAMS, type BeyondRun, type MemberContext, type MethodDefinition, type MethodParams } from '../ensembles/method.ts';
import { ParamError } from '../errors.ts';
import { crossEntropyFromLogits, type BatchLoss } from '../models/loss.ts';
import { deriveSeed } from '../run/rng.ts';
import { asConstant, inferenceGradient } from './adversarial-training.ts';
import { AT_ALPHA, AT_EPS, AT_RAMP_EPOCHS, AT_STEPS } from './params.ts';
import { memberTrainingSet } from './training-set.ts';

/** α ≤ ε, so that a step cannot overshoot the ball it is projected back onto. */
export function checkStepSize({ atEps, atAlpha }: MethodParams): void {
  if (atEps > 0 && atAlpha > atEps) throw new ParamError('atAlpha', `the step size must satisfy 0 < α ≤ ε (got α = ${atAlpha}, ε = ${atEps}); pass a smaller --at-alpha or a larger --at-eps`);
}

/** The PGD schedule of a training step (counted from the member's first batch over all epochs). */
export type ScheduleAtStep = (step: number) => DescentSchedule;

/**
 * The schedule at each training step: ε and α scaled by min(1, (step + 1) / rampSteps), so that the first
 * batches are nearly clean and the full ε is reached after rampSteps (ε-scheduling, Gowal et al. 2018 and
 * most later PGD training of small networks: from the first batch at ε = 0.3, the Table 1 network collapses
 * to a constant classifier, docs/RESULTS.md). The ratio α/ε, and so the share of the ball a step covers, stays.
 */
export function rampedSchedule(schedule: DescentSchedule, rampSteps: number): ScheduleAtStep {
  if (rampSteps <= 0) return () => schedule;
  return (step) => {
    const share = Math.min(1, (step + 1) / rampSteps);
    return share === 1 ? schedule : { ...schedule, eps: schedule.eps * share, alpha: schedule.alpha * share };
  };
}

/** The schedule per training step of a method's parameters, for a member that takes stepsPerEpoch batches an epoch. */
export function pgdScheduleAtStep(params: MethodParams, stepsPerEpoch: number): ScheduleAtStep {
  return rampedSchedule({ eps: params.atEps, alpha: params.atAlpha, steps: params.atSteps }, params.atRampEpochs * stepsPerEpoch);
}

/**
 * The PGD example of the current weights from a random start drawn with `seed`, as a constant (no path
 * from the weights through the attack's steps: see asConstant). Inference-mode gradient, as the attack has.
 */
export function pgdPerturbation(model: tf.LayersModel, x: tf.Tensor4D, targets: tf.Tensor2D, schedule: DescentSchedule, seed: number): tf.Tensor4D {
  const { adversarial, zeroGradient } = gradientDescent({ x, y: targets, gradient: inferenceGradient(model) }, schedule, LINF_RANDOM_START, seed);
  zeroGradient.dispose();
  return asConstant(adversarial);
}

/** J(θ, x_PGD, y) with the training-mode forward; the batch at `step` starts from the random point deriveSeed(seed, step). */
export function pgdTrainingLoss(schedule: ScheduleAtStep, seed: number): BatchLoss {
  return (model, x, targets, step) =>
    tf.tidy(() => crossEntropyFromLogits(targets, model.apply(pgdPerturbation(model, x, targets, schedule(step), deriveSeed(seed, step)), { training: true }) as tf.Tensor2D));
}

/** PGD steps per batch of the runs `reproduce` trains: at most this many. */
const REPRODUCE_STEPS = 10;

/**
 * The PGD training `reproduce` runs beyond the paper, sized for its presets: at most REPRODUCE_STEPS steps, α
 * grown so that α·n (how far n steps can go) stays the default's, and ε ramped over the first epoch (from
 * the first batch at the full ε the Table 1 network collapses to a constant classifier, docs/RESULTS.md).
 * Only what differs from the defaults is set, so the run's name lists only that.
 */
export const REPRODUCE_PGD_TRAINING: BeyondRun = {
  params: (dataset) => {
    const [steps, alpha] = [AT_STEPS.default(dataset), AT_ALPHA.default(dataset)];
    const reduced = Math.min(steps, REPRODUCE_STEPS);
    return { ...(reduced < steps ? { atAlpha: Number(((alpha * steps) / reduced).toPrecision(6)), atSteps: reduced } : {}), atRampEpochs: 1 };
  },
  maxMembers: 3,
};

function pgdTrainingMethod(bootstrap: boolean): Omit<MethodDefinition, 'name' | 'summary' | 'size'> {
  return {
    paperRows: {},
    params: [AT_EPS, AT_ALPHA, AT_STEPS, AT_RAMP_EPOCHS],
    check: checkStepSize,
    // n input gradients (inference-mode forward and backward each), then the training step on x_PGD.
    workPerSample: ({ atSteps }) => atSteps + 1,
    plan: (ctx: MemberContext) => {
      const { indices, facts } = memberTrainingSet(ctx, bootstrap);
      const schedule = pgdScheduleAtStep(ctx.params, Math.ceil(indices.length / ctx.config.batchSize));
      return {
        model: baseModelFor(ctx.dataset.name),
        indices,
        loss: pgdTrainingLoss(schedule, deriveSeed(ctx.seed, MEMBER_STREAMS.attack)),
        facts: { ...facts, ...ctx.params, adversarialGradient: 'PGD from a random start, inference-mode forward, fresh per batch' },
      };
    },
  };
}

export const pgdAdversarialTraining: MethodDefinition = {
  name: 'pgd-adversarial-training',
  summary: 'every batch replaced by its PGD examples from a random start (Madry et al. 2018)',
  size: 'defense',
  ...pgdTrainingMethod(false),
  reproduce: { beyond: [REPRODUCE_PGD_TRAINING] },
};

/** An ensemble of PGD-trained members that differ in their initial weights (and random starts). */
export const randomInitPgdAdversarialTraining: MethodDefinition = {
  name: 'random-init+pgd-adversarial-training',
  summary: 'random-init ensemble, every member PGD adversarially trained',
  size: 'ensemble',
  ...pgdTrainingMethod(false),
  reproduce: { beyond: [REPRODUCE_PGD_TRAINING] },
};

/** Bagging + PGD adversarial training: each member PGD-trained on its own bootstrap replicate. */
export const baggingPgdAdversarialTraining: MethodDefinition = {
  name: 'bagging+pgd-adversarial-training',
  summary: 'bagging, every member PGD adversarially trained',
  size: 'ensemble',
  ...pgdTrainingMethod(true),
};
