/**
 * `reproduce --executor slurm` as a user meets it without a cluster: the dry run, the one-line errors for
 * a missing sbatch and for misplaced flags, and a submission that fails half-way — driven by stand-in
 * sbatch / squeue / scancel scripts on PATH that log their arguments, so the test runs on any machine.
 * (A real one-node Slurm: slurm-cluster.test.ts, and .ci/run.)
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildPlan } from '../../src/reproduce/plan.ts';
import { PRESETS } from '../../src/reproduce/presets.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { assertOneLineFailure, ensdef } from '../helpers/reliability.ts';

const home = tempDir('slurm-submit');
const STEPS = buildPlan(PRESETS.smoke, ['mnist']).length;

/** A bin directory with stand-ins: sbatch succeeds `succeed` times (ids 101, 102, ...) then fails as Slurm does. */
function fakeSlurm(name: string, succeed: number): { bin: string; calls: string } {
  const bin = join(home, name, 'bin');
  const calls = join(home, name, 'calls.log');
  mkdirSync(bin, { recursive: true });
  const counter = join(home, name, 'count');
  writeFileSync(counter, '0');
  const script = (body: string) => `#!/bin/sh\n${body}\n`;
  writeFileSync(
    join(bin, 'sbatch'),
    script(`n=$(cat ${counter}); n=$((n+1)); echo $n > ${counter}; echo "sbatch $*" >> ${calls}
if [ $n -gt ${succeed} ]; then echo "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" >&2; exit 1; fi
echo $((100+n))`),
  );
  // squeue lists what a test wrote to its `queue` file ('%i|%F|%j|%T|%r' lines), nothing by default.
  writeFileSync(join(bin, 'squeue'), script(`echo "squeue $*" >> ${calls}; cat ${join(home, name, 'queue')} 2>/dev/null || true`));
  writeFileSync(join(bin, 'scancel'), script(`echo "scancel $*" >> ${calls}`));
  for (const f of ['sbatch', 'squeue', 'scancel']) chmodSync(join(bin, f), 0o755);
  return { bin, calls };
}

/** A directory with node, sh and cat only: a PATH without this machine's Slurm commands. */
const basics = join(home, 'basics');
mkdirSync(basics);
for (const [name, target] of [['node', process.execPath], ['sh', '/bin/sh'], ['cat', '/bin/cat']]) symlinkSync(target, join(basics, name));

function pathWith(bin?: string): string {
  return [...(bin ? [bin] : []), basics].join(':');
}

