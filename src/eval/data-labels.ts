/**
 * How the report names the data behind its numbers: from each run's manifest, what the files were (a
 * known copy such as the CIFAR-10 JPEG stand-in is named for what it is), whether they matched the
 * official checksums, and a fingerprint of their bytes.
 */
import { createHash } from 'node:crypto';
import type { ManifestData } from '../run/manifest.ts';
import type { RunResults } from './run-results.ts';

const NOT_RECORDED = 'data not recorded (run trained before ensdef recorded it)';

/** sha256 over the files' names and digests, 12 hex digits: equal fingerprints, equal bytes read. */
export function dataFingerprint(data: ManifestData): string {
  const lines = data.files.map((f) => `${f.name} ${f.sha256}`).sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 12);
}

function describe(data: ManifestData | undefined): string {
  if (!data) return NOT_RECORDED;
  return `${data.label}, ${data.verified ? 'verified' : 'unverified'}`;
}

/** Per data set name, what its runs were trained on, e.g. "cifar10: CIFAR-10 stand-in (…), unverified". */
export function dataLabels(runs: RunResults[]): Map<string, string> {
  const byDataset = new Map<string, Set<string>>();
  for (const { manifest } of runs) {
    const set = byDataset.get(manifest.config.dataset) ?? new Set<string>();
    byDataset.set(manifest.config.dataset, set.add(describe(manifest.data)));
  }
  return new Map([...byDataset].map(([dataset, labels]) => [dataset, `${dataset}: ${[...labels].sort().join(' + ')}`]));
}

/** The report's Data section: one line per distinct set of files, with the runs that read it. */
export function dataMarkdown(runs: RunResults[]): string {
  const groups = new Map<string, { text: string; runs: string[] }>();
  for (const { name, manifest } of runs) {
    const data = manifest.data;
    const key = data ? dataFingerprint(data) : '';
    const text = data
      ? `**${data.label}** — ${data.verified ? `verified (${data.check})` : `**not verified** against official checksums (${data.check})`}; fingerprint \`${key}\` over ${data.files.length} files (sha256 of each in the run's manifest.json)`
      : NOT_RECORDED;
    const group = groups.get(key) ?? { text, runs: [] };
    group.runs.push(name);
    groups.set(key, group);
  }
  return [...groups.values()].map((g) => `- ${g.text}: ${g.runs.sort().join(', ')}`).join('\n');
}
