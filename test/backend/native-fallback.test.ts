/**
 * Where the native addon is missing (simulated: ENSDEF_NATIVE_ADDON points at a file that does not
 * exist), `--backend auto` runs on wasm and says in one line how to get the native kernels, and
 * `--backend native` is a one-line usage error that says how to build them. Runs everywhere: it needs no addon.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MISSING = join(ROOT, 'native', 'no-such-dir', 'ensdef_dnnl.node');

function run(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** initBackend(choice) in a fresh process (the backend is chosen once per process); prints its BackendInfo. */
function initBackendIn(choice: string, env: Record<string, string>) {
  const script = `const { initBackend } = await import(${JSON.stringify(join(ROOT, 'src', 'backend', 'select.ts'))}); console.log(JSON.stringify(await initBackend(${JSON.stringify(choice)})));`;
  return run(['--import', 'tsx', '--input-type=module', '-e', script], env);
}

describe('without the native addon', () => {
  test('--backend auto falls back to wasm and carries a one-line hint on how to get the native kernels', () => {
    const result = initBackendIn('auto', { ENSDEF_NATIVE_ADDON: MISSING });
    assert.equal(result.status, 0, result.stderr);
    const info = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    assert.equal(info.name, 'wasm');
    assert.match(info.hint, /^faster CPU kernels: the native addon is not built; apt-get install libdnnl-dev g\+\+ make/);
    assert.ok(!info.hint.includes('\n'));
  });

  test('`ensdef train --backend native` exits 2 with one line that says how to build it, no stack trace', () => {
    const runs = tempDir('native');
    const result = run([join(ROOT, 'bin', 'ensdef.js'), 'train', '--backend', 'native', '--runs-dir', runs, '--train-limit', '20', '--test-limit', '10', '--epochs', '1'], {
      ENSDEF_NATIVE_ADDON: MISSING,
    });
    assert.equal(result.status, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
    assert.match(lines[0], /--backend native: the native addon is not built; to build it: apt-get install libdnnl-dev g\+\+ make/);
  });

  test('an addon file that does not load is reported in one line, and auto still runs on wasm', () => {
    const bogus = join(tempDir('native'), 'ensdef_dnnl.node');
    spawnSync('sh', ['-c', `echo 'not a shared object' > '${bogus}'`]);
    const result = initBackendIn('auto', { ENSDEF_NATIVE_ADDON: bogus });
    assert.equal(result.status, 0, result.stderr);
    const info = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    assert.equal(info.name, 'wasm');
    assert.match(info.hint, /the native addon does not load \(/);
  });
});
