/**
 * BIM — Kurakin, Goodfellow & Bengio, "Adversarial Examples in the Physical World" (2016).
 * Distance: L∞. x_0 = x; x_i = clip_{x,ε}(x_{i−1} + α · sign(∇x J(x_{i−1}, y))), n steps.
 * Arguments: ε, α, n (the paper: MNIST .2 / .025 / 8; CIFAR-10 .02 / .0025 / 8). BIM is PGD without the random start.
 */
import { ParamError } from '../../errors.ts';
import { checkCount, checkEps, unchanged, type AttackDefinition, type AttackParams } from '../definition.ts';
import { gradientDescent, LINF_FROM_X } from '../iterative.ts';
import { ALPHA, EPS, STEPS } from '../params.ts';

/** ε ≥ 0, n ≥ 1, and 0 < α ≤ ε unless ε = 0, the identity whatever α is (cleverhans returns x before looking at eps_iter). */
export function checkSchedule({ eps, alpha, steps }: AttackParams): void {
  checkEps(eps);
  checkCount('steps', 'the number of steps n', steps);
  if (eps > 0 && !(alpha > 0 && alpha <= eps)) {
    throw new ParamError('alpha', `the step size must satisfy 0 < α ≤ ε (got α = ${alpha}, ε = ${eps}); pass a smaller α or a larger ε`);
  }
}

export const attack: AttackDefinition = {
  id: 'bim',
  title: 'BIM',
  summary: 'n signed-gradient steps of size α, projected onto the ε-ball (Kurakin et al. 2016)',
  order: 20,
  params: [EPS, ALPHA, STEPS],
  paper: true,
  dependsOnScorer: false,
  usesGradient: true,
  defaultsHelp: { eps: "the paper's: 0.2 mnist, 0.02 cifar10", alpha: "ε/8, the paper's ratio (0.025 mnist, 0.0025 cifar10)", steps: "the paper's 8" },
  resolve(dataset, given) {
    const paper = dataset.paperAttacks.bim;
    const eps = given.eps ?? paper.eps;
    // Without α, the paper's ratio α/ε is kept so that ε alone scales the schedule; dividing by the exact
    // ratio 8 keeps α = 0.025 exact at ε = 0.2.
    const alpha = given.alpha ?? (given.eps === undefined ? paper.alpha : eps / (paper.eps / paper.alpha));
    const params = { eps, alpha, steps: given.steps ?? paper.steps };
    checkSchedule(params);
    return params;
  },
  run(inputs, params) {
    checkSchedule(params);
    if (params.eps === 0) return unchanged(inputs.x);
    return gradientDescent(inputs, { eps: params.eps, alpha: params.alpha, steps: params.steps }, LINF_FROM_X);
  },
  cost: ({ steps }) => steps,
  column: ({ eps, alpha, steps }) => `bim_e${eps}_a${alpha}_n${steps}`,
  reproduce: { sweep: true },
};
