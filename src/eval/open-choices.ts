/**
 * The choices the paper leaves open, measured (issue 22): which reading of its FGSM / BIM / Grad. 1 / Grad. 2
 * / ensemble decision produces its MNIST signature BIM Grad. 2 > BIM Grad. 1 → ensemble > FGSM Grad. 2 >
 * BIM Grad. 1 → single (0.8875 > 0.6518 > 0.4517 > 0.0906)?
 *
 * A reading fixes each open choice; ensdef's own (ENSDEF_READING) is what `attack --table2` measures. Every
 * other reading changes one choice (or a named few), and each of its four cells is measured on the same test
 * images. A cell's adversarial examples depend only on the choices that reach them (Grad. 1 ignores how
 * Grad. 2 combines members; FGSM and BIM ignore the ensemble's decision), so readings that agree on those
 * share one measurement: the table shows it once per reading, measured once.
 */
import * as tf from '@tensorflow/tfjs';
import { memberLoss } from '../attacks/gradients.ts';
import { clampToBall, exactSign, gradientDescent, projectToThreatModel, type DescentHooks } from '../attacks/iterative.ts';
import { ensemblePredictor, majorityVotePredictor, memberPredictor, type Predictor } from '../attacks/scoring.ts';
import type { AttackResult } from '../attacks/definition.ts';
import type { Dataset } from '../data/dataset.ts';
import type { Ensemble } from '../ensembles/ensemble.ts';
import { sumOverBatches } from './measure.ts';

export const OPEN_CHOICES = {
  /** J: cross-entropy from logits; Keras' cross-entropy of clipped probabilities; squared error of probabilities. */
  loss: ['logits', 'clipped-probs', 'squared-probs'],
  /** The label J is taken at: the true one, or the attacked model's prediction on the clean image (cleverhans' y=None). */
  label: ['true', 'predicted'],
  /** Grad. 2's direction: sign of the mean / of the sum of the members' gradients, the mean of their signs, or the sign of that (a per-pixel vote). */
  grad2: ['sign-of-mean', 'sign-of-sum', 'mean-of-signs', 'sign-vote'],
  /** After each step: project onto the ε-ball and clip to the valid range, only one of them, or neither. */
  step: ['project-and-clip', 'clip-only', 'project-only', 'neither'],
  /** The pixel scale the paper's ε and α are given on: [0, 1], [−1, 1], standardized by the training set's std, [0, 255]. */
  scale: ['unit', 'symmetric', 'standardized', 'bytes'],
  /** The ensemble's decision: argmax of the mean of member probabilities (the paper's words), or a majority vote of member argmaxes. */
  decision: ['mean-probabilities', 'majority-vote'],
} as const;

export type Choice = keyof typeof OPEN_CHOICES;
export type Reading = { readonly [K in Choice]: (typeof OPEN_CHOICES)[K][number] };

/** What `ensdef attack --table2` measures. */
export const ENSDEF_READING: Reading = { loss: 'logits', label: 'true', grad2: 'sign-of-mean', step: 'project-and-clip', scale: 'unit', decision: 'mean-probabilities' };

/** ensdef's reading, then each other value of each choice alone, then combinations: those a Keras + cleverhans 2017 setup would give, and those the single changes point to. */
export function readings(): { name: string; reading: Reading }[] {
  const single = (Object.keys(OPEN_CHOICES) as Choice[]).flatMap((choice) =>
    OPEN_CHOICES[choice].filter((value) => value !== ENSDEF_READING[choice]).map((value) => ({ name: `${choice}: ${value}`, reading: { ...ENSDEF_READING, [choice]: value } as Reading })),
  );
  const combined = (changes: Partial<Reading>) => ({
    name: Object.entries(changes)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', '),
    reading: { ...ENSDEF_READING, ...changes },
  });
  return [
    { name: 'ensdef (attack --table2)', reading: ENSDEF_READING },
    ...single,
    combined({ loss: 'clipped-probs', label: 'predicted' }),
    combined({ loss: 'clipped-probs', grad2: 'mean-of-signs' }),
    combined({ loss: 'clipped-probs', label: 'predicted', decision: 'majority-vote' }),
    // Of the single changes, the mean of signs weakens Grad. 2 the most and a smaller scale of ε raises every
    // cell: together, and the mean of signs with Keras' loss.
    combined({ grad2: 'mean-of-signs', scale: 'symmetric' }),
    combined({ grad2: 'mean-of-signs', scale: 'standardized' }),
    combined({ grad2: 'mean-of-signs', loss: 'clipped-probs', label: 'predicted' }),
  ];
}

