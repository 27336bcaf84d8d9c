/**
 * What data a run read, so a result can be traced to its bytes: each file's sha256, and whether the files
 * were checked against the official checksums (by `ensdef data fetch`, or because they are the official
 * archives themselves). A copy that is not the official one is named for what it is, never by the data
 * set's name alone.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeJsonAtomic } from '../run/atomic.ts';
import type { DataFile, DataProvenance } from '../run/manifest.ts';

export type { DataFile, DataProvenance };

export function describeFile(path: string): DataFile {
  const bytes = readFileSync(path);
  return { name: basename(path), bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** A known copy of a data set that is not the official one: its label and the sha256 of each of its files. */
export interface KnownCopy {
  label: string;
  sha256: Record<string, string>;
}

export function matchesDigests(files: DataFile[], digests: Record<string, string>): boolean {
  return files.length > 0 && files.every((f) => digests[f.name] === f.sha256);
}

/** Written by `data fetch` next to files it extracted from a verified archive: their sha256, as extracted. */
export const VERIFIED_MARKER = 'ensdef-verified.json';

interface VerifiedMarker {
  archive: string;
  check: string;
  sha256: Record<string, string>;
}

export function writeVerifiedMarker(dir: string, archive: string, check: string, names: string[]): void {
  const sha256 = Object.fromEntries(names.map((name) => [name, describeFile(join(dir, name)).sha256]));
  writeJsonAtomic(join(dir, VERIFIED_MARKER), { archive, check, sha256 } satisfies VerifiedMarker);
}

/** The files' digests as `data fetch` recorded them after verifying their archive; undefined without a marker. */
export function readVerifiedMarker(dir: string): VerifiedMarker | undefined {
  const path = join(dir, VERIFIED_MARKER);
  if (!existsSync(path)) return undefined;
  try {
    const marker = JSON.parse(readFileSync(path, 'utf8')) as VerifiedMarker;
    return marker && typeof marker.sha256 === 'object' ? marker : undefined;
  } catch {
    return undefined;
  }
}

/** "verified against the official checksums" or "NOT verified: …" — how reports name the data's standing. */
export function provenanceNote(p: Pick<DataProvenance, 'verified' | 'check'>): string {
  return p.verified ? `verified (${p.check})` : `not verified against official checksums (${p.check})`;
}
