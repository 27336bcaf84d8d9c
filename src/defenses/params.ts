/** The adversarial-training parameters several methods share, declared once (a key means one thing for every method that takes it). */
import type { MethodParam } from '../ensembles/method.ts';

export const AT_EPS: MethodParam = {
  key: 'atEps',
  symbol: 'ε',
  help: 'adversarial training ε (L∞, pixels in [0, 1])',
  integer: false,
  min: 0,
  max: 1,
  default: (dataset) => dataset.paperAttacks.fgsm.eps,
  defaultHelp: "the paper's FGSM ε",
};

export const AT_ALPHA: MethodParam = {
  key: 'atAlpha',
  symbol: 'α',
  help: 'PGD adversarial training step size, 0 < α ≤ ε',
  integer: false,
  min: 0,
  max: 1,
  exclusiveMin: true,
  default: (dataset) => dataset.training.pgdTraining.alpha,
  defaultHelp: 'Madry et al.’s, scaled to the paper’s ε',
};

export const AT_STEPS: MethodParam = {
  key: 'atSteps',
  symbol: 'n',
  help: 'PGD adversarial training steps per batch',
  integer: true,
  min: 1,
  max: 1000,
  default: (dataset) => dataset.training.pgdTraining.steps,
  defaultHelp: 'Madry et al.’s',
};

export const AT_RAMP_EPOCHS: MethodParam = {
  key: 'atRampEpochs',
  symbol: 'ramp',
  help: 'PGD adversarial training: epochs over which ε and α grow linearly from 0 to their values (0: the full ε from the first batch, as Madry et al.)',
  integer: true,
  min: 0,
  max: 1000,
  default: () => 1,
  defaultHelp: 'one epoch: from the first batch at the full ε the Table 1 network collapses to a constant classifier',
  absent: 0,
};
