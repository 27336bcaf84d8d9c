/** results.csv: header written once, rows read back as written, malformed files refused with the file's name. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { UserError } from '../../src/errors.ts';
import { appendResults, measurementKey, readResults, RESULT_COLUMNS, RESULTS_FORMAT, type ResultRow } from '../../src/eval/results.ts';
import { resultRow } from '../helpers/results.ts';

const clean: ResultRow = resultRow({ method: 'bagging', accuracy: 0.9912, n: 10000, seconds: 3.5, backend: 'native' });
const pgdRow: ResultRow = resultRow({
  attack: 'pgd', grad: '1', loss: 'clipped-probs', eps: 0.2, alpha: 0.025, steps: 8, restarts: 5, seed: 7,
  scored_on: 'single', member: '3', accuracy: 0.0123, zero_grad_fraction: 0.25, n: 10000, seconds: 120.25, surrogate: 'other-run',
});

const freshPath = () => join(mkdtempSync(join(tmpdir(), 'ensdef-results-')), 'results.csv');

test('rows round-trip; the header is written once; blanks stay null', () => {
  const path = freshPath();
  appendResults(path, [clean]);
  appendResults(path, [pgdRow, { ...pgdRow, member: 'all' }]);
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  assert.equal(lines.length, 5);
  assert.equal(lines[0], `#ensdef-results-format=${RESULTS_FORMAT}`);
  assert.equal(lines[1], RESULT_COLUMNS.join(','));
  assert.equal(lines[2], 'mnist,bagging,paper,none,{},,,ensemble,,,10000,0.9912,,,3.5,native');
  assert.equal(lines[3], 'mnist,bagging,beyond,pgd,"{""eps"":0.2,""alpha"":0.025,""steps"":8,""restarts"":5,""seed"":7}",1,clipped-probs,single,3,other-run,10000,0.0123,0.25,,120.25,');
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

const header = `#ensdef-results-format=${RESULTS_FORMAT}\n${RESULT_COLUMNS.join(',')}`;
test('a wrong header is refused, naming the file', () => {
  refuses('a,b,c\n1,2,3\n', /unknown header/);
  refuses(`#ensdef-results-format=${RESULTS_FORMAT}\na,b,c\n1,2,3\n`, /unexpected header/);
  refuses(`#ensdef-results-format=99\n${RESULT_COLUMNS.join(',')}\n`, /format line/);
});
test('a value of the wrong kind is refused with its line and column', () => {
  refuses(`${header}\nmnist,bagging,paper,none,{},,,ensemble,,,10000,high,,,3.5,\n`, /line 3: column accuracy/);
  refuses(`${header}\nmnist,bagging,paper,cw,{},,,ensemble,,,10000,0.5,,,3.5,\n`, /line 3: column attack/);
  refuses(`${header}\nmnist,bagging,paper,fgsm,"{""eps"":0.3,""steps"":1}",2,logits,ensemble,,,10000,0.5,0,,3.5,\n`, /line 3: column params/);
  refuses(`${header}\nmnist,bagging,paper,fgsm,"{""eps"":""x""}",2,logits,ensemble,,,10000,0.5,0,,3.5,\n`, /line 3: column params/);
  refuses(`${header}\nmnist,bagging,best,none,{},,,ensemble,,,10000,0.5,,,3.5,\n`, /line 3: column table/);
});
test('broken CSV (ragged rows, open quotes) is refused', () => {
  refuses(`${header}\nmnist,bagging\n`, /not valid CSV/);
  refuses(`${header}\n"mnist,bagging,none\n`, /not valid CSV/);
});

const FORMAT_1 = new URL('../fixtures/results-format1.csv', import.meta.url);

test('a results.csv in the 17-column format 1 is read as format 2 and migrated on the next append without losing a row', () => {
  const path = freshPath();
  writeFileSync(path, readFileSync(FORMAT_1));
  const old = parse(readFileSync(FORMAT_1, 'utf8'), { columns: true }) as Record<string, string>[];
  const rows = readResults(path);
  assert.equal(rows.length, old.length);
  rows.forEach((row, i) => {
    const was = old[i];
    assert.deepEqual([row.dataset, row.method, row.attack, row.grad, row.loss, row.scored_on, row.member, row.surrogate], [was.dataset, was.method, was.attack, was.grad, was.loss, was.scored_on, was.member, was.surrogate]);
    assert.deepEqual([row.accuracy, row.n, row.seconds, row.zero_grad_fraction], [Number(was.accuracy), Number(was.n), Number(was.seconds), was.zero_grad_fraction === '' ? null : Number(was.zero_grad_fraction)]);
    // every parameter the attack takes, from its own column, and no other
    const expected = { none: [], fgsm: ['eps'], bim: ['eps', 'alpha', 'steps'], pgd: ['eps', 'alpha', 'steps', 'restarts', 'seed'] }[was.attack]!;
    assert.deepEqual(row.params, Object.fromEntries(expected.map((k) => [k, Number(was[k])])));
  });
  // The tables, from what was measured: the paper's ε (and α, n) → Tables 2/4; PGD at the paper's ε and transfer → beyond.
  const tableOfOld = (was: Record<string, string>) => {
    if (was.attack === 'none') return 'paper';
    if (was.surrogate !== '') return 'beyond';
    if (was.attack === 'fgsm') return was.eps === '0.3' ? 'paper' : 'other';
    if (was.attack === 'bim') return was.eps === '0.2' && was.alpha === '0.025' && was.steps === '8' ? 'paper' : 'other';
    return was.eps === '0.2' ? 'beyond' : 'other';
  };
  assert.deepEqual(rows.map((r) => r.table), old.map(tableOfOld));
  assert.deepEqual(new Set(rows.map((r) => r.table)), new Set(['paper', 'beyond', 'other']), 'the fixture exercises every table');

  appendResults(path, [clean]);
  assert.ok(readFileSync(path, 'utf8').startsWith(`#ensdef-results-format=${RESULTS_FORMAT}\n`));
  assert.deepEqual(readResults(path), [...rows, clean]);
});

test('a format 2 results.csv (no backend column) is read with backend unrecorded and rewritten as the current format on the next append', () => {
  const path = freshPath();
  const format2 = `#ensdef-results-format=2\n${RESULT_COLUMNS.filter((c) => c !== 'backend').join(',')}\nmnist,bagging,paper,none,{},,,ensemble,,,10000,0.9912,,,3.5\n`;
  writeFileSync(path, format2);
  const [old] = readResults(path);
  assert.deepEqual(old, { ...clean, backend: '' });
  appendResults(path, [clean]);
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  assert.deepEqual(lines, [`#ensdef-results-format=${RESULTS_FORMAT}`, RESULT_COLUMNS.join(','), 'mnist,bagging,paper,none,{},,,ensemble,,,10000,0.9912,,,3.5,', 'mnist,bagging,paper,none,{},,,ensemble,,,10000,0.9912,,,3.5,native']);
  // the same measurement on another backend is the same measurement: a rerun finds it
  assert.equal(measurementKey(old), measurementKey(clean));
});
