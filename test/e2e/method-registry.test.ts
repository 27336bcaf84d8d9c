/**
 * A method is one file plus one registry line: a throw-away method with a parameter of its own, dropped into
 * src/ensembles/ of a copy of the project and added to METHODS with one line, shows up in `train --help`,
 * trains with its flag, records the value in the manifest, carries a non-default value into the Slurm job
 * that trains it, and is named with that value in the report.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Plain training on contrast-scaled images (x·c); reproduce trains it beyond the paper at c = 0.7. */
const CONTRAST_METHOD = `
import * as tf from '@tensorflow/tfjs';
import { baseModelFor } from '../datasets/registry.ts';
import { allIndices, type MethodDefinition, type MethodParam } from './method.ts';

const CONTRAST: MethodParam = { key: 'contrast', symbol: 'c', help: 'image contrast factor', integer: false, min: 0, max: 1, exclusiveMin: true, default: (dataset) => (dataset.name === 'mnist' ? 0.9 : 0.8) };

export const contrast: MethodDefinition = {
  name: 'contrast',
  summary: 'members train on images scaled by c (a throw-away test method)',
  size: 'ensemble',
  paperRows: {},
  params: [CONTRAST],
  workPerSample: () => 1,
  reproduce: { beyond: [{ params: () => ({ contrast: 0.7 }) }] },
  plan: ({ dataset, params }) => ({
    model: baseModelFor(dataset.name),
    indices: allIndices(dataset.train.count),
    transformBatch: (x) => tf.tidy(() => tf.mul(x, params.contrast) as tf.Tensor4D),
    facts: { contrast: params.contrast },
  }),
};
`;

test('a new method file and one registry line reach train --help, the manifest, a Slurm job and the report', () => {
  const project = tempDir('ensdef-methods-');
  for (const entry of ['bin', 'src', 'configs', 'package.json', 'tsconfig.json']) cpSync(join(ROOT, entry), join(project, entry), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'));
  writeFileSync(join(project, 'src', 'ensembles', 'contrast.ts'), CONTRAST_METHOD);
  const registry = join(project, 'src', 'training', 'methods.ts');
  const source = readFileSync(registry, 'utf8');
  const end = /(export const METHODS: [^\n]*\n(?: {2}\w+,\n)+)\];/;
  assert.match(source, end);
  writeFileSync(registry, source.replace(end, "$1  (await import('../ensembles/contrast.ts')).contrast,\n];"));
  const runs = join(project, 'runs');
  const ensdef = (...args: string[]) => {
    const result = spawnSync(process.execPath, [join(project, 'bin', 'ensdef.js'), '--backend', 'wasm', '--runs-dir', runs, ...args], { cwd: project, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  const help = ensdef('train', '--help').replace(/\s+/g, ' ');
  assert.match(help, /--method <name> training method \(choices: [^)]*"contrast"/);
  assert.match(help, /--contrast <c> image contrast factor \(default: 0\.9 mnist, 0\.8 cifar10; methods: contrast\)/);
  assert.match(help, / contrast members train on images scaled by c \(a throw-away test method\) \[--contrast\]/);

  ensdef('train', '--method', 'contrast', '--contrast', '0.5', '--members', '2', '--epochs', '1', '--train-limit', '256', '--test-limit', '40', '--workers', '1', '--run', 'c');
  const manifest = JSON.parse(readFileSync(join(runs, 'c', 'manifest.json'), 'utf8'));
  assert.equal(manifest.config.contrast, 0.5);
  assert.ok(!('rho' in manifest.config), 'a run records its own method parameters only');
  assert.deepEqual(manifest.members.map((m: { facts: { contrast: number } }) => m.facts.contrast), [0.5, 0.5]);

  const dryRun = ensdef('reproduce', '--preset', 'smoke', '--executor', 'slurm', '--dry-run', '--out', join(project, 'repro'));
  assert.match(dryRun, /# ensdef step: train:mnist-contrast-contrast0\.7\n[\s\S]*? train --dataset mnist --method contrast [^\n]*--contrast 0\.7 /);

  ensdef('attack', '--run', 'c', '--attack', 'fgsm', '--grad', '3');
  ensdef('report', '--runs', runs, '--out', join(project, 'report'));
  assert.match(readFileSync(join(project, 'report', 'report.md'), 'utf8'), /\| c \| complete \(2\/2 members\) \| mnist \| contrast \(c 0\.5\) \|/);
});
