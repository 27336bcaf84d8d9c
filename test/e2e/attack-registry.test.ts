/**
 * An attack is one file: a throw-away attack dropped into src/attacks/catalog/ of a copy of the project,
 * with no other file edited, shows up in `attack --help`, runs, writes a self-describing results row, and
 * appears in the report's beyond-the-paper table.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Random signs, no gradient: x + ε·sign(u − ½), u uniform from the batch's seed. */
const NOISE_ATTACK = `
import * as tf from '@tensorflow/tfjs';
import { checkEps, type AttackDefinition } from '../definition.ts';
import { projectToThreatModel } from '../iterative.ts';
import { EPS, SEED } from '../params.ts';

export const attack: AttackDefinition = {
  id: 'noise',
  title: 'NOISE',
  summary: 'random signs at the corners of the ε-ball (a throw-away test attack)',
  order: 1000,
  params: [EPS, SEED],
  paper: false,
  dependsOnScorer: false,
  usesGradient: false,
  defaultsHelp: { eps: "BIM's", seed: '0' },
  resolve(dataset, given) {
    const params = { eps: given.eps ?? dataset.paperAttacks.bim.eps, seed: given.seed ?? 0 };
    checkEps(params.eps);
    return params;
  },
  run: ({ x }, { eps }, ) =>
    tf.tidy(() => ({
      adversarial: projectToThreatModel(tf.add(x, tf.mul(tf.sign(tf.sub(tf.randomUniform(x.shape, 0, 1, 'float32', 7), 0.5)), eps)), x, eps) as tf.Tensor4D,
      zeroGradient: tf.zeros([x.shape[0]], 'bool') as tf.Tensor1D,
    })),
  cost: () => 0,
  column: ({ eps }) => \`noise_e\${eps}\`,
};
`;

test('a new attack file alone reaches --help, results.csv and the report', () => {
  const project = tempDir('ensdef-registry-');
  for (const entry of ['bin', 'src', 'configs', 'package.json', 'tsconfig.json']) cpSync(join(ROOT, entry), join(project, entry), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'));
  writeFileSync(join(project, 'src', 'attacks', 'catalog', 'noise.ts'), NOISE_ATTACK);
  const runs = join(project, 'runs');
  const ensdef = (...args: string[]) => {
    const result = spawnSync(process.execPath, [join(project, 'bin', 'ensdef.js'), '--backend', 'wasm', '--runs-dir', runs, ...args], { cwd: project, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(result.status, 0, `${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  const help = ensdef('attack', '--help');
  assert.match(help, /--attack <name>[\s\S]*"noise"/);
  assert.match(help, /\n  noise +random signs at the corners of the ε-ball \(a throw-away test attack\) \[--eps --seed\]\n/);

  ensdef('train', '--method', 'bagging', '--members', '2', '--epochs', '1', '--train-limit', '256', '--test-limit', '40', '--workers', '1', '--run', 'r');
  ensdef('attack', '--run', 'r', '--attack', 'noise');
  const csv = readFileSync(join(runs, 'r', 'results.csv'), 'utf8');
  const rows = parse(csv.slice(csv.indexOf('\n') + 1), { columns: true }) as Record<string, string>[];
  assert.deepEqual(rows.map((r) => [r.attack, r.table, r.params, r.grad, r.n]), [['noise', 'beyond', '{"eps":0.2,"seed":0}', '', '40']]);

  ensdef('report', '--runs', runs, '--out', join(project, 'report'));
  const beyond = parse(readFileSync(join(project, 'report', 'beyond.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
  assert.deepEqual(beyond.map((c) => [c.attack, c.column, c.run, Number(c.ours)]), [['noise', 'noise_e0.2', 'r', Number(rows[0].accuracy)]]);
  assert.match(readFileSync(join(project, 'report', 'report.md'), 'utf8'), /\| Bagging \(r\) \| NOISE \(ε = 0\.2\) \| none \(queries the model\) \| – \| 0\.\d{2} \[0\.\d{2}, 0\.\d{2}\] \| 40 \|/);
});
