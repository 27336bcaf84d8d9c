/** manifest.json: the resolved config, seeds, versions, backend, status and per-member records of a run. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendInfo } from '../backend/select.ts';
import type { TrainConfig } from '../config/train-config.ts';
import { UserError } from '../errors.ts';
import { writeJsonAtomic } from './atomic.ts';
import { withFileLock } from './lock.ts';
import { ensdefCommit, ensdefVersion, installedVersion } from '../versions.ts';

export interface MemberRecord {
  index: number;
  model: string;
  seed: number;
  testAccuracy: number;
  finalLoss: number;
  trainSeconds: number;
  samplesPerSecond: number;
  backend: string;
  facts: Record<string, unknown>;
}

export interface DataFile {
  name: string;
  bytes: number;
  sha256: string;
}

/** What data was read (the loaders fill it in: src/data/provenance.ts). */
export interface DataProvenance {
  /** What the data is, e.g. "CIFAR-10 stand-in (JPEG q75 re-encoding ...)". */
  label: string;
  /** True only when every file read matched the official checksums. */
  verified: boolean;
  /** How `verified` was decided, in a few words. */
  check: string;
  files: DataFile[];
}

/** The data a run was trained on: where from, what it is, each file's sha256, and whether it was verified. */
export type ManifestData = DataProvenance & { source: string };

/** Names of the files whose sha256 differs between two records of the data read (a file missing from either counts). */
export function changedFiles(recorded: DataFile[], now: DataFile[]): string[] {
  const names = [...new Set([...recorded, ...now].map((f) => f.name))];
  const digest = (files: DataFile[], name: string) => files.find((f) => f.name === name)?.sha256;
  return names.filter((name) => digest(recorded, name) !== digest(now, name)).sort();
}

export interface Manifest {
  tool: 'ensdef';
  version: string;
  createdAt: string;
  updatedAt: string;
  command: string;
  config: TrainConfig;
  seeds: { run: number; members: number[] };
  versions: Record<string, string>;
  backend: BackendInfo;
  /** Absent in manifests written before ensdef recorded it. */
  data?: ManifestData;
  status: 'running' | 'complete' | 'failed';
  failure?: string;
  members: MemberRecord[];
  evaluation?: { testCount: number; memberAccuracy: number[]; ensembleAccuracy: number };
  timings: { trainSeconds?: number };
}

export const MANIFEST = 'manifest.json';
export const MEMBER_RECORD = 'record.json';

export function packageVersions(): Record<string, string> {
  return {
    ensdef: ensdefVersion(),
    'ensdef-commit': ensdefCommit(),
    node: process.versions.node,
    '@tensorflow/tfjs': installedVersion('@tensorflow/tfjs'),
    '@tensorflow/tfjs-backend-wasm': installedVersion('@tensorflow/tfjs-backend-wasm'),
  };
}

function readJson<T>(path: string, what: string, fix: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UserError(`${what} missing: ${path}; ${fix}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UserError(`${path}: corrupt ${what} (not valid JSON); ${fix}`);
  }
}

export function manifestExists(dir: string): boolean {
  return existsSync(join(dir, MANIFEST));
}

export function readManifest(dir: string): Manifest {
  const manifest = readJson<Manifest>(join(dir, MANIFEST), 'manifest', `retrain the run or remove ${dir}`);
  if (manifest.tool !== 'ensdef' || !manifest.config || !Array.isArray(manifest.members)) {
    throw new UserError(`${join(dir, MANIFEST)}: not an ensdef manifest; retrain the run or remove ${dir}`);
  }
  return manifest;
}

export function writeManifest(dir: string, manifest: Manifest): void {
  writeJsonAtomic(join(dir, MANIFEST), { ...manifest, updatedAt: new Date().toISOString() });
}

/**
 * Read-modify-write of the manifest under its file lock: array tasks finishing at the same moment each
 * see the others' updates. `update` gets the manifest on disk (undefined if there is none yet) and returns
 * the one to write, or undefined to leave it as it is.
 */
export function updateManifest(dir: string, update: (current: Manifest | undefined) => Manifest | undefined): Manifest | undefined {
  return withFileLock(join(dir, MANIFEST), () => {
    const next = update(manifestExists(dir) ? readManifest(dir) : undefined);
    if (next) writeManifest(dir, next);
    return next;
  });
}

export function readMemberRecord(memberDirectory: string): MemberRecord | undefined {
  const path = join(memberDirectory, MEMBER_RECORD);
  if (!existsSync(path)) return undefined;
  return readJson<MemberRecord>(path, 'member record', `delete ${memberDirectory} and rerun 'ensdef train' to retrain that member`);
}

export function writeMemberRecord(memberDirectory: string, record: MemberRecord): void {
  writeJsonAtomic(join(memberDirectory, MEMBER_RECORD), record);
}
