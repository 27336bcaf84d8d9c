/**
 * Every flag of every command is validated before any work: a bad value, an unknown option or command,
 * a missing value → exactly one line on stderr that says what is wrong and what is allowed, exit code 2,
 * no stack trace, nothing on stdout, and nothing written (no runs directory, no LATEST, no file changed).
 *
 * The allowed values are written out here from the design (SPEC.md, the README), not imported, so that a
 * message that stops listing them fails. Train commands carry `--data-dir` pointing at nothing as a
 * tripwire: if a check were removed, the command fails fast on the missing data (exit 1) instead of
 * training. One case per flag (each process start costs ~0.7 s of CPU); cases already run elsewhere
 * are not repeated (cli-errors: --dataset foo, --epochs 0, --run ../x; attacks-cli: --alpha 0.5 above
 * the default ε, --member 2 of two members, and flag combinations such as --table2 with --eps).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { markLatest } from '../../src/run/run-dir.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { assertOneLineFailure, ensdef, snapshotTree, writeRunManifest } from '../helpers/reliability.ts';

const DATASETS = ['mnist', 'cifar10'];
const METHODS = ['single', 'random-init', 'mixed-models', 'bagging', 'gaussian-noise', 'adversarial-training', 'distillation', 'bagging+adversarial-training', 'bagging+distillation'];
const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'];
const ATTACKS = ['fgsm', 'bim', 'pgd'];
const GRADS = ['1', '2', '3'];
const LOSSES = ['logits', 'clipped-probs'];
const PRESETS = ['smoke', 'cpu', 'paper'];

/** A command line and what its one error line must mention: the offending flag or value and what is allowed. */
type Case = [args: string[], ...mentions: string[]];

const home = tempDir('flags');
const runsDir = join(home, 'runs');
const trainRuns = join(home, 'train-runs');
const noData = join(home, 'no-data');

const train = (...args: string[]) => ['train', ...args, '--runs-dir', trainRuns, '--data-dir', noData];
const attack = (...args: string[]) => ['attack', ...args, '--runs-dir', runsDir];

