/**
 * `npm run bench` as its users meet it: one line per measure in the documented form, the JSON record
 * (machine, backend, versions, every timed batch), and one-line usage errors. Speeds are never asserted:
 * the machine is shared, and the targets live in the benchmark and docs/PERFORMANCE.md.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function bench(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'bench.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('npm run bench', () => {
  test('--quick --only prints one line per measure and records every timed batch in the JSON', () => {
    const out = tempDir('bench');
    const run = bench('--quick', '--only', 'mnist-train,mnist-input-grad', '--backend', 'wasm', '--out', out);
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 2, run.stdout);
    assert.match(lines[0], /^mnist train \d+ samples\/s$/);
    assert.match(lines[1], /^mnist input-grad \d+ images\/s$/);

    const files = readdirSync(out).filter((f) => /^bench-.*\.json$/.test(f));
    assert.equal(files.length, 1);
    const record = JSON.parse(readFileSync(join(out, files[0]), 'utf8'));
    assert.equal(record.backend.name, 'wasm');
    assert.ok(record.machine.cores >= 1 && typeof record.machine.cpuModel === 'string');
    assert.equal(typeof record.versions['@tensorflow/tfjs-backend-wasm'], 'string');
    assert.deepEqual(
      record.measures.map((m: { name: string }) => m.name),
      ['mnist-train', 'mnist-input-grad'],
    );
    for (const measure of record.measures) {
      const { wallSeconds, cpuSeconds, itemsPerRepeat, perSecond } = measure.details;
      assert.equal(wallSeconds.length, 8, 'quick mode times 8 MNIST batches');
      assert.equal(cpuSeconds.length, 8);
      assert.ok(wallSeconds.every((s: number) => s > 0));
      assert.equal(itemsPerRepeat, 128);
      // The printed rate is the batch over the median batch time.
      const sorted = [...wallSeconds].sort((a: number, b: number) => a - b);
      const median = (sorted[3] + sorted[4]) / 2;
      assert.ok(Math.abs(perSecond - 128 / median) < 1e-6 * perSecond);
      assert.equal(measure.value, perSecond);
    }
  });

  for (const [args, mention] of [
    [['--only', 'mnist-trian'], "unknown measure 'mnist-trian'"],
    [['--workers', '0'], '--workers'],
    [['--profile', 'svhn'], '--profile'],
    [['--fast'], "'--fast'"],
  ] as const) {
    test(`${args.join(' ')} is a one-line usage error (exit 2)`, () => {
      const run = bench(...args);
      assert.equal(run.status, 2, run.stderr);
      const errors = run.stderr.trim().split('\n');
      assert.equal(errors.length, 1, run.stderr);
      assert.ok(errors[0].startsWith('bench: ') && errors[0].includes(mention), run.stderr);
    });
  }
});
