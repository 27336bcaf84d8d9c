/**
 * Saving and loading a model as model.json + weights.bin without tfjs-node's file:// handler.
 * weights.bin is written first and model.json last (both atomically), and model.json records the
 * weights' byte length and sha256, so a half-written or corrupted checkpoint is detected on load.
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { writeFileAtomic, writeJsonAtomic } from '../run/atomic.ts';
import './conv-relu-layer.ts';
import './seeded-dropout.ts';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

interface CheckpointJson {
  format: 'ensdef-checkpoint-1';
  modelTopology: object;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightsBytes: number;
  weightsSha256: string;
  /** Free-form facts about how the model was made (architecture name, temperature, ...). */
  meta: Record<string, unknown>;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function saveCheckpoint(model: tf.LayersModel, dir: string, meta: Record<string, unknown> = {}): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData!));
      writeFileAtomic(join(dir, WEIGHTS_BIN), weights);
      const json: CheckpointJson = {
        format: 'ensdef-checkpoint-1',
        modelTopology: artifacts.modelTopology as object,
        weightSpecs: artifacts.weightSpecs!,
        weightsBytes: weights.byteLength,
        weightsSha256: sha256(weights),
        meta,
      };
      writeJsonAtomic(join(dir, MODEL_JSON), json);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
}

function readCheckpointJson(dir: string): CheckpointJson {
  const path = join(dir, MODEL_JSON);
  if (!existsSync(path)) throw new UserError(`checkpoint missing: ${path}; retrain the member (rerun 'ensdef train' with the same options)`);
  let json: CheckpointJson;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as CheckpointJson;
  } catch {
    throw new UserError(`${path}: not valid JSON; delete the member directory and rerun 'ensdef train' to retrain it`);
  }
  if (json.format !== 'ensdef-checkpoint-1') throw new UserError(`${path}: not an ensdef checkpoint; delete it and retrain`);
  const complete =
    typeof json.modelTopology === 'object' &&
    json.modelTopology !== null &&
    Array.isArray(json.weightSpecs) &&
    Number.isSafeInteger(json.weightsBytes) &&
    typeof json.weightsSha256 === 'string';
  if (!complete) throw new UserError(`${path}: incomplete checkpoint (modelTopology, weightSpecs, weightsBytes or weightsSha256 missing); delete ${dir} and rerun 'ensdef train' to retrain it`);
  return json;
}

export function readCheckpointMeta(dir: string): Record<string, unknown> {
  return readCheckpointJson(dir).meta;
}

export async function loadCheckpoint(dir: string): Promise<tf.LayersModel> {
  const json = readCheckpointJson(dir);
  const weightsPath = join(dir, WEIGHTS_BIN);
  const weights = existsSync(weightsPath) ? readFileSync(weightsPath) : undefined;
  if (!weights || weights.byteLength !== json.weightsBytes || sha256(weights) !== json.weightsSha256) {
    throw new UserError(`${weightsPath}: missing or corrupt (size or sha256 differs from model.json); delete ${dir} and rerun 'ensdef train' to retrain it`);
  }
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
  try {
    return await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightSpecs, weightData }));
  } catch (error) {
    // The hash matched model.json, so model.json itself describes a model tfjs cannot build.
    throw new UserError(`${join(dir, MODEL_JSON)}: cannot rebuild the model (${(error as Error).message.split('\n')[0]}); delete ${dir} and rerun 'ensdef train' to retrain it`);
  }
}
