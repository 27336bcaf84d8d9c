/**
 * APGD-DLR — Croce & Hein (ICML 2020). L∞. Auto-PGD (src/attacks/apgd-core.ts) on the DLR loss (dlr.ts),
 * which is invariant to shifting and rescaling the scores, so the softmax saturation that zeroes
 * cross-entropy gradients cannot flatten it. On an ensemble the scores are the log of its mean
 * probabilities: Grad. 3 follows ∇x DLR of them, Grad. 2 the mean of the members' own DLR gradients.
 * --loss does not apply (DLR has one form).
 */
import { apgdAttack } from '../apgd-attack.ts';
import { dlrLoss } from '../dlr.ts';

export const attack = apgdAttack({
  id: 'apgd-dlr',
  title: 'APGD-DLR',
  summary: 'Auto-PGD on the DLR loss, invariant to shifts and scaling of the scores (Croce & Hein 2020)',
  order: 50,
  loss: dlrLoss,
  gradient: (inputs) => inputs.lossGradient(dlrLoss),
});
