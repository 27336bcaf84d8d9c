/**
 * One member of a run, trained from its seed by its method's plan and saved with its record; or, for a
 * joint method, every member of the run trained together (trainAndSaveJointly).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendInfo } from '../backend/select.ts';
import type * as tf from '@tensorflow/tfjs';
import type { TrainConfig } from '../config/train-config.ts';
import type { Dataset } from '../data/dataset.ts';
import { buildModel, loadDataset } from '../datasets/registry.ts';
import { MEMBER_STREAMS, RUN_STREAMS, type MemberPlan } from '../ensembles/method.ts';
import { saveCheckpoint } from '../models/checkpoint.ts';
import { evaluateAccuracy, modelLogits } from '../models/predict.ts';
import { trainJointly, trainMember, type BatchInfo, type MemberTrainingResult } from '../models/train-member.ts';
import { TRAIN_STATE_FILE } from '../models/train-state.ts';
import { writeMemberRecord, type MemberRecord } from '../run/manifest.ts';
import { Progress } from '../run/progress.ts';
import { deriveSeed } from '../run/rng.ts';
import { memberDir } from '../run/run-dir.ts';
import { methodDefinition, methodParams, trainedIdentity } from './methods.ts';

/** Files of a finished member; a member without record.json is unfinished and these are stale. */
const FINAL_FILES = ['record.json', 'model.json', 'weights.bin'];

/**
 * Trains member `index` of the run in `dir` and saves it. An unfinished member continues from its last
 * epoch checkpoint (and a distilled member from its saved teacher); everything else of it is rebuilt.
 * `inWorker`: one of several processes sharing the terminal, so progress comes as plain lines.
 */
export async function trainAndSaveMember(dir: string, config: TrainConfig, index: number, backend: BackendInfo, inWorker = false): Promise<MemberRecord> {
  const method = methodDefinition(config.method);
  if (method.joint) throw new Error(`${config.method} trains its members jointly (trainAndSaveJointly), never one alone`);
  const dataset = loadDataset(config);
  const seed = deriveSeed(config.seed, index);
  const directory = memberDir(dir, index);
  for (const file of FINAL_FILES) rmSync(join(directory, file), { force: true });
  const checkpointIdentity = JSON.stringify({ ...trainedIdentity(config), member: index });
  const checkpoint = { path: join(directory, TRAIN_STATE_FILE), identity: `${checkpointIdentity}:member` };
  const label = `member ${index + 1}/${config.members}`;
  const bar = new Progress(label, 'samples', { lines: inWorker });
  const showBatch = (phase: string) => (info: BatchInfo) =>
    bar.update({ done: info.samplesDone, total: info.samplesTotal, initial: info.samplesResumed, detail: `${phase} epoch ${info.epoch + 1}/${info.epochs} loss ${info.loss.toFixed(4)}` });
  const plan = await method.plan({
    config,
    params: methodParams(config),
    dataset,
    index,
    seed,
    dir: directory,
    onBatch: (info, phase) => showBatch(phase)(info),
    checkpointIdentity,
    log: (line) => bar.note(line),
  });
  const model = buildModel(plan.model, deriveSeed(seed, MEMBER_STREAMS.init));
  const result = trainMember(model, {
    split: dataset.train,
    imageShape: dataset.imageShape,
    numClasses: dataset.numClasses,
    indices: plan.indices,
    epochs: config.epochs,
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    shuffleSeed: deriveSeed(seed, MEMBER_STREAMS.shuffle),
    transformBatch: plan.transformBatch,
    loss: plan.loss,
    softTargets: plan.softTargets,
    label,
    onBatch: showBatch('train'),
    checkpoint,
    onResume: (line) => bar.note(`${label}: ${line}`),
  });
  bar.finish();
  const record = await saveMember(directory, model, { index, seed, plan, result, backend, dataset });
  model.dispose();
  writeMemberRecord(directory, record);
  // The record makes the member finished; its checkpoint would never be read again.
  rmSync(checkpoint.path, { force: true });
  return record;
}