const CASES: Record<string, Case[]> = {
  global: [
    [['--backend', 'gpu', ...train()], "'gpu'", ...BACKENDS],
    [['--runs-dir'], "'--runs-dir <dir>' argument missing", "'ensdef --help'"],
    [['frobnicate'], "unknown command 'frobnicate'", "'ensdef --help'"],
  ],
  train: [
    [train('--dataset', 'svhn'), "'svhn'", ...DATASETS],
    [train('--method', 'boosting'), "'boosting'", ...METHODS],
    [train('--members', '0'), '--members', "'0'", '[1, 100]'],
    [train('--method', 'single', '--members', '3'), '--members 3', '--method single'],
    [train('--epochs', 'ten'), '--epochs', "'ten'", '[1, 1000]'],
    [train('--batch-size', '0'), '--batch-size', '[1, 65536]'],
    [train('--lr', '0'), '--lr', '(0, 10]'],
    [train('--lr', '1e30'), '--lr', '(0, 10]'],
    [train('--seed', '-1'), '--seed', '[0, 4294967295]'],
    [train('--train-limit', '0'), '--train-limit', '[1, ∞]'],
    [train('--test-limit', '0'), '--test-limit', '[1, ∞]'],
    [train('--noise-sigma', '-0.1'), '--noise-sigma', '[0, 10]'],
    [train('--rho', '1.5'), '--rho', '[0, 1]'],
    [train('--at-eps', '2'), '--at-eps', '[0, 1]'],
    [train('--temperature', '0'), '--temperature', '(0, 1000]'],
    [train('--rho', '0.7'), '--rho: --method random-init has no ρ', 'adversarial-training, bagging+adversarial-training'],
    [train('--workers', '0'), '--workers', '[1, 64]'],
    [train('--bogus'), "unknown option '--bogus'", "'ensdef train --help'"],
    [train('--epoch', '3'), "unknown option '--epoch'", '--epochs'],
  ],
  eval: [
    [['eval', '--test-limit', '0', '--runs-dir', runsDir], '--test-limit', '[1, ∞]'],
  ],
  attack: [
    [attack('--attack', 'cw', '--grad', '2'), "'cw'", ...ATTACKS],
    [attack('--attack', 'fgsm', '--grad', '4'), "'4'", ...GRADS],
    [attack('--attack', 'fgsm', '--grad', '2', '--loss', 'mse'), "'mse'", ...LOSSES],
    [attack('--attack', 'fgsm', '--grad', '2', '--eps', '-0.1'), '--eps', '[0, 1]'],
    [attack('--attack', 'bim', '--grad', '2', '--alpha', '0'), '--alpha', '(0, 1]'],
    [attack('--attack', 'bim', '--grad', '2', '--eps', '0.1', '--alpha', '0.2'), '--alpha', '0 < α ≤ ε', 'α = 0.2', 'ε = 0.1'],
    [attack('--attack', 'bim', '--grad', '2', '--steps', '0'), '--steps', '[1, 100000]'],
    [attack('--attack', 'pgd', '--grad', '2', '--restarts', '0'), '--restarts', '[1, 10000]'],
    [attack('--attack', 'square', '--queries', '0'), '--queries', '[1, 1000000]'],
    [attack('--suite', 'worst-case', '--grad', '3', '--steps', '1.5'), '--steps', 'not an integer'],
    [attack('--attack', 'fgsm', '--grad', '1', '--member', '-1'), '--member', '[0, ∞]'],
    // member 1 exists in the attacked run (2 members) but not in the surrogate (1 member), whose gradients Grad. 1 uses
    [attack('--attack', 'fgsm', '--grad', '1', '--member', '1', '--surrogate', 's1'), '--member 1', 'run s1 has 1 member', '0..0'],
    [attack('--attack', 'fgsm', '--grad', '2', '--test-limit', '0'), '--test-limit', '[1, ∞]'],
    [attack('--attack', 'fgsm', '--grad', '2', '--batch-size', '0'), '--batch-size', '[1, 100000]'],
    [attack('--attack', 'pgd', '--grad', '2', '--seed', '-1'), '--seed', '[0, 4294967295]'],
    [attack('--attack', 'fgsm', '--grad', '2', '--sweep-eps', '0.1,,0.3'), '--sweep-eps', 'comma-separated list'],
    [attack('--attack', 'bim', '--grad', '2', '--sweep-steps', '4,0'), '--sweep-steps', '[1, 100000]'],
  ],
  report: [
    [['report', '--runs-dir', runsDir, '--format', 'html'], "unknown option '--format'", "'ensdef report --help'"],
  ],
  reproduce: [
    [['reproduce', '--dataset', 'svhn'], "'svhn'", ...DATASETS, 'all'],
    [['reproduce', '--preset', 'huge'], "'huge'", ...PRESETS],
    [['reproduce', '--workers', '0'], '--workers', '[1, 64]'],
    [['reproduce', '--dataset', 'all', '--data-dir', home], '--data-dir', 'one --dataset'],
  ],
  data: [
    [['data', 'info', 'svhn'], "'svhn'", ...DATASETS],
    [['data', 'fetch', 'svhn', '--cache-dir', join(home, 'cache')], "'svhn'", ...DATASETS],
    [['data', 'info'], "missing required argument 'dataset'", "'ensdef data info --help'"],
  ],
};

describe('every bad flag: one line, exit 2, nothing written', () => {
  let untouched: Record<string, string>;
  before(() => {
    // Runs whose manifests the attack checks read; nothing loads their (absent) models.
    writeRunManifest(join(runsDir, 'r'), { members: 2 });
    writeRunManifest(join(runsDir, 's1'), { members: 1 });
    markLatest(runsDir, 'r');
    mkdirSync(join(home, 'cwd'));
    untouched = snapshotTree(home);
  });

  for (const [command, cases] of Object.entries(CASES)) {
    describe(command, { concurrency: 2 }, () => {
      for (const [args, ...mentions] of cases) {
        // named by the flags under test, without the temp paths and the flags that carry them
        const name = args.filter((a, i) => !a.startsWith(home) && !args[i + 1]?.startsWith(home)).join(' ');
        test(name, async () => {
          // cwd is a scratch directory inside home: reproduce and data fetch write relative to it by default
          const run = await ensdef(args, { cwd: join(home, 'cwd'), timeoutMs: 60_000 });
          const line = assertOneLineFailure(run, 2, ...mentions);
          assert.equal(run.stderr.trim(), line, 'stderr holds more than the error line');
          assert.equal(run.stdout, '', 'a failed command printed results');
          assert.deepEqual(snapshotTree(home), untouched, 'the command wrote or changed files');
        });
      }
    });
  }
});
