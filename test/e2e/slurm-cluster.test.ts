/**
 * On a real Slurm (scripts/slurm-local.sh up; skipped with a message where there is none): a hand-written
 * array — `ensdef train … --member $SLURM_ARRAY_TASK_ID` — trains a run; one task is cancelled with
 * scancel after its first epoch, resubmitted, resumes at its last finished epoch, and every member's
 * weights equal an uninterrupted local run's. Also: a partition Slurm rejects is one line with Slurm's
 * own message, and nothing stays queued.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TRAIN_STATE_FILE } from '../../src/models/train-state.ts';
import { readManifest } from '../../src/run/manifest.ts';
import { assertOneLineFailure, ENSDEF_BIN, ensdef, sha256File } from '../helpers/reliability.ts';
import { tempDir } from '../helpers/temp-dir.ts';

function clusterAnswers(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v sbatch']).status !== 0) return 'no sbatch on PATH (start one with scripts/slurm-local.sh up)';
  const sinfo = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 20_000 });
  if (sinfo.status !== 0) return `sinfo cannot reach a Slurm controller (${sinfo.stderr.trim().split('\n')[0]}); scripts/slurm-local.sh up starts one`;
  return undefined;
}

const skip = clusterAnswers();
if (skip) console.log(`# slurm-cluster tests skipped: ${skip}`);

// Compute nodes must see it: this machine is the only node of the local cluster, so /tmp is shared with itself.
const home = skip ? '' : tempDir('slurm-cluster');
const runs = join(home, 'runs');
const FLAGS = ['--method', 'random-init', '--members', '2', '--epochs', '3', '--train-limit', '1536', '--test-limit', '50', '--backend', 'wasm', '--runs-dir', runs];

function sbatch(args: string[]): string {
  return execFileSync('sbatch', ['--parsable', ...args], { encoding: 'utf8' }).trim().split(';')[0];
}

async function waitGone(job: string, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const states = execFileSync('squeue', ['-h', '-j', job, '-o', '%T'], { encoding: 'utf8' }).trim();
    if (!/PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED/.test(states)) return;
    await sleep(1000);
  }
  throw new Error(`job ${job} still queued after ${timeoutMs / 1000} s`);
}

const member = (run: string, i: number) => join(runs, run, 'members', `member-0${i}`);

describe('a real Slurm', { skip }, () => {
  test('an array task cancelled after epoch 1 and resubmitted resumes there; weights equal a local run', { timeout: 900_000 }, async () => {
    const reference = await ensdef(['train', ...FLAGS, '--workers', '1', '--run', 'local'], { timeoutMs: 600_000 });
    assert.equal(reference.status, 0, reference.stderr);
    const wrap = (tasks: string, log: string) => [
      `--array=${tasks}`, `--output=${join(home, log)}`, '--requeue',
      '--wrap', `exec ${process.execPath} ${ENSDEF_BIN} train ${FLAGS.join(' ')} --run slurm --member $SLURM_ARRAY_TASK_ID`,
    ];
    const job = sbatch(wrap('0-1', 'first-%A_%a.log'));
    // The first epoch's checkpoint of member 0 exists: cancel that task while it trains epoch 2.
    const state = join(member('slurm', 0), TRAIN_STATE_FILE);
    const deadline = Date.now() + 600_000;
    while (!existsSync(state) && Date.now() < deadline) await sleep(200);
    assert.ok(existsSync(state), 'member 0 never finished its first epoch');
    execFileSync('scancel', [`${job}_0`]);
    await waitGone(job);
    assert.ok(!existsSync(join(member('slurm', 0), 'record.json')), 'the cancelled member finished anyway (train more, or cancel sooner)');
    assert.ok(existsSync(join(member('slurm', 1), 'record.json')), readFileSync(join(home, `first-${job}_1.log`), 'utf8'));
    const again = sbatch(wrap('0', 'second-%A_%a.log'));
    await waitGone(again);
    const log = readFileSync(join(home, `second-${again}_0.log`), 'utf8');
    assert.match(log, /resuming after epoch [12]\/3/);
    for (const i of [0, 1]) assert.equal(sha256File(join(member('slurm', i), 'weights.bin')), sha256File(join(member('local', i), 'weights.bin')), `member ${i}`);
    const manifest = readManifest(join(runs, 'slurm'));
    assert.equal(manifest.status, 'complete');
    assert.deepEqual(manifest.members.map((m) => m.index), [0, 1]);
  });

  test('an array task requeued mid-training (scontrol requeue, as on preemption) resumes after its last epoch', { timeout: 900_000 }, async () => {
    const job = sbatch([
      '--array=0', `--output=${join(home, 'requeue-%A_%a.log')}`, '--requeue',
      '--wrap', `exec ${process.execPath} ${ENSDEF_BIN} train ${FLAGS.join(' ')} --run requeued --member $SLURM_ARRAY_TASK_ID`,
    ]);
    const state = join(member('requeued', 0), TRAIN_STATE_FILE);
    const deadline = Date.now() + 600_000;
    while (!existsSync(state) && Date.now() < deadline) await sleep(200);
    assert.ok(existsSync(state), 'member 0 never finished its first epoch');
    execFileSync('scontrol', ['requeue', `${job}_0`]);
    await waitGone(job);
    // The requeued attempt is the same job: it took over the lock of its own first attempt.
    const log = readFileSync(join(home, `requeue-${job}_0.log`), 'utf8');
    assert.match(log, /resuming after epoch [12]\/3/);
    assert.equal(sha256File(join(member('requeued', 0), 'weights.bin')), sha256File(join(member('local', 0), 'weights.bin')));
  });

  test("a partition Slurm rejects: one line with Slurm's message, nothing left queued", async () => {
    const out = join(home, 'rejected');
    const result = await ensdef(['reproduce', '--preset', 'smoke', '--executor', 'slurm', '--sbatch', '--partition=no-such-partition', '--out', out]);
    assertOneLineFailure(result, 1, 'sbatch refused the job of step train:mnist-random-init', 'invalid partition', 'nothing was submitted');
  });
});
