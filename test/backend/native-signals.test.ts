/**
 * The native kernels under asynchronous signals. oneDNN's JIT sgemm points the stack pointer into a heap
 * buffer while it runs (uxlfoundation/oneDNN#4845, fixed in 3.11.2; Debian ships 2.6), so a signal handled
 * during it writes its frame into the heap: under a sampling profiler, or a SIGCHLD, SIGWINCH or any other
 * handled signal at the wrong moment, the process aborted with "corrupted size vs. prev_size" or carried on
 * with a corrupted heap. The addon blocks asynchronous signals while a kernel runs (native/src/call.h).
 * Skipped, with the reason, where the addon is not built.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { loadNativeAddon, NATIVE_BUILD_HINT } from '../../src/backend/native-addon.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const { addon, reason } = loadNativeAddon();
const skip = addon ? false : `${reason}: ${NATIVE_BUILD_HINT}`;
const child = fileURLToPath(new URL('../helpers/native-under-signals.mts', import.meta.url));

function run(profiled: boolean): { status: number | null; stdout: string; stderr: string } {
  const profile = profiled ? ['--cpu-prof', '--cpu-prof-dir', tempDir('cpu-prof')] : [];
  const { status, stdout, stderr } = spawnSync(process.execPath, [...profile, '--import', 'tsx', child], { encoding: 'utf8', env: { ...process.env, ENSDEF_THREADS: '1' } });
  return { status, stdout, stderr };
}

describe('native kernels under signals', { skip }, () => {
  test('a sampling profiler interrupting matmuls and convolutions neither corrupts the heap nor changes a result', () => {
    const quiet = run(false);
    assert.equal(quiet.status, 0, quiet.stderr);
    const profiled = run(true);
    assert.equal(profiled.status, 0, `under --cpu-prof: ${profiled.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    assert.match(quiet.stdout, /^checksum -?\d/);
    assert.equal(profiled.stdout, quiet.stdout);
  });
});
