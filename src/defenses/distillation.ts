/**
 * Defensive distillation (Papernot et al. 2016; the paper's section 4.3), T = 10:
 * a teacher is trained on the labels with softmax(logits / T); the teacher's softmax at T labels the
 * training set; the distilled network (the member) is trained at T on those soft labels, then used at
 * T = 1. Both networks output plain logits: T only ever enters the training loss, so evaluation,
 * ensembling and attacks see the distilled network at T = 1 without doing anything special.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Split } from '../data/dataset.ts';
import { MEMBER_STREAMS, type MemberContext, type MethodDefinition, type MethodParam } from '../ensembles/method.ts';
import { EVAL_BATCH, evaluateAccuracy, modelLogits, scoreSplit } from '../models/predict.ts';
import { loadCheckpoint, readCheckpointMeta, saveCheckpoint } from '../models/checkpoint.ts';
import { TRAIN_STATE_FILE } from '../models/train-state.ts';
import { baseModelFor, buildModel } from '../datasets/registry.ts';
import { deriveSeed } from '../run/rng.ts';
import { crossEntropyFromLogits, type BatchLoss } from '../models/loss.ts';
import { trainMember } from '../models/train-member.ts';
import { memberTrainingSet } from './training-set.ts';

export const TEMPERATURE: MethodParam = { key: 'temperature', symbol: 'T', help: 'defensive distillation temperature', integer: false, min: 0, max: 1000, exclusiveMin: true, default: () => 10, defaultHelp: "the paper's" };

/** Subdirectory of the member's directory that holds its teacher. */
export const TEACHER_DIR = 'teacher';

/** CE(targets, softmax(logits / T)): the loss of both the teacher (one-hot targets) and the student (soft targets). */
export function temperatureLoss(temperature: number): BatchLoss {
  return (model, x, targets) => tf.tidy(() => crossEntropyFromLogits(targets, tf.div(model.apply(x, { training: true }) as tf.Tensor2D, temperature)));
}

/** softmax(logits / T) of every example of the split (inference mode, batched): flat [count × classes]. */
export function softLabels(model: tf.LayersModel, split: Split, imageShape: [number, number, number], temperature: number, batchSize = EVAL_BATCH): Float32Array {
  const logits = modelLogits(model);
  return scoreSplit((x) => tf.softmax(tf.div<tf.Tensor2D>(logits(x), temperature)), split, imageShape, batchSize);
}

interface Teacher {
  model: tf.LayersModel;
  facts: Record<string, unknown>;
}

/**
 * Trains the member's teacher at T on its own seed stream and saves it under the member's directory, with
 * the facts the member's record reports. A teacher saved by an earlier, interrupted attempt is loaded
 * instead (its weights are those it was saved with, so the soft labels and the student are the same);
 * a teacher interrupted mid-training resumes from its own epoch checkpoint.
 */
async function trainTeacher(ctx: MemberContext, modelName: string, indices: Int32Array): Promise<Teacher> {
  const { config, dataset } = ctx;
  const { temperature } = ctx.params;
  const teacherSeed = deriveSeed(ctx.seed, MEMBER_STREAMS.teacher);
  const dir = join(ctx.dir, TEACHER_DIR);
  if (existsSync(join(dir, 'model.json'))) {
    const meta = readCheckpointMeta(dir);
    if (ctx.checkpointIdentity !== undefined && meta.checkpointIdentity === ctx.checkpointIdentity && typeof meta.finalLoss === 'number') {
      ctx.log?.(`member ${ctx.index + 1} teacher: trained by an earlier attempt, loaded from ${dir}`);
      const model = await loadCheckpoint(dir);
      const testAccuracy = evaluateAccuracy(modelLogits(model), dataset.test, dataset.imageShape, dataset.numClasses);
      return { model, facts: { teacherSeed, teacherTestAccuracy: testAccuracy, teacherFinalLoss: meta.finalLoss, teacherTrainSeconds: meta.trainSeconds } };
    }
  }
  const checkpoint = ctx.checkpointIdentity === undefined ? undefined : { path: join(dir, TRAIN_STATE_FILE), identity: `${ctx.checkpointIdentity}:teacher` };
  const model = buildModel(modelName, deriveSeed(teacherSeed, MEMBER_STREAMS.init));
  const result = trainMember(model, {
    split: dataset.train,
    imageShape: dataset.imageShape,
    numClasses: dataset.numClasses,
    indices,
    epochs: config.epochs,
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    shuffleSeed: deriveSeed(teacherSeed, MEMBER_STREAMS.shuffle),
    loss: temperatureLoss(temperature),
    label: `member ${ctx.index + 1} teacher`,
    onBatch: (info) => ctx.onBatch(info, 'teacher'),
    checkpoint,
    onResume: (line) => ctx.log?.(`member ${ctx.index + 1} teacher: ${line}`),
  });
  const testAccuracy = evaluateAccuracy(modelLogits(model), dataset.test, dataset.imageShape, dataset.numClasses);
  await saveCheckpoint(model, dir, {
    model: modelName,
    seed: teacherSeed,
    role: 'teacher',
    temperature,
    checkpointIdentity: ctx.checkpointIdentity,
    finalLoss: result.finalLoss,
    trainSeconds: result.seconds,
  });
  if (checkpoint) rmSync(checkpoint.path, { force: true });
  return {
    model,
    facts: { teacherSeed, teacherTestAccuracy: testAccuracy, teacherFinalLoss: result.finalLoss, teacherTrainSeconds: result.seconds },
  };
}

function distillationMethod(bootstrap: boolean): Omit<MethodDefinition, 'name' | 'summary' | 'size' | 'paperRows'> {
  return {
    params: [TEMPERATURE],
    // The teacher's training, then the student's; soft labels are one inference pass.
    workPerSample: () => 2,
    plan: async (ctx) => {
      const { dataset } = ctx;
      const { temperature } = ctx.params;
      const modelName = baseModelFor(dataset.name);
      const { indices, facts } = memberTrainingSet(ctx, bootstrap);
      const teacher = await trainTeacher(ctx, modelName, indices);
      try {
        return {
          model: modelName,
          indices,
          // Labels every training example; the student reads only its own indices (its bootstrap replicate when bagging).
          softTargets: softLabels(teacher.model, dataset.train, dataset.imageShape, temperature),
          loss: temperatureLoss(temperature),
          facts: { ...facts, ...teacher.facts, temperature, teacher: TEACHER_DIR },
        };
      } finally {
        teacher.model.dispose();
      }
    },
  };
}

export const distillation: MethodDefinition = {
  name: 'distillation',
  summary: 'defensive distillation at temperature T (Papernot et al. 2016)',
  size: 'defense',
  paperRows: { table4: 'defensive_distillation' },
  ...distillationMethod(false),
};

/** Bagging + defensive distillation: each member (teacher and student) trained on its own bootstrap replicate. */
export const baggingDistillation: MethodDefinition = {
  name: 'bagging+distillation',
  summary: 'bagging, every member defensively distilled',
  size: 'ensemble',
  paperRows: { table4: 'bagging+defensive_distillation' },
  ...distillationMethod(true),
};
