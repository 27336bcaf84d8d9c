/** The commit a manifest records is the checkout's HEAD, marked when tracked files differ from it. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { packageVersions } from '../../src/run/manifest.ts';

test("manifests record the checkout's commit, marked +modified when tracked files differ", () => {
  const git = (...args: string[]) => spawnSync('git', args, { encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  const recorded = packageVersions()['ensdef-commit'];
  if (head.status !== 0) {
    assert.equal(recorded, 'not a git checkout');
    return;
  }
  const modified = git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '';
  assert.equal(recorded, `${head.stdout.trim()}${modified ? '+modified' : ''}`);
});