export type CellId = 'bim-grad2' | 'bim-grad1-ensemble' | 'fgsm-grad2' | 'bim-grad1-single';

export interface Cell {
  id: CellId;
  attack: 'fgsm' | 'bim';
  /** Grad. 1 uses member 0's gradient. */
  gradient: 'grad1' | 'grad2';
  scoredOn: 'single' | 'ensemble';
  /** The cell's column in the paper's Table 2 (configs/paper-results.json). */
  paperColumn: 'grad1_single' | 'grad1_ensemble' | 'grad2_ensemble';
}

/** The paper's signature, highest first (its random-init row orders them so on MNIST and on CIFAR-10). */
export const CELLS: readonly Cell[] = [
  { id: 'bim-grad2', attack: 'bim', gradient: 'grad2', scoredOn: 'ensemble', paperColumn: 'grad2_ensemble' },
  { id: 'bim-grad1-ensemble', attack: 'bim', gradient: 'grad1', scoredOn: 'ensemble', paperColumn: 'grad1_ensemble' },
  { id: 'fgsm-grad2', attack: 'fgsm', gradient: 'grad2', scoredOn: 'ensemble', paperColumn: 'grad2_ensemble' },
  { id: 'bim-grad1-single', attack: 'bim', gradient: 'grad1', scoredOn: 'single', paperColumn: 'grad1_single' },
];

/** The choices that reach a cell's adversarial examples. */
function attackChoices(cell: Cell): Choice[] {
  return cell.gradient === 'grad2' ? ['loss', 'label', 'grad2', 'step', 'scale'] : ['loss', 'label', 'step', 'scale'];
}

/** Identifies the adversarial examples of a cell under a reading (and nothing else). */
export function attackKey(cell: Cell, reading: Reading): string {
  return [cell.attack, cell.gradient, ...attackChoices(cell).map((c) => `${c}=${reading[c]}`)].join(' ');
}

/** Identifies the model a cell is scored on under a reading. */
export function scoreKey(cell: Cell, reading: Reading): string {
  return cell.scoredOn === 'single' ? 'member 0' : `ensemble decision=${reading.decision}`;
}

/** The paper's attack settings on [0, 1] pixels (the data set's), before the reading's scale. */
export interface PaperSchedules {
  fgsm: { eps: number };
  bim: { eps: number; alpha: number; steps: number };
}

/** How much of [0, 1] one unit of the scale ε is given on spans. */
export function scaleFactor(scale: Reading['scale'], pixelStd: number): number {
  switch (scale) {
    case 'unit':
      return 1;
    case 'symmetric':
      return 0.5;
    case 'standardized':
      return pixelStd;
    case 'bytes':
      return 1 / 255;
  }
}

/** The standard deviation of all training pixels in [0, 1] (what "standardized" inputs divide by). */
export function pixelStd(images: Float32Array): number {
  let sum = 0;
  let sumSquares = 0;
  for (const v of images) {
    sum += v;
    sumSquares += v * v;
  }
  const mean = sum / images.length;
  return Math.sqrt(sumSquares / images.length - mean * mean);
}

