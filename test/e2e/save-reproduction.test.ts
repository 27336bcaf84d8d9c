/**
 * scripts/save-reproduction.sh saves a reproduction part by part: a part run into another OUT (another
 * machine's) and saved under the same name keeps what earlier parts saved, runs and sittings alike, and
 * the report is rebuilt from all of them. A save that cannot merge leaves the last save as it was.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { appendResults, resultsPath } from '../../src/eval/results.ts';
import { STATE_FILE, type ReproduceState, type Sitting } from '../../src/reproduce/run.ts';
import { writeManifest } from '../../src/run/manifest.ts';
import { runManifest, snapshotTree } from '../helpers/reliability.ts';
import { resultRow } from '../helpers/results.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SCRIPT = fileURLToPath(new URL('../../scripts/save-reproduction.sh', import.meta.url));
const home = tempDir('save-reproduction');
const saves = join(home, 'reproductions');

const sitting = (started: string, steps: number): Sitting => ({ started, seconds: 60 * steps, machine: 'test ×2', backend: 'wasm', steps });

/** An OUT holding `runs` (each a complete run with one clean-accuracy row) and a state with one sitting. */
function part(name: string, runs: { name: string; method: string; accuracy: number }[], state: Partial<ReproduceState> & { started: string }): string {
  const out = join(home, name);
  for (const run of runs) {
    const dir = join(out, 'runs', run.name);
    mkdirSync(dir, { recursive: true });
    writeManifest(dir, runManifest({ method: run.method, members: 2, status: 'complete' }));
    appendResults(resultsPath(dir), [resultRow({ method: run.method, accuracy: run.accuracy })]);
  }
  const { started, ...rest } = state;
  const full: ReproduceState = { preset: 'paper', datasets: ['mnist'], done: runs.map((r) => `train:${r.name}`), sittings: [sitting(started, runs.length)], ...rest };
  writeFileSync(join(out, STATE_FILE), JSON.stringify(full));
  return out;
}

function save(out: string, name = 'parts') {
  return spawnSync('bash', [SCRIPT, out, name], { encoding: 'utf8', env: { ...process.env, ENSDEF_REPRODUCTIONS_DIR: saves } });
}

const savedState = (name = 'parts') => JSON.parse(readFileSync(join(saves, name, STATE_FILE), 'utf8')) as ReproduceState;

describe('save-reproduction.sh', () => {
  it('keeps the runs and sittings of parts saved from another OUT, and rebuilds the report from all of them', () => {
    const first = part('first', [{ name: 'mnist-bagging', method: 'bagging', accuracy: 0.9 }], { started: '2026-12-01T10:00:00.000Z' });
    assert.equal(save(first).status, 0);
    assert.deepEqual(readdirSync(join(saves, 'parts', 'runs')), ['mnist-bagging']);

    // The second part, on "another machine": its OUT holds only its own run and its own sitting.
    const second = part('second', [{ name: 'mnist-random-init', method: 'random-init', accuracy: 0.8 }], { started: '2026-12-02T10:00:00.000Z' });
    const saved = save(second);
    assert.equal(saved.status, 0, saved.stderr);
    assert.match(saved.stdout, /kept mnist-bagging/);
    assert.deepEqual(readdirSync(join(saves, 'parts', 'runs')).sort(), ['mnist-bagging', 'mnist-random-init']);
    const state = savedState();
    assert.deepEqual(state.done.sort(), ['train:mnist-bagging', 'train:mnist-random-init']);
    assert.deepEqual(state.sittings!.map((s) => s.started), ['2026-12-01T10:00:00.000Z', '2026-12-02T10:00:00.000Z']);
    const report = readFileSync(join(saves, 'parts', 'report', 'report.md'), 'utf8');
    assert.match(report, /bagging/);
    assert.match(report, /random-init/);

    // Saving the first OUT again (a later sitting of it) replaces its run and keeps the second part's.
    const again = part('first', [{ name: 'mnist-bagging', method: 'bagging', accuracy: 0.95 }], { started: '2026-12-01T10:00:00.000Z' });
    assert.equal(save(again).status, 0);
    assert.match(readFileSync(join(saves, 'parts', 'runs', 'mnist-bagging', 'results.csv'), 'utf8'), /0\.95/);
    assert.ok(existsSync(join(saves, 'parts', 'runs', 'mnist-random-init', 'manifest.json')));
    assert.equal(savedState().sittings!.length, 2, 'the same sitting saved twice is one sitting');
  });

  it('refuses to merge another reproduction into a saved one, and leaves the saved one as it was', () => {
    const before = snapshotTree(join(saves, 'parts'));
    const other = part('other', [{ name: 'mnist-mixed-models', method: 'mixed-models', accuracy: 0.7 }], { started: '2026-12-03T10:00:00.000Z', preset: 'cpu' });
    const refused = save(other);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /is --preset paper --dataset mnist, this one --preset cpu --dataset mnist; save it under another name/);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.deepEqual(snapshotTree(join(saves, 'parts')), before);
    assert.ok(!existsSync(join(saves, 'parts.saving')));
  });
});
