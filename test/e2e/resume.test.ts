/**
 * Per-epoch training checkpoints: a member killed after its first of three epochs (SIGKILL while it writes
 * its second checkpoint, so the first is the last complete one) resumes there when the same command runs
 * again, and ends with the same weights.bin, byte for byte, as an uninterrupted run — for every training
 * method, including distillation killed in its teacher phase and in its student phase.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { TRAIN_STATE_FILE } from '../../src/models/train-state.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { CRASH_ON_WRITE, ensdef, sha256File } from '../helpers/reliability.ts';

const runs = join(tempDir('resume'), 'runs');

/** Flags that keep a method cheap here: PGD adversarial training with 3 steps instead of 40. */
const CHEAP: Record<string, string[]> = { 'pgd-adversarial-training': ['--at-steps', '3'], 'bagging+pgd-adversarial-training': ['--at-steps', '3'] };

function trainArgs(method: string, run: string, members = 1): string[] {
  return ['train', '--method', method, ...(CHEAP[method] ?? []), '--members', String(members), '--epochs', '3', '--train-limit', '256', '--test-limit', '50', '--workers', '1', '--backend', 'wasm', '--run', run, '--runs-dir', runs];
}

function weights(run: string, member = 0): string {
  return sha256File(join(runs, run, 'members', `member-${String(member).padStart(2, '0')}`, 'weights.bin'));
}

/** Trains `method` killed at the `killAt`-th checkpoint write, resumes it, and returns the resumed run's output. */
async function killAndResume(method: string, run: string, killAt: number, members = 1): Promise<string> {
  const killed = await ensdef(trainArgs(method, run, members), { preload: CRASH_ON_WRITE, env: { CRASH_ON_WRITE: TRAIN_STATE_FILE, CRASH_ON_WRITE_COUNT: String(killAt) } });
  assert.equal(killed.signal, 'SIGKILL', `expected the crash hook to kill training; stderr:\n${killed.stderr}`);
  const resumed = await ensdef(trainArgs(method, run, members));
  assert.equal(resumed.status, 0, resumed.stderr);
  return resumed.stderr;
}

describe('a member killed after epoch 1 of 3 resumes with bit-identical final weights', () => {
  for (const method of ['random-init', 'bagging', 'gaussian-noise', 'adversarial-training', 'pgd-adversarial-training']) {
    test(method, async () => {
      const reference = await ensdef(trainArgs(method, `${method}-ref`));
      assert.equal(reference.status, 0, reference.stderr);
      const stderr = await killAndResume(method, `${method}-killed`, 2);
      assert.match(stderr, /resuming after epoch 1\/3/);
      assert.equal(weights(`${method}-killed`), weights(`${method}-ref`));
      // A finished member keeps no checkpoint.
      assert.ok(!existsSync(join(runs, `${method}-killed`, 'members', 'member-00', TRAIN_STATE_FILE)));
    });
  }

  test('distillation: killed in the teacher phase, then in the student phase', async () => {
    const reference = await ensdef(trainArgs('distillation', 'distill-ref'));
    assert.equal(reference.status, 0, reference.stderr);
    // Writes 1-3 are the teacher's epochs, 4-6 the student's.
    const teacherKilled = await killAndResume('distillation', 'distill-teacher', 2);
    assert.match(teacherKilled, /teacher: resuming after epoch 1\/3/);
    assert.equal(weights('distill-teacher'), weights('distill-ref'));
    const studentKilled = await killAndResume('distillation', 'distill-student', 5);
    assert.match(studentKilled, /teacher: trained by an earlier attempt/);
    assert.match(studentKilled, /member 1\/1: resuming after epoch 1\/3/);
    assert.equal(weights('distill-student'), weights('distill-ref'));
    assert.equal(
      sha256File(join(runs, 'distill-student', 'members', 'member-00', 'teacher', 'weights.bin')),
      sha256File(join(runs, 'distill-ref', 'members', 'member-00', 'teacher', 'weights.bin')),
    );
  });

  test('a damaged checkpoint is not resumed: the member trains from its first epoch and still matches', async () => {
    const killed = await ensdef(trainArgs('random-init', 'damaged'), { preload: CRASH_ON_WRITE, env: { CRASH_ON_WRITE: TRAIN_STATE_FILE, CRASH_ON_WRITE_COUNT: '2' } });
    assert.equal(killed.signal, 'SIGKILL');
    const member = join(runs, 'damaged', 'members', 'member-00');
    const { truncateSync } = await import('node:fs');
    truncateSync(join(member, TRAIN_STATE_FILE), 1000);
    const resumed = await ensdef(trainArgs('random-init', 'damaged'));
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /is damaged; training from the first epoch/);
    assert.ok(existsSync(join(runs, 'random-init-ref')), 'runs after the random-init reference');
    assert.equal(weights('damaged'), weights('random-init-ref'));
    assert.deepEqual(readdirSync(member).filter((f) => !f.startsWith('.')).sort(), ['model.json', 'record.json', 'weights.bin']);
  });
});
