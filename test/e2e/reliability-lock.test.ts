/**
 * One writer per run: a second train / attack / reproduce on a directory another live process is writing
 * is refused with one line naming the holder, and nothing is written; a lock left by a dead process is
 * taken over; the lock is released when the work ends, also when it fails.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LOCK_FILE, withDirLock } from '../../src/run/lock.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { assertOneLineFailure, ensdef, snapshotTree, trainTinyRun } from '../helpers/reliability.ts';

const home = tempDir('lock');
const runs = join(home, 'runs');

function writeLock(dir: string, pid: number): void {
  writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify({ pid, host: hostname(), command: 'ensdef attack --run r', since: '2026-01-01T00:00:00.000Z' })}\n`);
}

/** The pid of a process that has exited: nothing can answer to it any more (barring pid reuse). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('withDirLock', () => {
  test('holds the lock with this pid while the work runs, and releases it after', async () => {
    const dir = join(home, 'unit');
    const path = join(dir, LOCK_FILE);
    await withDirLock(dir, async () => {
      assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
      await assert.rejects(withDirLock(dir, async () => 'second'), /is in use by/);
    });
    assert.ok(!existsSync(path));
  });

  test('releases the lock when the work fails', async () => {
    const dir = join(home, 'failing');
    await assert.rejects(withDirLock(dir, async () => { throw new Error('boom'); }), /boom/);
    assert.ok(!existsSync(join(dir, LOCK_FILE)));
    assert.equal(await withDirLock(dir, async () => 'again'), 'again');
  });
});

describe('the CLI', () => {
  let run: string;
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)']);
  before(async () => {
    run = await trainTinyRun(runs, 'r');
  });
  after(() => holder.kill());

  const ATTACK = ['attack', '--run', 'r', '--attack', 'fgsm', '--grad', '2', '--runs-dir', runs];

  test('attack on a run a live process holds is refused, naming the holder, and writes nothing', async () => {
    writeLock(run, holder.pid!);
    const untouched = snapshotTree(run);
    const result = await ensdef(ATTACK);
    assertOneLineFailure(result, 1, 'is in use by', 'ensdef attack --run r', `pid ${holder.pid}`, LOCK_FILE);
    assert.deepEqual(snapshotTree(run), untouched);
  });

  test('train on a held run is refused the same way', async () => {
    writeLock(run, holder.pid!);
    const result = await ensdef(['train', '--method', 'random-init', '--members', '3', '--epochs', '1', '--train-limit', '256', '--test-limit', '50', '--workers', '1', '--run', 'r', '--runs-dir', runs]);
    assertOneLineFailure(result, 1, 'is in use by');
  });

  test('reproduce into a held --out is refused', async () => {
    const out = join(home, 'reproduce');
    await withDirLock(out, async () => {
      const result = await ensdef(['reproduce', '--preset', 'smoke', '--out', out]);
      assertOneLineFailure(result, 1, 'is in use by', `pid ${process.pid}`);
    });
  });

  test("a dead process's lock is taken over, and released when the attack ends", async () => {
    writeLock(run, await deadPid());
    const result = await ensdef(ATTACK);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(!existsSync(join(run, LOCK_FILE)));
    assert.match(readFileSync(join(run, 'results.csv'), 'utf8'), /fgsm/);
  });
});
