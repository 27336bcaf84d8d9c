/**
 * PGD — Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks" (2018).
 * Distance: L∞. BIM from a uniform random start in the ε-ball, R restarts; per example the first restart
 * that fools the scorer is kept (restart 0's result where none does), so an example counts as broken if
 * any restart breaks it. Arguments: ε and n as BIM; α; R; seed.
 */
import { checkCount, unchanged, type AttackDefinition } from '../definition.ts';
import { gradientDescent, LINF_RANDOM_START, worstCaseOverRestarts } from '../iterative.ts';
import { ALPHA, EPS, RESTARTS, SEED, STEPS } from '../params.ts';
import { checkSchedule } from './bim.ts';

/**
 * Madry et al.'s step size α = 2.5·ε/n (at most ε). BIM's α = ε/n cannot carry a random start across the
 * ε-ball in n steps: on robust models that made PGD weaker than BIM from x (docs/RESULTS.md, the σ experiment).
 */
const ALPHA_TIMES_STEPS_OVER_EPS = 2.5;
const DEFAULT_RESTARTS = 5;

export const attack: AttackDefinition = {
  id: 'pgd',
  title: 'PGD',
  summary: 'BIM from R uniform random starts in the ε-ball, worst case per example (Madry et al. 2018)',
  order: 30,
  params: [EPS, ALPHA, STEPS, RESTARTS, SEED],
  paper: false,
  dependsOnScorer: true,
  usesGradient: true,
  defaultsHelp: { eps: "BIM's", alpha: `min(ε, ${ALPHA_TIMES_STEPS_OVER_EPS}·ε/n), Madry et al.`, steps: "BIM's 8", restarts: String(DEFAULT_RESTARTS), seed: '0' },
  resolve(dataset, given) {
    const paper = dataset.paperAttacks.bim;
    const eps = given.eps ?? paper.eps;
    const steps = given.steps ?? paper.steps;
    const params = {
      eps,
      alpha: given.alpha ?? Math.min(eps, (ALPHA_TIMES_STEPS_OVER_EPS * eps) / steps),
      steps,
      restarts: given.restarts ?? DEFAULT_RESTARTS,
      seed: given.seed ?? 0,
    };
    checkSchedule(params);
    checkCount('restarts', 'the number of random restarts R', params.restarts);
    return params;
  },
  run(inputs, params) {
    checkSchedule(params);
    checkCount('restarts', 'the number of random restarts R', params.restarts);
    if (params.eps === 0) return unchanged(inputs.x);
    const schedule = { eps: params.eps, alpha: params.alpha, steps: params.steps };
    return worstCaseOverRestarts(params.restarts, inputs.seed, inputs.x, inputs.y, inputs.scorer, (seed) => gradientDescent(inputs, schedule, LINF_RANDOM_START, seed));
  },
  cost: ({ steps, restarts }) => steps * restarts,
  column: ({ restarts, steps }) => `pgd_r${restarts}_n${steps}`,
  reproduce: { beyond: true, sweep: true },
};
