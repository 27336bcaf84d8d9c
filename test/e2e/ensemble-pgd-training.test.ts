/**
 * A jointly trained ensemble (ensemble-pgd-adversarial-training) as a user runs it: the same seed gives the
 * same weights, bit for bit; a run killed after epoch 1 of 2 (while writing its second checkpoint), or
 * while saving its members, resumes to the weights of an uninterrupted run; --member is refused.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { TRAIN_STATE_FILE } from '../../src/models/train-state.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { assertOneLineFailure, CRASH_ON_WRITE, ensdef, sha256File } from '../helpers/reliability.ts';

const runs = join(tempDir('joint'), 'runs');
const MEMBERS = 2;

function trainArgs(run: string, epochs: number): string[] {
  return ['train', '--method', 'ensemble-pgd-adversarial-training', '--at-steps', '2', '--members', String(MEMBERS), '--epochs', String(epochs), '--train-limit', '200', '--test-limit', '50', '--backend', 'wasm', '--run', run, '--runs-dir', runs];
}

/** Every member's weights.bin digest. */
function weights(run: string): string[] {
  return Array.from({ length: MEMBERS }, (_, i) => sha256File(join(runs, run, 'members', `member-${String(i).padStart(2, '0')}`, 'weights.bin')));
}

async function train(run: string, epochs: number, env?: Record<string, string>) {
  const result = await ensdef(trainArgs(run, epochs), env ? { preload: CRASH_ON_WRITE, env } : {});
  if (env) assert.equal(result.signal, 'SIGKILL', `expected the crash hook to kill training; stderr:\n${result.stderr}`);
  else assert.equal(result.status, 0, result.stderr);
  return result;
}

describe('ensemble-pgd-adversarial-training', () => {
  test('two trainings with the same seed give bit-identical members, which differ from each other', async () => {
    await train('same-a', 1);
    await train('same-b', 1);
    assert.deepEqual(weights('same-a'), weights('same-b'));
    assert.notEqual(weights('same-a')[0], weights('same-a')[1], 'each member starts from its own weights');
  });

  test('killed after epoch 1 of 2, or while saving its members, it resumes to the uninterrupted weights', async () => {
    await train('ref', 2);
    await train('killed', 2, { CRASH_ON_WRITE: TRAIN_STATE_FILE, CRASH_ON_WRITE_COUNT: '2' });
    const resumed = await train('killed', 2);
    assert.match(resumed.stderr, /ensemble: resuming after epoch 1\/2/);
    assert.deepEqual(weights('killed'), weights('ref'));
    assert.ok(!existsSync(join(runs, 'killed', TRAIN_STATE_FILE)), 'a finished run keeps no checkpoint');

    // Member 0 recorded, member 1 not: the run resumes after its last epoch and saves both again.
    await train('saving', 2, { CRASH_ON_WRITE: 'record.json', CRASH_ON_WRITE_COUNT: '2' });
    const saved = await train('saving', 2);
    assert.match(saved.stderr, /ensemble: resuming after epoch 2\/2/);
    assert.deepEqual(weights('saving'), weights('ref'));
  });

  test('--member is refused with one line that says why', async () => {
    const refused = await ensdef([...trainArgs('one', 1), '--member', '0']);
    assertOneLineFailure(refused, 2, '--member', 'trains all its members together');
    assert.ok(!existsSync(join(runs, 'one')), 'nothing is created');
  });
});