describe('reproduce --executor slurm without a cluster', () => {
  test('--dry-run prints one script per step plus the report, submits and writes nothing', async () => {
    const out = join(home, 'dry');
    const result = await ensdef(['reproduce', '--preset', 'smoke', '--executor', 'slurm', '--dry-run', '--sbatch', '--partition gpu --time=1:00:00', '--out', out], { env: { PATH: pathWith() } });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.match(/^#!\/bin\/bash$/gm)?.length, STEPS + 1);
    assert.match(result.stdout, /#SBATCH --array=0,1\n/);
    assert.match(result.stdout, /# submit with: sbatch --parsable --partition gpu --time=1:00:00 SCRIPT/);
    assert.match(result.stdout, /--dependency=afterok:<job of train:mnist-bagging>/);
    assert.ok(!existsSync(out));
  });

  test('no sbatch on PATH: one line saying so, nothing written', async () => {
    const out = join(home, 'no-sbatch');
    const result = await ensdef(['reproduce', '--preset', 'smoke', '--executor', 'slurm', '--out', out], { env: { PATH: pathWith() } });
    assertOneLineFailure(result, 1, "'sbatch' not found", '--dry-run');
    assert.ok(!existsSync(out));
  });

  test('misplaced flags are usage errors', async () => {
    assertOneLineFailure(await ensdef(['reproduce', '--sbatch', '-p x', '--out', join(home, 'x')]), 2, '--sbatch needs --executor slurm');
    assertOneLineFailure(await ensdef(['reproduce', '--dry-run', '--out', join(home, 'x')]), 2, '--dry-run needs --executor slurm');
    assertOneLineFailure(await ensdef(['reproduce', '--status', '--executor', 'slurm', '--out', join(home, 'x')]), 2, '--status');
    assertOneLineFailure(await ensdef(['reproduce', '--status', '--out', join(home, 'nothing-here')]), 1, 'no reproduction in');
  });

  test('--status of a reproduction run here never asks Slurm: its pending steps are "to do"', async () => {
    const out = join(home, 'local-repro');
    mkdirSync(out, { recursive: true });
    const sitting = { started: '2026-12-01T09:51:02.000Z', lastStep: '2026-12-01T12:56:00.000Z', seconds: 11098, machine: 'AMD EPYC ×2, 24 GiB', backend: 'native', steps: 41 };
    writeFileSync(join(out, 'reproduce-state.json'), JSON.stringify({ preset: 'smoke', datasets: ['mnist'], done: [], sittings: [sitting] }));
    // An squeue that fails as one does where Slurm is installed but not configured.
    const broken = join(home, 'broken', 'bin');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'squeue'), '#!/bin/sh\necho "squeue: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host" >&2\nexit 1\n');
    chmodSync(join(broken, 'squeue'), 0o755);
    const status = await ensdef(['reproduce', '--status', '--out', out], { env: { PATH: pathWith(broken) } });
    assert.equal(status.status, 0, status.stderr);
    const lines = status.stdout.trim().split('\n');
    assert.equal(lines.length, STEPS + 1);
    assert.ok(lines.every((l) => l.startsWith('to do ')), status.stdout);
    // Each sitting of the reproduction: when, how long, how far, on what.
    assert.match(status.stderr, /sitting 1: 2026-12-01T09:51:02\.000Z, 3h04m to its last step, 41 steps, AMD EPYC ×2, 24 GiB, native/);
  });

  test('--out under /tmp warns that compute nodes may not see it', async () => {
    const result = await ensdef(['reproduce', '--preset', 'smoke', '--executor', 'slurm', '--dry-run', '--out', '/tmp/ensdef-x'], { env: { PATH: pathWith() } });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /warning: --out \/tmp\/ensdef-x is under a node-local temporary directory/);
  });

  test("a submission refused half-way cancels what it submitted and says so in one line with Slurm's message", async () => {
    const out = join(home, 'half');
    const fake = fakeSlurm('half', 3);
    const result = await ensdef(['reproduce', '--preset', 'smoke', '--executor', 'slurm', '--out', out], { env: { PATH: pathWith(fake.bin) } });
    const line = assertOneLineFailure(result, 1, 'sbatch refused the job of step', 'Invalid account or account/partition combination specified', 'cancelled the 3 job(s)');
    assert.match(line, /101, 102, 103/);
    const calls = readFileSync(fake.calls, 'utf8');
    assert.match(calls, /^scancel 101 102 103$/m);
    // Dependencies name the array job ids Slurm gave.
    assert.match(calls, /sbatch --parsable --dependency=afterok:101 /);
  });

  test('a complete submission prints every job id; --status then lists each step with its job, failed ones with their log', async () => {
    const out = join(home, 'full');
    const fake = fakeSlurm('full', 10_000);
    const result = await ensdef(['reproduce', '--preset', 'smoke', '--executor', 'slurm', '--sbatch', '--account=abc', '--out', out], { env: { PATH: pathWith(fake.bin) } });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim().split('\n').length, STEPS + 1);
    assert.match(result.stdout, /^101\tarray 0,1\ttrain:mnist-random-init$/m);
    assert.match(readFileSync(fake.calls, 'utf8'), /sbatch --parsable --account=abc /);
    // The stand-in squeue lists nothing: every submitted job has ended without finishing its step.
    const logs = join(out, 'slurm', 'logs');
    const jobs = JSON.parse(readFileSync(join(out, 'slurm', 'jobs.json'), 'utf8')) as Record<string, { jobId: string; log: string }>;
    const attack = Object.entries(jobs).find(([id]) => id.startsWith('attack:'))!;
    writeFileSync(attack[1].log.replace('%j', attack[1].jobId), 'backend wasm\nensdef: run mnist-random-init is not trained yet\n');
    const status = await ensdef(['reproduce', '--status', '--preset', 'smoke', '--out', out], { env: { PATH: pathWith(fake.bin) } });
    assert.equal(status.status, 0, status.stderr);
    const lines = status.stdout.trim().split('\n');
    assert.equal(lines.length, STEPS + 1);
    assert.ok(lines.every((l) => /^failed +job \d+/.test(l)), status.stdout);
    assert.ok(lines.some((l) => l.includes(attack[0]) && l.includes('is not trained yet')), status.stdout);
    assert.ok(existsSync(logs));

    // A rerun while every job but one attack is still queued submits that attack, and the report again
    // (cancelling the queued report, which would not wait for the new job).
    const missing = attack[0];
    const queue = Object.entries(jobs)
      .filter(([id]) => id !== missing)
      .map(([, j]) => `${j.jobId}|${j.jobId}|${(j as unknown as { name: string }).name}|PENDING|Dependency`);
    writeFileSync(join(home, 'full', 'queue'), `${queue.join('\n')}\n`);
    writeFileSync(fake.calls, '');
    const rerun = await ensdef(['reproduce', '--preset', 'smoke', '--executor', 'slurm', '--out', out], { env: { PATH: pathWith(fake.bin) } });
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.deepEqual(rerun.stdout.trim().split('\n').map((l) => l.split('\t').at(-1)), [missing, 'report']);
    const calls = readFileSync(fake.calls, 'utf8');
    assert.equal(calls.match(/^sbatch /gm)?.length, 2);
    assert.match(calls, new RegExp(`^scancel ${jobs.report.jobId}$`, 'm'));
    assert.match(rerun.stderr, /submitted 2 job\(s\)/);
  });

  test('train --member outside the run is a usage error, before any work', async () => {
    const result = await ensdef(['train', '--members', '2', '--member', '2', '--runs-dir', join(home, 'member-runs')]);
    assertOneLineFailure(result, 2, '--member 2: the run has 2 members (0..1)');
    assert.ok(!existsSync(join(home, 'member-runs')));
  });
});