/** A trained member evaluated and its model saved; its record, to be written once it is finished. */
async function saveMember(
  directory: string,
  model: tf.LayersModel,
  member: { index: number; seed: number; plan: MemberPlan; result: MemberTrainingResult; backend: BackendInfo; dataset: Dataset },
): Promise<MemberRecord> {
  const { index, seed, plan, result, dataset } = member;
  const testAccuracy = evaluateAccuracy(modelLogits(model), dataset.test, dataset.imageShape, dataset.numClasses);
  await saveCheckpoint(model, directory, { model: plan.model, seed, ...plan.facts });
  return {
    index,
    model: plan.model,
    seed,
    testAccuracy,
    finalLoss: result.finalLoss,
    trainSeconds: result.seconds,
    samplesPerSecond: result.samplesPerSecond,
    backend: member.backend.name,
    facts: plan.facts,
  };
}

/**
 * Trains every member of a joint method's run together (MethodDefinition.joint) and saves them all. Each
 * member starts from its own initial weights (its seed's init stream, as for any member); the batch order
 * and the joint loss's random choices come from the run seed. The run's one checkpoint (RUN/train-state.bin)
 * holds every member at the same epoch, so a killed run resumes from the last epoch all members finished.
 * The members are saved first and recorded after, so a run killed while saving them trains none again:
 * it resumes after the last epoch and saves them all once more.
 */
export async function trainAndSaveJointly(dir: string, config: TrainConfig, backend: BackendInfo): Promise<MemberRecord[]> {
  const method = methodDefinition(config.method);
  const dataset = loadDataset(config);
  const params = methodParams(config);
  const identity = JSON.stringify(trainedIdentity(config));
  const bar = new Progress(`${config.members} members jointly`, 'samples');
  const onBatch = (info: BatchInfo) =>
    bar.update({ done: info.samplesDone, total: info.samplesTotal, initial: info.samplesResumed, detail: `epoch ${info.epoch + 1}/${info.epochs} ensemble loss ${info.loss.toFixed(4)}` });
  const members: { index: number; seed: number; directory: string; plan: MemberPlan }[] = [];
  for (let index = 0; index < config.members; index++) {
    const seed = deriveSeed(config.seed, index);
    const directory = memberDir(dir, index);
    for (const file of FINAL_FILES) rmSync(join(directory, file), { force: true });
    members.push({ index, seed, directory, plan: await method.plan({ config, params, dataset, index, seed, dir: directory, onBatch }) });
  }
  const indices = members[0].plan.indices;
  if (members.some((m) => m.plan.indices.length !== indices.length || m.plan.indices.some((v, k) => v !== indices[k]))) {
    throw new Error(`${config.method}: jointly trained members must train on the same examples`);
  }
  const models = members.map((m) => buildModel(m.plan.model, deriveSeed(m.seed, MEMBER_STREAMS.init)));
  const checkpoint = { path: join(dir, TRAIN_STATE_FILE), identity: `${identity}:joint` };
  const result = trainJointly(models, method.joint!.loss(params, deriveSeed(config.seed, RUN_STREAMS.attack), Math.ceil(indices.length / config.batchSize)), {
    split: dataset.train,
    imageShape: dataset.imageShape,
    numClasses: dataset.numClasses,
    indices,
    epochs: config.epochs,
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    shuffleSeed: deriveSeed(config.seed, RUN_STREAMS.shuffle),
    label: 'ensemble',
    onBatch,
    checkpoint,
    onResume: (line) => bar.note(`ensemble: ${line}`),
  });
  bar.finish();
  const records: MemberRecord[] = [];
  for (const [i, m] of members.entries()) records.push(await saveMember(m.directory, models[i], { ...m, result, backend, dataset }));
  for (const model of models) model.dispose();
  for (const [i, m] of members.entries()) writeMemberRecord(m.directory, records[i]);
  rmSync(checkpoint.path, { force: true });
  return records;
}
