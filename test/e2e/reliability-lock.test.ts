/**
 * One writer per piece of work: a second train of the same member, a second attack of the same job, a
 * second reproduce into the same --out, while a live process does it, is refused with one line naming the
 * holder, and nothing is written; a lock left by a dead process is taken over; the lock is released when
 * the work ends, also when it fails. (Different members and jobs of one run: concurrent-writers.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LOCK_FILE, withDirLock } from '../../src/run/lock.ts';
import { attackLockPath } from '../../src/eval/attack-run.ts';
import { resolveAttack } from '../../src/attacks/registry.ts';
import { datasetDescriptor } from '../../src/datasets/registry.ts';
import { mkdirSync } from 'node:fs';
import { tempDir } from '../helpers/temp-dir.ts';
import { assertOneLineFailure, ensdef, snapshotTree, TINY_RUN as TINY, trainTinyRun } from '../helpers/reliability.ts';

const home = tempDir('lock');
const runs = join(home, 'runs');

function writeLock(dir: string, pid: number, file = LOCK_FILE): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), `${JSON.stringify({ pid, host: hostname(), command: 'ensdef attack --run r', since: '2026-01-01T00:00:00.000Z' })}\n`);
}

/** The lock of the FGSM Grad. 2 job that ATTACK below runs (member 0, no surrogate, the run's 50 test images). */
function fgsmJobLock(run: string): { dir: string; file: string } {
  const job = { attack: resolveAttack(datasetDescriptor('mnist'), 'fgsm'), grad: '2' as const, loss: 'logits' as const, transfer: false };
  const path = attackLockPath(run, job, [0], '', 50);
  return { dir: join(path, '..'), file: path.split('/').pop()! };
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

  test('an attack job a live process is measuring is refused, naming the holder, and writes nothing', async () => {
    const lock = fgsmJobLock(run);
    writeLock(lock.dir, holder.pid!, lock.file);
    const untouched = snapshotTree(run);
    const result = await ensdef(ATTACK);
    assertOneLineFailure(result, 1, 'is in use by', 'ensdef attack --run r', `pid ${holder.pid}`, lock.file);
    assert.deepEqual(snapshotTree(run), untouched);
  });

  test('a member a live process is training is refused the same way', async () => {
    const fresh = join(runs, 'fresh');
    writeLock(join(fresh, 'members', 'member-01'), holder.pid!);
    const result = await ensdef(['train', ...TINY, '--workers', '1', '--run', 'fresh', '--runs-dir', runs]);
    assertOneLineFailure(result, 1, 'member 1 of run', 'is in use by', `pid ${holder.pid}`);
    // Another member of the same run is not held: an array task trains it meanwhile.
    const other = await ensdef(['train', ...TINY, '--member', '0', '--run', 'fresh', '--runs-dir', runs]);
    assert.equal(other.status, 0, other.stderr);
    assert.match(other.stdout, /member 0 trained; run fresh has 1\/2 members/);
  });

  test('reproduce into a held --out is refused', async () => {
    const out = join(home, 'reproduce');
    await withDirLock(out, async () => {
      const result = await ensdef(['reproduce', '--preset', 'smoke', '--out', out]);
      assertOneLineFailure(result, 1, 'is in use by', `pid ${process.pid}`);
    });
  });

  test("a dead process's lock is taken over, and released when the attack ends", async () => {
    const lock = fgsmJobLock(run);
    writeLock(lock.dir, await deadPid(), lock.file);
    const result = await ensdef(ATTACK);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(!existsSync(join(lock.dir, lock.file)));
    assert.match(readFileSync(join(run, 'results.csv'), 'utf8'), /fgsm/);
  });
});