/** Per-example J of one model's logits under the reading's loss. */
export function readingLoss(logits: tf.Tensor2D, y: tf.Tensor2D, loss: Reading['loss']): tf.Tensor1D {
  return tf.tidy(() => (loss === 'squared-probs' ? (tf.sum(tf.square(tf.sub(tf.softmax(logits), y)), 1) as tf.Tensor1D) : memberLoss(logits, y, loss)));
}

function memberGradient(ensemble: Ensemble, member: number, loss: Reading['loss'], x: tf.Tensor4D, y: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => tf.grad((input) => tf.sum(readingLoss(ensemble.memberLogits(input as tf.Tensor4D, member), y, loss)))(x) as tf.Tensor4D);
}

/** The L∞ step direction a cell takes at x: sign of member 0's gradient (Grad. 1), or Grad. 2 as the reading combines it. */
export function stepDirection(ensemble: Ensemble, cell: Cell, reading: Reading, x: tf.Tensor4D, y: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    if (cell.gradient === 'grad1') return exactSign(memberGradient(ensemble, 0, reading.loss, x, y));
    const gradients = Array.from({ length: ensemble.size }, (_, i) => memberGradient(ensemble, i, reading.loss, x, y));
    switch (reading.grad2) {
      case 'sign-of-mean':
        return exactSign(tf.div(tf.addN(gradients), ensemble.size) as tf.Tensor4D);
      case 'sign-of-sum':
        return exactSign(tf.addN(gradients));
      case 'mean-of-signs':
        return tf.div(tf.addN(gradients.map(exactSign)), ensemble.size) as tf.Tensor4D;
      case 'sign-vote':
        return exactSign(tf.addN(gradients.map(exactSign)));
    }
  });
}

const STEP_PROJECTIONS: Record<Reading['step'], DescentHooks['project']> = {
  'project-and-clip': projectToThreatModel,
  'clip-only': (candidate) => tf.tidy(() => tf.clipByValue(candidate, 0, 1) as tf.Tensor4D),
  'project-only': clampToBall,
  neither: (candidate) => candidate.clone(),
};

/** What the ensemble predicts under each decision rule. */
export const DECISION_PREDICTORS: Record<Reading['decision'], (ensemble: Ensemble) => Predictor> = {
  'mean-probabilities': ensemblePredictor,
  'majority-vote': majorityVotePredictor,
};

/** The label J is taken at: the true one-hot y, or the attacked model's prediction on clean x (member 0 for Grad. 1, the ensemble's mean probabilities for Grad. 2). */
function attackedLabel(ensemble: Ensemble, cell: Cell, reading: Reading, x: tf.Tensor4D, y: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    if (reading.label === 'true') return y.clone();
    const predicted = (cell.gradient === 'grad1' ? memberPredictor(ensemble, 0) : ensemblePredictor(ensemble))(x);
    return tf.oneHot(predicted, y.shape[1]).toFloat() as tf.Tensor2D;
  });
}

/** A cell's adversarial batch under a reading: FGSM is one step of α = ε, BIM the paper's n steps, both from x. */
export function adversarialBatch(ensemble: Ensemble, cell: Cell, reading: Reading, schedules: PaperSchedules, std: number, x: tf.Tensor4D, y: tf.Tensor2D): AttackResult {
  const factor = scaleFactor(reading.scale, std);
  const schedule =
    cell.attack === 'fgsm'
      ? { eps: schedules.fgsm.eps * factor, alpha: schedules.fgsm.eps * factor, steps: 1 }
      : { eps: schedules.bim.eps * factor, alpha: schedules.bim.alpha * factor, steps: schedules.bim.steps };
  return tf.tidy(() => {
    const label = attackedLabel(ensemble, cell, reading, x, y);
    const hooks: DescentHooks = { start: (clean) => clean.clone(), direction: (d) => d.clone(), project: STEP_PROJECTIONS[reading.step] };
    return gradientDescent({ x, y: label, gradient: (adversarial, labels) => stepDirection(ensemble, cell, reading, adversarial, labels) }, schedule, hooks);
  });
}

