/**
 * docs/reproductions/NAME holds what a finished reproduction measured (each run's manifest.json and
 * results.csv, no checkpoints) beside the report built from it; docs/RESULTS.md quotes that report. Rebuilding
 * it from the saved runs must give the committed files byte for byte.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildReport } from '../../src/eval/report.ts';
import { snapshotTree } from '../helpers/reliability.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = new URL('../../docs/reproductions/', import.meta.url).pathname;

describe('saved reproductions', () => {
  const names = existsSync(ROOT) ? readdirSync(ROOT).filter((name) => existsSync(join(ROOT, name, 'runs'))) : [];

  it('docs/reproductions holds at least one', () => {
    assert.ok(names.length > 0, `no saved reproduction under ${ROOT}`);
  });

  for (const name of names) {
    it(`${name}: the report rebuilt from its saved runs is the committed one, byte for byte`, () => {
      const out = join(tempDir('saved-report'), 'report');
      buildReport(join(ROOT, name, 'runs'), out);
      // Every file, by the sha256 of its bytes: a missing, extra or changed file shows by name.
      assert.deepEqual(snapshotTree(out), snapshotTree(join(ROOT, name, 'report')));
    });
  }
});
