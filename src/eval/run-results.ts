/** Every run under a runs directory: its manifest and its results.csv rows (possibly none). */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { MANIFEST, manifestExists, readManifest, type Manifest } from '../run/manifest.ts';
import { readResults, RESULTS_FILE, resultsPath, type ResultRow } from './results.ts';

export interface RunResults {
  name: string;
  manifest: Manifest;
  rows: ResultRow[];
}

export function collectRunResults(runsRoot: string): RunResults[] {
  if (!existsSync(runsRoot) || !statSync(runsRoot).isDirectory()) throw new UserError(`runs directory not found: ${resolve(runsRoot)}; train and attack first, or pass --runs`);
  const names = readdirSync(runsRoot, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  // Results without the manifest that says what produced them are refused, never silently left out.
  const orphan = names.find((name) => !manifestExists(join(runsRoot, name)) && existsSync(resultsPath(join(runsRoot, name))));
  if (orphan) throw new UserError(`${join(runsRoot, orphan, MANIFEST)} missing beside ${RESULTS_FILE}; restore it or move ${join(runsRoot, orphan)} out of ${runsRoot}`);
  return names
    .filter((name) => manifestExists(join(runsRoot, name)))
    .sort()
    .map((name) => {
      const dir = join(runsRoot, name);
      return { name, manifest: readManifest(dir), rows: readResults(resultsPath(dir)) };
    });
}