/** One distinct measurement: a cell's adversarial examples under a reading, scored on one model. */
export interface ChoiceMeasurement {
  attackKey: string;
  scoreKey: string;
  /** Images classified correctly after the attack. */
  correct: number;
  /** Images whose step direction was exactly zero at every step. */
  zeroDirection: number;
  n: number;
  seconds: number;
}

export interface ChoiceJob {
  cell: Cell;
  reading: Reading;
  /** Every model (score key) these adversarial examples are scored on. */
  scoreKeys: { key: string; cell: Cell; reading: Reading }[];
}

/** The distinct measurements the readings need: one job per distinct adversarial set, each scored on every model any reading asks for. */
export function choiceJobs(list: { reading: Reading }[]): ChoiceJob[] {
  const jobs = new Map<string, ChoiceJob>();
  for (const { reading } of list) {
    for (const cell of CELLS) {
      const key = attackKey(cell, reading);
      const job = jobs.get(key) ?? { cell, reading, scoreKeys: [] };
      const score = scoreKey(cell, reading);
      if (!job.scoreKeys.some((s) => s.key === score)) job.scoreKeys.push({ key: score, cell, reading });
      jobs.set(key, job);
    }
  }
  return [...jobs.values()];
}

/** Measures one job on a split, batch by batch. */
export function measureChoiceJob(
  ensemble: Ensemble,
  data: Pick<Dataset, 'test' | 'imageShape' | 'numClasses'>,
  job: ChoiceJob,
  schedules: PaperSchedules,
  std: number,
  batchSize: number,
  onProgress?: (done: number, total: number) => void,
): ChoiceMeasurement[] {
  const started = performance.now();
  const sums = sumOverBatches(
    { split: data.test, imageShape: data.imageShape, numClasses: data.numClasses },
    batchSize,
    job.scoreKeys.length + 1,
    ({ x, labels, y }) => {
      const result = adversarialBatch(ensemble, job.cell, job.reading, schedules, std, x, y);
      const scored = job.scoreKeys.map(({ cell, reading }) => {
        const predicted = (cell.scoredOn === 'single' ? memberPredictor(ensemble, 0) : DECISION_PREDICTORS[reading.decision](ensemble))(result.adversarial);
        return tf.sum(tf.cast(tf.equal(predicted, labels), 'int32'));
      });
      return tf.stack([...scored, tf.sum(tf.cast(result.zeroGradient, 'int32'))]);
    },
    onProgress,
  );
  const seconds = (performance.now() - started) / 1000;
  const key = attackKey(job.cell, job.reading);
  const zero = sums[job.scoreKeys.length];
  return job.scoreKeys.map((s, k) => ({ attackKey: key, scoreKey: s.key, correct: sums[k], zeroDirection: zero, n: data.test.count, seconds }));
}

/** Clean accuracy of member 0 and of the ensemble under each decision rule. */
export function cleanAccuracy(ensemble: Ensemble, data: Pick<Dataset, 'test' | 'imageShape' | 'numClasses'>, batchSize: number): Record<string, number> {
  const keys = ['member 0', ...OPEN_CHOICES.decision.map((d) => `ensemble decision=${d}`)];
  const predictors = [memberPredictor(ensemble, 0), ...OPEN_CHOICES.decision.map((d) => DECISION_PREDICTORS[d](ensemble))];
  const correct = sumOverBatches({ split: data.test, imageShape: data.imageShape, numClasses: data.numClasses }, batchSize, keys.length, ({ x, labels }) =>
    tf.stack(predictors.map((predict) => tf.sum(tf.cast(tf.equal(predict(x), labels), 'int32')))),
  );
  return Object.fromEntries(keys.map((k, i) => [k, correct[i] / data.test.count]));
}

/** Whether four cell values, in CELLS order, fall in the paper's order (each above the next). */
export function hasPaperOrder(values: readonly number[]): boolean {
  return values.every((v, i) => i === 0 || values[i - 1] > v);
}
