/** Every run under a runs directory: its manifest and its results.csv rows (possibly none). */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { manifestExists, readManifest, type Manifest } from '../run/manifest.ts';
import { readResults, resultsPath, type ResultRow } from './results.ts';

export interface RunResults {
  name: string;
  manifest: Manifest;
  rows: ResultRow[];
}

export function collectRunResults(runsRoot: string): RunResults[] {
  if (!existsSync(runsRoot)) throw new UserError(`runs directory not found: ${resolve(runsRoot)}; train and attack first, or pass --runs`);
  return readdirSync(runsRoot, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && manifestExists(join(runsRoot, entry.name)))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const dir = join(runsRoot, name);
      return { name, manifest: readManifest(dir), rows: readResults(resultsPath(dir)) };
    });
}
