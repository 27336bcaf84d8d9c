/**
 * APGD-CE — Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks" (ICML 2020). L∞. Auto-PGD (src/attacks/apgd-core.ts) on the cross-entropy of the
 * scores the gradient choice attacks, following the job's ∇x J (so --loss applies). On an ensemble with
 * Grad. 3 it climbs the loss of what the ensemble predicts with; with Grad. 2 it steps along the paper's
 * mean of member gradients while its step size follows the ensemble's own loss.
 */
import { apgdAttack } from '../apgd-attack.ts';
import { crossEntropyLoss } from '../dlr.ts';

export const attack = apgdAttack({
  id: 'apgd-ce',
  title: 'APGD-CE',
  summary: 'Auto-PGD on the cross-entropy: adaptive step size, momentum, restarts (Croce & Hein 2020)',
  order: 40,
  loss: crossEntropyLoss,
  gradient: (inputs) => inputs.gradient,
});
