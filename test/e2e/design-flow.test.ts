/**
 * The design's own example, in its order, with the defaults a user gets from the working directory:
 * `ensdef train --method bagging` (made small here), `ensdef attack --grad 2 --attack bim`, `ensdef report`.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { ensdef } from '../helpers/reliability.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('train --method bagging, then attack --grad 2 --attack bim, then report', async () => {
  const cwd = tempDir('ensdef-flow-');
  const train = await ensdef(['train', '--method', 'bagging', '--members', '2', '--epochs', '1', '--train-limit', '256', '--test-limit', '50'], { cwd });
  assert.equal(train.status, 0, train.stderr);
  assert.ok(existsSync(join(cwd, 'runs', 'mnist-bagging-s0', 'manifest.json')), 'default run name and runs directory');

  const attack = await ensdef(['attack', '--grad', '2', '--attack', 'bim'], { cwd });
  assert.equal(attack.status, 0, attack.stderr);
  assert.match(attack.stdout, /^BIM\(ε=0.2, α=0.025, n=8\) Grad. 2 \[logits\] → ensemble: accuracy 0\.\d{4}/m);

  const report = await ensdef(['report'], { cwd });
  assert.equal(report.status, 0, report.stderr);
  const table2 = parse(readFileSync(join(cwd, 'results', 'report', 'table2.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
  const cell = table2.find((r) => r.attack === 'bim' && r.method === 'bagging' && r.column === 'grad2_ensemble' && r.loss === 'logits');
  assert.ok(cell && cell.ours !== '' && Number(cell.paper) === 0.9233, JSON.stringify(cell));
  const table4 = parse(readFileSync(join(cwd, 'results', 'report', 'table4.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
  assert.ok(table4.some((r) => r.method === 'bagging' && r.column === 'bim' && r.ours === cell.ours), 'the bagging row of Table 4 is the same measurement');
});
