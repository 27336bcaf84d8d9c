/** One member of a run, trained from its seed by its method's plan and saved with its record. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendInfo } from '../backend/select.ts';
import type { TrainConfig } from '../config/train-config.ts';
import { buildModel, loadDataset } from '../datasets/registry.ts';
import { MEMBER_STREAMS } from '../ensembles/method.ts';
import { saveCheckpoint } from '../models/checkpoint.ts';
import { evaluateAccuracy, modelLogits } from '../models/predict.ts';
import { trainMember, type BatchInfo } from '../models/train-member.ts';
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
  const dataset = loadDataset(config);
  const seed = deriveSeed(config.seed, index);
  const directory = memberDir(dir, index);
  for (const file of FINAL_FILES) rmSync(join(directory, file), { force: true });
  const checkpointIdentity = JSON.stringify({ ...trainedIdentity(config), member: index });
  const checkpoint = { path: join(directory, TRAIN_STATE_FILE), identity: `${checkpointIdentity}:member` };
  const label = `member ${index + 1}/${config.members}`;
  const bar = new Progress(label, 'samples', { lines: inWorker });
  const showBatch = (phase: string) => (info: BatchInfo) =>
    bar.update({ done: info.samplesDone, total: info.samplesTotal, detail: `${phase} epoch ${info.epoch + 1}/${info.epochs} loss ${info.loss.toFixed(4)}` });
  const plan = await methodDefinition(config.method).plan({
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
  const testAccuracy = evaluateAccuracy(modelLogits(model), dataset.test, dataset.imageShape, dataset.numClasses);
  await saveCheckpoint(model, directory, { model: plan.model, seed, ...plan.facts });
  model.dispose();
  const record: MemberRecord = {
    index,
    model: plan.model,
    seed,
    testAccuracy,
    finalLoss: result.finalLoss,
    trainSeconds: result.seconds,
    samplesPerSecond: result.samplesPerSecond,
    backend: backend.name,
    facts: plan.facts,
  };
  writeMemberRecord(directory, record);
  // The record makes the member finished; its checkpoint would never be read again.
  rmSync(checkpoint.path, { force: true });
  return record;
}

