/**
 * Many writers, one run: what Slurm array tasks and attack jobs on several nodes do to one run directory.
 * Twenty processes append rows to one results.csv at once, and twenty `train --member i` processes train
 * the twenty members of one run at once; no row and no member record may be lost.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { readResults } from '../../src/eval/results.ts';
import { readManifest } from '../../src/run/manifest.ts';
import { fileLockPath } from '../../src/run/lock.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { ensdef } from '../helpers/reliability.ts';

const home = tempDir('concurrent');
const WRITERS = 20;
const ROWS_EACH = 5;

/** A process that appends ROWS_EACH rows, one call each, tagged with its writer number. */
const APPENDER = `
import { appendResults } from ${JSON.stringify(fileURLToPath(new URL('../../src/eval/results.ts', import.meta.url)))};
const [path, writer] = process.argv.slice(-2);
for (let k = 0; k < ${ROWS_EACH}; k++) {
  appendResults(path, [{ dataset: 'mnist', method: 'w' + writer, table: 'other', attack: 'none', params: {}, grad: '', loss: '', scored_on: 'single',
    member: String(k), surrogate: '', n: 1, accuracy: 0.5, zero_grad_fraction: null, seconds: 0 }]);
}
`;

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('twenty concurrent writers on one run', () => {
  test(`${WRITERS} processes appending ${ROWS_EACH} rows each to one results.csv keep all ${WRITERS * ROWS_EACH}`, async () => {
    const path = join(home, 'results.csv');
    const results = await Promise.all(
      Array.from({ length: WRITERS }, (_, w) => run(['--import', 'tsx', '--input-type=module', '-e', APPENDER, path, String(w)])),
    );
    results.forEach((r) => assert.equal(r.code, 0, r.stderr));
    const rows = readResults(path);
    assert.equal(rows.length, WRITERS * ROWS_EACH);
    assert.equal(new Set(rows.map((r) => `${r.method}/${r.member}`)).size, WRITERS * ROWS_EACH);
    assert.ok(!existsSync(fileLockPath(path)), 'the file lock is released');
  });

  test(`${WRITERS} 'train --member i' processes on one run: every member record kept, the run evaluated once complete`, { timeout: 600_000 }, async () => {
    const runs = join(home, 'runs');
    const args = (i: number) => [
      'train', '--method', 'random-init', '--members', String(WRITERS), '--epochs', '1', '--train-limit', '64', '--test-limit', '20',
      '--batch-size', '64', '--backend', 'wasm', '--run', 'many', '--runs-dir', runs, '--member', String(i),
    ];
    const results = await Promise.all(Array.from({ length: WRITERS }, (_, i) => ensdef(args(i), { timeoutMs: 540_000 })));
    results.forEach((r, i) => assert.equal(r.status, 0, `member ${i}: ${r.stderr}`));
    const manifest = readManifest(join(runs, 'many'));
    assert.deepEqual(manifest.members.map((m) => m.index), Array.from({ length: WRITERS }, (_, i) => i));
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.evaluation?.memberAccuracy.length, WRITERS);
    // One of them evaluated the run; the others said how many members it had when they finished.
    assert.ok(results.some((r) => /ensemble test accuracy/.test(r.stdout)));
    // No lock is left behind.
    const leftovers = readdirSync(join(runs, 'many'), { recursive: true }).map(String).filter((f) => f.endsWith('.lock'));
    assert.deepEqual(leftovers, []);
    assert.ok(readFileSync(join(runs, 'many', 'manifest.json'), 'utf8').includes('"status": "complete"'));
  });
});
