/**
 * APGD as a registry attack, for either of its losses (catalog/apgd-ce.ts, catalog/apgd-dlr.ts): the
 * parameters, defaults and cost they share. Arguments: ε (BIM's), n = 100 (AutoAttack's), R = 1, seed.
 */
import { APGD_DEFAULTS, apgd, checkApgd, objectiveWithGradient } from './apgd-core.ts';
import type { AttackDefinition, AttackInputs, ScoreLoss } from './definition.ts';
import { EPS, RESTARTS, SEED, STEPS } from './params.ts';

export interface ApgdVariant {
  id: string;
  title: string;
  summary: string;
  order: number;
  /** The loss APGD climbs, and the gradient hook it follows (the job's ∇x J for CE; ∇x of DLR for DLR). */
  loss: ScoreLoss;
  gradient: (inputs: AttackInputs) => ReturnType<AttackInputs['lossGradient']>;
}

export function apgdAttack(variant: ApgdVariant): AttackDefinition {
  return {
    id: variant.id,
    title: variant.title,
    summary: variant.summary,
    order: variant.order,
    params: [EPS, STEPS, RESTARTS, SEED],
    paper: false,
    // The scored model decides which examples are fooled and which a restart attacks again.
    dependsOnScorer: true,
    usesGradient: true,
    defaultsHelp: { eps: "BIM's", steps: String(APGD_DEFAULTS.steps), restarts: '1', seed: '0' },
    resolve(dataset, given) {
      const params = { eps: given.eps ?? dataset.paperAttacks.bim.eps, steps: given.steps ?? APGD_DEFAULTS.steps, restarts: given.restarts ?? 1, seed: given.seed ?? 0 };
      checkApgd(params);
      return params;
    },
    run: (inputs, params) =>
      apgd(objectiveWithGradient(variant.loss, inputs.scores, variant.gradient(inputs)), inputs.x, inputs.y, { eps: params.eps, steps: params.steps, restarts: params.restarts, seed: inputs.seed }, inputs.scorer),
    cost: ({ steps, restarts }) => (steps + 1) * restarts,
    column: ({ restarts, steps }) => `${variant.id}_r${restarts}_n${steps}`,
  };
}
