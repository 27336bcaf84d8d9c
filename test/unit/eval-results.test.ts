/** results.csv: header written once, rows read back as written, malformed files refused with the file's name. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { appendResults, readResults, RESULT_COLUMNS, type ResultRow } from '../../src/eval/results.ts';

const clean: ResultRow = {
  dataset: 'mnist', method: 'bagging', attack: 'none', grad: '', loss: '', eps: 0, alpha: null, steps: null, restarts: null,
  scored_on: 'ensemble', member: '', accuracy: 0.9912, zero_grad_fraction: null, n: 10000, seconds: 3.5, surrogate: '', seed: null,
};
const pgdRow: ResultRow = {
  ...clean, attack: 'pgd', grad: '1', loss: 'clipped-probs', eps: 0.2, alpha: 0.025, steps: 8, restarts: 5,
  scored_on: 'single', member: '3', accuracy: 0.0123, zero_grad_fraction: 0.25, seconds: 120.25, surrogate: 'other-run', seed: 7,
};

const freshPath = () => join(mkdtempSync(join(tmpdir(), 'ensdef-results-')), 'results.csv');

test('rows round-trip; the header is written once; blanks stay null', () => {
  const path = freshPath();
  appendResults(path, [clean]);
  appendResults(path, [pgdRow, { ...pgdRow, member: 'all' }]);
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  assert.equal(lines.length, 4);
  assert.equal(lines[0], RESULT_COLUMNS.join(','));
  assert.equal(lines[1], 'mnist,bagging,none,,,0,,,,ensemble,,0.9912,,10000,3.5,,');
  assert.deepEqual(readResults(path), [clean, pgdRow, { ...pgdRow, member: 'all' }]);
});

test('a missing file has no rows', () => {
  assert.deepEqual(readResults(freshPath()), []);
});

const refuses = (content: string, pattern: RegExp) => {
  const path = freshPath();
  writeFileSync(path, content);
  assert.throws(
    () => readResults(path),
    (e: unknown) => e instanceof UserError && e.message.startsWith(path) && pattern.test(e.message) && !e.message.includes('\n'),
  );
  // and appending refuses to build on it
  assert.throws(() => appendResults(path, [clean]), UserError);
  assert.equal(readFileSync(path, 'utf8'), content);
};

test('a wrong header is refused, naming the file', () => refuses('a,b,c\n1,2,3\n', /unexpected header/));
test('a value of the wrong kind is refused with its line and column', () => {
  const header = RESULT_COLUMNS.join(',');
  refuses(`${header}\nmnist,bagging,none,,,0,,,,ensemble,,high,,10000,3.5,,\n`, /line 2: column accuracy/);
  refuses(`${header}\nmnist,bagging,cw,,,0,,,,ensemble,,0.5,,10000,3.5,,\n`, /line 2: column attack/);
});
test('broken CSV (ragged rows, open quotes) is refused', () => {
  const header = RESULT_COLUMNS.join(',');
  refuses(`${header}\nmnist,bagging\n`, /not valid CSV/);
  refuses(`${header}\n"mnist,bagging,none\n`, /not valid CSV/);
});
