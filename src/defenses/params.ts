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
