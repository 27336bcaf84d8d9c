/**
 * The worst-case suite, in the spirit of AutoAttack (Croce & Hein 2020): APGD-CE, then APGD-DLR, then the
 * gradient-free Square, each stage run only on the images every earlier stage left classified correctly;
 * per image the first success is kept. Robust accuracy after stage k is recorded as its own measurement
 * (stages = k), so the table shows what each stage adds — and whether the gradient-free stage finds what
 * the gradient stages missed (gradient masking). Arguments: ε (BIM's), n and R of the APGD stages, q of
 * Square, seed, and the number of stages to run (3: all).
 */
import * as tf from '@tensorflow/tfjs';
import { ParamError } from '../../errors.ts';
import { checkCount, type AttackDefinition, type AttackInputs, type AttackParams, type AttackResult, type ParamDef } from '../definition.ts';
import { EPS, QUERIES, RESTARTS, SEED, STEPS } from '../params.ts';
import { attack as apgdCe } from './apgd-ce.ts';
import { attack as apgdDlr } from './apgd-dlr.ts';
import { attack as square } from './square.ts';

const STAGES = [apgdCe, apgdDlr, square];
const STAGE_COUNT: ParamDef = { key: 'stages', symbol: 'stages', short: 'k', help: 'stages of the suite to run, in order (APGD-CE, APGD-DLR, Square)', integer: true, min: 1, max: STAGES.length };
const SUITE_PARAMS = [EPS, STEPS, RESTARTS, QUERIES, SEED, STAGE_COUNT];

/** A stage's own parameters, taken from the suite's. */
function stageParams(stage: AttackDefinition, params: AttackParams): AttackParams {
  return Object.fromEntries(stage.params.map((p) => [p.key, params[p.key]]));
}

function checkStages(stages: number): void {
  checkCount('stages', 'the number of stages', stages);
  if (stages > STAGES.length) throw new ParamError('stages', `the suite has ${STAGES.length} stages (got ${stages})`);
}

/** `sub` (results for the examples `active`, in order) written into `full` at those rows; bool kept bool. */
function placeRows<T extends tf.Tensor>(full: T, sub: tf.Tensor, active: number[]): T {
  return tf.tidy(() => {
    const take = Int32Array.from({ length: full.shape[0] }, (_, b) => b);
    active.forEach((b, j) => (take[b] = full.shape[0] + j));
    const asNumbers = (t: tf.Tensor) => (t.dtype === 'bool' ? tf.cast(t, 'int32') : t);
    const placed = tf.gather(tf.concat([asNumbers(full), asNumbers(sub)]), tf.tensor1d(take, 'int32'));
    return (full.dtype === 'bool' ? tf.cast(placed, 'bool') : placed) as T;
  });
}

export const attack: AttackDefinition = {
  id: 'worst-case',
  title: 'Worst-case suite',
  summary: 'APGD-CE, then APGD-DLR, then Square, each on the images still classified correctly; every stage recorded',
  order: 100,
  params: SUITE_PARAMS,
  paper: false,
  dependsOnScorer: true,
  usesGradient: true,
  defaultsHelp: { eps: "BIM's", steps: "APGD's 100", restarts: '1', queries: "Square's 5000", seed: '0', stages: String(STAGES.length) },
  resolve(dataset, given) {
    const { eps, steps, restarts, seed } = apgdCe.resolve(dataset, given);
    const { queries } = square.resolve(dataset, given);
    const stages = given.stages ?? STAGES.length;
    checkStages(stages);
    return { eps, steps, restarts, queries, seed, stages };
  },
  run(inputs: AttackInputs, params: AttackParams): AttackResult {
    checkStages(params.stages);
    const { x, y } = inputs;
    const batch = x.shape[0];
    const labels = tf.tidy(() => tf.cast(tf.argMax(y, 1), 'int32') as tf.Tensor1D);
    const initial: AttackResult = tf.tidy(() => ({ adversarial: x.clone(), zeroGradient: tf.zeros([batch], 'bool') as tf.Tensor1D }));
    // The result after each stage, each a measurement of its own.
    const after: AttackResult[] = [];
    let current = initial;
    STAGES.slice(0, params.stages).forEach((stage, k) => {
      const correct = tf.tidy(() => inputs.scorer(current.adversarial, labels));
      const active = Array.from(correct.dataSync()).flatMap((c, b) => (c ? [b] : []));
      correct.dispose();
      const previous = current;
      current = tf.tidy(() => {
        if (active.length === 0) return { adversarial: previous.adversarial.clone(), zeroGradient: previous.zeroGradient.clone(), ...(previous.queries ? { queries: previous.queries.clone() } : {}) };
        const at = tf.tensor1d(active, 'int32');
        const sub = stage.run({ ...inputs, x: tf.gather(x, at) as tf.Tensor4D, y: tf.gather(y, at) as tf.Tensor2D }, stageParams(stage, { ...params, seed: inputs.seed }));
        // Stages only narrow the images: the first stage's flags start them, later gradient stages must agree.
        const zero = !stage.usesGradient ? previous.zeroGradient.clone() : placeRows(previous.zeroGradient, k === 0 ? sub.zeroGradient : tf.logicalAnd(tf.gather(previous.zeroGradient, at), sub.zeroGradient), active);
        // Queries are counted from the first score-based stage on.
        const before = previous.queries ?? (tf.zeros([batch], 'int32') as tf.Tensor1D);
        const queries = sub.queries ? placeRows(before, tf.add(tf.gather(before, at), sub.queries), active) : previous.queries?.clone();
        return { adversarial: placeRows(previous.adversarial, sub.adversarial, active), zeroGradient: zero, ...(queries ? { queries } : {}) };
      });
      after.push(current);
    });
    tf.dispose([labels, initial.adversarial, initial.zeroGradient]);
    const final = after.pop()!;
    return { ...final, stages: after };
  },
  costIsBound: true,
  cost: ({ steps, restarts, queries, stages }) => STAGES.slice(0, stages).reduce((sum, stage) => sum + stage.cost({ steps, restarts, queries }), 0),
  column: ({ stages }) => (stages === STAGES.length ? 'worst_case' : `worst_case_after_${STAGES.slice(0, stages).map((s) => s.id).join('+')}`),
  suite: STAGES,
  stages: (params) => Array.from({ length: params.stages - 1 }, (_, k) => ({ ...params, stages: k + 1 })),
  reproduce: { everyRun: true },
};
