/**
 * Who may take over a lock: a holder on another host is judged by Slurm (a stand-in squeue on PATH says
 * whether its job still runs); an earlier attempt of the job now running (a requeued task) is taken over;
 * a live holder of a file lock is waited for, then the lock is ours.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentSlurmJob, fileLockPath, LOCK_FILE, withDirLock, withFileLock } from '../../src/run/lock.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const home = tempDir('lock-unit');
const bin = join(home, 'bin');
mkdirSync(bin);
const queueFile = join(home, 'queue');
writeFileSync(join(bin, 'squeue'), `#!/bin/sh\ncat ${queueFile} 2>/dev/null || true\n`);
chmodSync(join(bin, 'squeue'), 0o755);
const saved = { PATH: process.env.PATH, SLURM_JOB_ID: process.env.SLURM_JOB_ID, SLURM_ARRAY_JOB_ID: process.env.SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID: process.env.SLURM_ARRAY_TASK_ID };
process.env.PATH = `${bin}:${process.env.PATH}`;
delete process.env.SLURM_JOB_ID;
delete process.env.SLURM_ARRAY_JOB_ID;
delete process.env.SLURM_ARRAY_TASK_ID;
after(() => Object.assign(process.env, saved));

/** A lock held by pid 1 on another host, in Slurm job `job`, taken a minute ago. */
function foreignLock(dir: string, job: string): void {
  mkdirSync(dir, { recursive: true });
  const since = new Date(Date.now() - 60_000).toISOString();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'other-node', command: 'ensdef train --member 0', since, slurmJob: job }));
}

test('a lock of a job squeue still lists as running is held; once squeue no longer lists it, it is taken over', async () => {
  const dir = join(home, 'foreign');
  foreignLock(dir, '77_3');
  writeFileSync(queueFile, 'RUNNING\n');
  await assert.rejects(withDirLock(dir, async () => 'mine'), /in use by 'ensdef train --member 0' \(pid 1 on other-node, Slurm job 77_3/);
  writeFileSync(queueFile, '');
  assert.equal(await withDirLock(dir, async () => 'mine'), 'mine');
  assert.ok(!existsSync(join(dir, LOCK_FILE)));
});

test('a lock of a job squeue lists as ended (COMPLETED, FAILED, CANCELLED) is taken over', async () => {
  const dir = join(home, 'ended');
  foreignLock(dir, '78');
  writeFileSync(queueFile, 'CANCELLED\n');
  assert.equal(await withDirLock(dir, async () => 'mine'), 'mine');
});

test('a requeued task takes over the lock of its own earlier attempt, although Slurm says the job runs', async () => {
  const dir = join(home, 'requeued');
  foreignLock(dir, '79_0');
  writeFileSync(queueFile, 'RUNNING\n');
  process.env.SLURM_ARRAY_JOB_ID = '79';
  process.env.SLURM_ARRAY_TASK_ID = '0';
  try {
    assert.equal(currentSlurmJob(), '79_0');
    await withDirLock(dir, async () => {
      assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).slurmJob, '79_0');
    });
  } finally {
    delete process.env.SLURM_ARRAY_JOB_ID;
    delete process.env.SLURM_ARRAY_TASK_ID;
  }
});

test('a file lock held by a live process is waited for, then taken; one never released ends in one line', async () => {
  const file = join(home, 'shared.txt');
  // A child takes the lock, says so, holds it 1.5 s and appends its line before releasing it.
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
    import { withFileLock } from ${JSON.stringify(new URL('../../src/run/lock.ts', import.meta.url).pathname)};
    import { appendFileSync, writeFileSync } from 'node:fs';
    withFileLock(${JSON.stringify(file)}, () => {
      writeFileSync(${JSON.stringify(`${file}.held`)}, '');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
      appendFileSync(${JSON.stringify(file)}, 'child\\n');
    });`]);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  while (!existsSync(`${file}.held`)) await sleep(20);
  const seen = withFileLock(file, () => readFileSync(file, 'utf8'));
  assert.equal(seen, 'child\n', 'the writer went ahead before the holder released the lock');
  await exited;

  // A holder that never releases it: after the wait, one line naming the holder and the lock to delete.
  const stuck = join(home, 'stuck.json');
  const lock = fileLockPath(stuck);
  mkdirSync(join(lock, '..'), { recursive: true });
  writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: hostname(), command: 'ensdef attack', since: new Date().toISOString() }));
  assert.throws(() => withFileLock(stuck, () => 'x', 300), /stuck\.json stayed locked by 'ensdef attack' .* for 0 s; delete .*stuck-json\.lock/);
});
