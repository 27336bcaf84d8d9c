/**
 * `ensdef attack` end to end on a tiny run: the design's own example (`train --method bagging`, then
 * `attack --grad 2 --attack bim` on the most recent run), Table 2, Grad. 1 over all members, a transfer
 * attack, the figure, one-line usage errors (exit 2) that leave results.csv alone, and `choices` on the same run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, test } from 'node:test';
import { PNG } from 'pngjs';
import { resolveJobs } from '../../src/commands/attack.ts';
import { datasetDescriptor } from '../../src/datasets/registry.ts';
import { UserError, userMessage } from '../../src/errors.ts';
import { readResults, type ResultRow } from '../../src/eval/results.ts';
import { CHOICES_CSV, readChoiceMeasurements } from '../../src/eval/open-choices-run.ts';
import { CELLS, ENSDEF_READING, attackKey } from '../../src/eval/open-choices.ts';

const BIN = fileURLToPath(new URL('../../bin/ensdef.js', import.meta.url));
const runsDir = mkdtempSync(join(tmpdir(), 'ensdef-attack-cli-'));
const results = () => readResults(join(runsDir, 'tiny', 'results.csv'));
const MNIST = datasetDescriptor('mnist');

function ensdef(...args: string[]) {
  const out = spawnSync(process.execPath, [BIN, ...args, '--runs-dir', runsDir], { encoding: 'utf8' });
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}

function train(run: string, seed: string) {
  const out = ensdef('train', '--method', 'bagging', '--members', '2', '--epochs', '1', '--train-limit', '512', '--test-limit', '100', '--workers', '1', '--run', run, '--seed', seed);
  assert.equal(out.status, 0, out.stderr);
}

before(() => {
  train('surrogate', '1');
  train('tiny', '0'); // trained last: the most recent run
});

test("the design's example: attack --grad 2 --attack bim on the most recent run", () => {
  const out = ensdef('attack', '--grad', '2', '--attack', 'bim');
  assert.equal(out.status, 0, out.stderr);
  const rows = results();
  assert.equal(rows.length, 1);
  const expected: Partial<ResultRow> = { dataset: 'mnist', method: 'bagging', table: 'paper', attack: 'bim', params: { eps: 0.2, alpha: 0.025, steps: 8 }, grad: '2', loss: 'logits', scored_on: 'ensemble', member: '', n: 100, surrogate: '' };
  assert.deepEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, rows[0][k as keyof ResultRow]])), expected);
  assert.match(out.stdout, /BIM\(ε=0\.2, α=0\.025, n=8\) Grad\. 2 \[logits\] → ensemble: accuracy \d\.\d{4}/);
});

test('bad flags: one line on stderr, exit 2, results.csv untouched', () => {
  const before = readFileSync(join(runsDir, 'tiny', 'results.csv'), 'utf8');
  for (const args of [
    ['--attack', 'bim', '--grad', '1', '--alpha', '0.5'],
    ['--attack', 'fgsm', '--grad', '1', '--member', '2'],
  ]) {
    const out = ensdef('attack', ...args);
    assert.equal(out.status, 2, `${args.join(' ')}: exit ${out.status} ${out.stderr}`);
    assert.match(out.stderr.trim(), /^ensdef: --(alpha|member)\b[^\n]+$/);
  }
  assert.equal(readFileSync(join(runsDir, 'tiny', 'results.csv'), 'utf8'), before);
});

test('flag combinations are checked before any work (usage errors, exit code 2)', () => {
  const base = { loss: 'logits' as const, table2: false, table4: false, batchSize: 200 };
  for (const [flags, pattern] of [
    [{ attack: 'bim', grad: '1', alpha: 0 }, /^--alpha/],
    [{ attack: 'bim', grad: '1', eps: 0.01 }, null], // α follows ε: 0.01/8
    [{ attack: 'pgd', grad: '1', steps: 0 }, /^--steps/],
    [{ attack: 'fgsm', grad: '2', member: 0 }, /^--member/],
    [{ attack: 'fgsm', grad: '1', steps: 3 }, /^--steps 3: --attack fgsm/],
    [{ attack: 'bim', grad: '1', restarts: 3 }, /^--restarts/],
    [{ grad: '1' }, /^--attack/],
    [{ attack: 'fgsm' }, /^--grad/],
    [{ table2: true, eps: 0.1 }, /^--eps: --table2/],
    [{ table4: true, grad: '2' }, /^--grad: --table4/],
    [{ table2: true, table4: true }, /^--table2 and --table4/],
    [{ table2: true, sweepEps: [0.1] }, /^--sweep-eps: --table2/],
    [{ attack: 'bim', grad: '3', sweepEps: [0.1], eps: 0.2 }, /^--eps: --sweep-eps/],
    [{ attack: 'fgsm', grad: '3', sweepSteps: [2, 4] }, /^--sweep-steps: FGSM/],
    [{ attack: 'square', grad: '3' }, /^--grad: Square is gradient-free/],
    [{ attack: 'apgd-ce', grad: '3', queries: 100 }, /^--queries 100: --attack apgd-ce has no queries/],
    [{ suite: 'worst-case', grad: '3', alpha: 0.1 }, /^--alpha 0\.1: --suite worst-case has no alpha/],
    [{ suite: 'worst-case', attack: 'bim', grad: '3' }, /^--suite worst-case: it runs its own attacks; drop --attack bim/],
    [{ suite: 'worst-case', grad: '3', sweepEps: [0.1, 0.2] }, /^--suite worst-case: .* drop --sweep-eps/],
  ] as const) {
    const resolve = () => resolveJobs({ ...base, ...flags } as Parameters<typeof resolveJobs>[0], MNIST, 2);
    if (pattern === null) assert.equal(resolve()[0].attack?.params.alpha, 0.01 / 8);
    else assert.throws(resolve, (e: unknown) => e instanceof UserError && e.exitCode === 2 && pattern.test(userMessage(e)), JSON.stringify(flags));
  }
});

test('--table2 writes the whole row; its clean accuracies are the ones train measured', () => {
  const out = ensdef('attack', '--table2', '--loss', 'clipped-probs');
  assert.equal(out.status, 0, out.stderr);
  const rows = results().slice(1);
  const key = (r: ResultRow) => `${r.attack} ${r.grad} ${r.scored_on}`;
  assert.deepEqual(rows.map(key), [
    'none  single', 'none  ensemble',
    'fgsm 1 single', 'fgsm 1 ensemble', 'fgsm 2 ensemble', 'fgsm 3 ensemble',
    'bim 1 single', 'bim 1 ensemble', 'bim 2 ensemble', 'bim 3 ensemble',
  ]);
  const manifest = JSON.parse(readFileSync(join(runsDir, 'tiny', 'manifest.json'), 'utf8'));
  assert.equal(rows[0].accuracy, manifest.evaluation.memberAccuracy[0]);
  assert.equal(rows[1].accuracy, manifest.evaluation.ensembleAccuracy);
  assert.ok(rows.slice(2).every((r) => r.loss === 'clipped-probs' && r.zero_grad_fraction !== null));
  assert.deepEqual([rows[2].params, rows[6].params], [{ eps: 0.3 }, { eps: 0.2, alpha: 0.025, steps: 8 }]);
  assert.ok(rows[2].accuracy < rows[0].accuracy, `FGSM Grad. 1 left member 0 at ${rows[2].accuracy} (clean ${rows[0].accuracy})`);
  assert.equal(out.stdout.trim().split('\n').length, 10);
});

test('a rerun skips what results.csv already holds and prints the saved rows; --force or other images measure again', () => {
  const path = join(runsDir, 'tiny', 'results.csv');
  const before = readFileSync(path, 'utf8');
  const first = ensdef('attack', '--grad', '2', '--attack', 'bim');
  assert.equal(first.status, 0, first.stderr);
  assert.equal(readFileSync(path, 'utf8'), before, 'a measurement already saved was written again');
  assert.match(first.stderr, /BIM\(ε=0\.2, α=0\.025, n=8\) Grad\. 2 \[logits\]: already in results\.csv/);
  assert.match(first.stderr, /nothing new measured; \S+results\.csv unchanged/);
  const saved = results()[0];
  assert.ok(first.stdout.includes(`accuracy ${saved.accuracy.toFixed(4)}`), first.stdout);

  const table = ensdef('attack', '--table2', '--loss', 'clipped-probs');
  assert.equal(table.status, 0, table.stderr);
  assert.equal(readFileSync(path, 'utf8'), before);
  assert.equal(table.stdout.trim().split('\n').length, 10, 'every saved row is printed');

  const count = results().length;
  assert.equal(ensdef('attack', '--grad', '2', '--attack', 'bim', '--force').status, 0);
  assert.equal(ensdef('attack', '--grad', '2', '--attack', 'bim', '--test-limit', '50').status, 0);
  const added = results().slice(count);
  assert.deepEqual(added.map((r) => [r.attack, r.grad, r.n]), [['bim', '2', 100], ['bim', '2', 50]]);
  assert.equal(added[0].accuracy, saved.accuracy, 'BIM is deterministic: measuring again gives the saved accuracy');
});

test('--sweep-eps and --sweep-steps make one job per value, α following ε as ε/8', () => {
  const base = { loss: 'logits' as const, table2: false, table4: false, batchSize: 200, attack: 'bim' as const, grad: '3' as const };
  const eps = resolveJobs({ ...base, sweepEps: [0.1, 0.2, 0.4] }, MNIST, 2).map((j) => j.attack!.params);
  assert.deepEqual(eps.map((a) => [a.eps, a.alpha, a.steps]), [[0.1, 0.0125, 8], [0.2, 0.025, 8], [0.4, 0.05, 8]]);
  const steps = resolveJobs({ ...base, sweepSteps: [8, 16, 32] }, MNIST, 2).map((j) => j.attack!.params);
  assert.deepEqual(steps.map((a) => [a.eps, a.alpha, a.steps]), [[0.2, 0.025, 8], [0.2, 0.025, 16], [0.2, 0.025, 32]]);
});

test("PGD's default step is Madry et al.'s 2.5·ε/n, at most ε; BIM keeps the paper's ε/8; --alpha overrides both", () => {
  const base = { loss: 'logits' as const, table2: false, table4: false, batchSize: 200, grad: '3' as const };
  const alphaOf = (flags: Record<string, unknown>) => resolveJobs({ ...base, ...flags } as Parameters<typeof resolveJobs>[0], MNIST, 2)[0].attack?.params.alpha;
  assert.equal(alphaOf({ attack: 'pgd' }), (2.5 * 0.2) / 8);
  assert.equal(alphaOf({ attack: 'pgd', steps: 40, eps: 0.3 }), (2.5 * 0.3) / 40);
  assert.equal(alphaOf({ attack: 'pgd', steps: 2 }), 0.2);
  assert.equal(alphaOf({ attack: 'bim' }), 0.025);
  assert.equal(alphaOf({ attack: 'pgd', alpha: 0.01 }), 0.01);
});

test('--table4 scores an ensemble under Grad. 2 and 3 and a single model under its own gradient', () => {
  const attacks = ['fgsm', 'bim'] as const;
  const ensembleJobs = resolveJobs({ loss: 'logits', table2: false, table4: true, batchSize: 200 }, MNIST, 2);
  assert.deepEqual(ensembleJobs.map((j) => `${j.attack?.definition.id ?? 'none'} ${j.grad ?? ''}`), ['none ', ...attacks.flatMap((a) => [`${a} 2`, `${a} 3`])]);
  const singleJobs = resolveJobs({ loss: 'logits', table2: false, table4: true, batchSize: 200 }, MNIST, 1);
  assert.deepEqual(singleJobs.map((j) => `${j.attack?.definition.id ?? 'none'} ${j.grad ?? ''}`), ['none ', 'fgsm 1', 'bim 1']);
});

test('PGD with Grad. 1 over all members, and its figure', () => {
  const figure = join(runsDir, 'figure1.png');
  const out = ensdef('attack', '--attack', 'pgd', '--grad', '1', '--member', 'all', '--restarts', '2', '--test-limit', '20', '--figure', figure);
  assert.equal(out.status, 0, out.stderr);
  const rows = results().slice(-2);
  assert.deepEqual(rows.map((r) => [r.attack, r.member, r.scored_on, r.params.restarts, r.params.seed, r.n]), [
    ['pgd', 'all', 'single', 2, 0, 20],
    ['pgd', 'all', 'ensemble', 2, 0, 20],
  ]);
  assert.ok(existsSync(figure));
  const png = PNG.sync.read(readFileSync(figure));
  assert.ok(png.width > 10 * 56 && png.height > 2 * 56);
});

test('a transfer attack takes its gradients from the surrogate run', () => {
  const out = ensdef('attack', '--attack', 'fgsm', '--grad', '3', '--surrogate', 'surrogate');
  assert.equal(out.status, 0, out.stderr);
  const [row] = results().slice(-1);
  assert.deepEqual([row.attack, row.grad, row.scored_on, row.surrogate], ['fgsm', '3', 'ensemble', 'surrogate']);
  assert.match(out.stdout, /from run surrogate → ensemble/);
  assert.equal(ensdef('attack', '--attack', 'fgsm', '--grad', '3', '--surrogate', 'tiny').status, 2);
});

test('Square and the worst-case suite write their rows: queries per image, a row per stage, all in the beyond table', () => {
  const square = ensdef('attack', '--attack', 'square', '--queries', '40', '--test-limit', '20');
  assert.equal(square.status, 0, square.stderr);
  const [row] = results().slice(-1);
  assert.deepEqual([row.attack, row.grad, row.loss, row.scored_on, row.table, row.params], ['square', '', '', 'ensemble', 'beyond', { eps: 0.2, queries: 40, seed: 0 }]);
  assert.ok(row.queries !== null && row.queries >= 1 && row.queries <= 40, String(row.queries));
  assert.match(square.stdout, /Square\(ε=0\.2, q=40, seed=0\) \[gradient-free\] → ensemble: accuracy \d\.\d{4}, [\d.]+ queries per image/);

  const suite = ensdef('attack', '--suite', 'worst-case', '--grad', '3', '--steps', '3', '--queries', '20', '--test-limit', '20');
  assert.equal(suite.status, 0, suite.stderr);
  const stages = results().slice(-3);
  assert.deepEqual(stages.map((r) => [r.attack, r.params.stages, r.table]), [['worst-case', 1, 'beyond'], ['worst-case', 2, 'beyond'], ['worst-case', 3, 'beyond']]);
  assert.ok(stages[1].accuracy <= stages[0].accuracy && stages[2].accuracy <= stages[1].accuracy, stages.map((r) => r.accuracy).join(' '));
  assert.equal(suite.stdout.trim().split('\n').length, 3, 'one line per stage');
});

test("choices: the paper's open choices on the run, resumable, ensdef's reading equal to attack's BIM Grad. 2", () => {
  const first = ensdef('choices', '--run', 'tiny', '--test-limit', '100');
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /\| paper \(random-init\) \| 0\.8875 \| 0\.6518 \| 0\.4517 \| 0\.0906 \| yes \|/);
  const csv = join(runsDir, 'tiny', CHOICES_CSV);
  const rows = readChoiceMeasurements(csv);
  const bim = results().find((r) => r.attack === 'bim' && r.grad === '2' && r.loss === 'logits' && r.n === 100)!;
  const ours = rows.find((r) => r.attackKey === attackKey(CELLS[0], ENSDEF_READING) && r.scoreKey === 'ensemble decision=mean-probabilities')!;
  assert.equal(ours.correct / ours.n, bim.accuracy);
  const table = readFileSync(join(runsDir, 'tiny', 'open-choices.md'), 'utf8');
  const again = ensdef('choices', '--run', 'tiny', '--test-limit', '100');
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /accuracy/, 'a rerun measures nothing already saved');
  assert.equal(readFileSync(join(runsDir, 'tiny', 'open-choices.md'), 'utf8'), table);
  assert.equal(readFileSync(csv, 'utf8').split('\n').length, rows.length + 2);
});

test('alignment: the members\' gradient cosines, saved in the run', () => {
  const out = ensdef('alignment', '--run', 'tiny', '--test-limit', '50');
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stdout, /^run tiny \(bagging, 2 members, 50 test images\): pairwise cosine -?\d\.\d{3}, cosine to Grad\. 2 -?\d\.\d{3}, sign agreement with Grad\. 2 \d\.\d{3}$/m);
  const saved = JSON.parse(readFileSync(join(runsDir, 'tiny', 'alignment.json'), 'utf8'));
  assert.equal(saved.n, 50);
  // two members: each one's cosine to their mean is the same, and at least the pairwise cosine
  assert.ok(saved.cosineToGrad2 >= saved.pairwiseCosine - 1e-6 && saved.cosineToGrad2 <= 1 + 1e-6);
});
