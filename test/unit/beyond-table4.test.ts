/**
 * Beyond Table 4: every run attacked with the worst-case suite, its clean accuracy and the paper's attacks
 * (Grad. 3 for an ensemble, the model's own gradient for a single model) beside each stage of the suite, with
 * 95 % intervals, '–' where no row was measured, and the CSV that says the same.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { resolveAttack } from '../../src/attacks/registry.ts';
import { datasetDescriptor } from '../../src/datasets/registry.ts';
import { wilsonInterval } from '../../src/eval/intervals.ts';
import { loadPaperResults } from '../../src/eval/paper.ts';
import { buildReport } from '../../src/eval/report.ts';
import { appendResults, resultsPath, type ResultRow } from '../../src/eval/results.ts';
import type { RunResults } from '../../src/eval/run-results.ts';
import { BEYOND_TABLE4_COLUMNS, buildBeyondTable4 } from '../../src/eval/tables.ts';
import { writeManifest } from '../../src/run/manifest.ts';
import { runManifest } from '../helpers/reliability.ts';
import { resultRow, type RowFields } from '../helpers/results.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const paper = loadPaperResults();
const mnist = datasetDescriptor('mnist');

const clean = (scored_on: 'single' | 'ensemble', accuracy: number) => resultRow({ scored_on, member: scored_on === 'single' ? '0' : '', n: 10000, accuracy });
const paperAttack = (attack: 'fgsm' | 'bim', grad: '1' | '2' | '3', accuracy: number, extra: RowFields = {}) =>
  resultRow({ attack, grad, loss: 'logits', scored_on: grad === '1' ? 'single' : 'ensemble', member: grad === '1' ? '0' : '', n: 10000, accuracy, zero_grad_fraction: 0, ...extra });
const stage = (stages: number, accuracy: number, extra: RowFields = {}) =>
  resultRow({ attack: 'worst-case', grad: '3', loss: 'logits', params: resolveAttack(mnist, 'worst-case', { stages }).params, n: 1000, accuracy, zero_grad_fraction: 0, ...extra });

/** A single-model defense (its BIM and the suite's second stage never measured) and an ensemble of the same defense. */
function runs(): RunResults[] {
  const at = (rows: ResultRow[]) => rows.map((r) => ({ ...r, method: 'adversarial-training' }));
  const bat = (rows: ResultRow[]) => rows.map((r) => ({ ...r, method: 'bagging+adversarial-training' }));
  return [
    // Appended in another order than the table's: the table keeps Table 4's.
    {
      name: 'bat',
      manifest: runManifest({ method: 'bagging+adversarial-training', members: 3 }),
      rows: bat([
        clean('ensemble', 0.98),
        paperAttack('fgsm', '2', 0.8), // the paper's Grad. 2: Table 4's, not this table's
        paperAttack('fgsm', '3', 0.7),
        paperAttack('bim', '3', 0.5),
        stage(3, 0.3),
        stage(1, 0.4),
        stage(2, 0.35),
        stage(3, 0.9, { grad: '2' }), // another gradient: in Beyond the paper only
        // Another ε (measured after the table's, so the latest of its stage): not the table's threat model.
        stage(1, 0.05, { params: resolveAttack(mnist, 'worst-case', { stages: 1, eps: 0.3 }).params }),
      ]),
    },
    {
      name: 'at',
      manifest: runManifest({ method: 'adversarial-training', members: 1 }),
      rows: at([clean('single', 0.97), paperAttack('fgsm', '1', 0.6), stage(1, 0.2, { zero_grad_fraction: 0.013 }), stage(3, 0.1)]),
    },
    // No suite rows: no row here.
    { name: 'd', manifest: runManifest({ method: 'distillation', members: 1 }), rows: [clean('single', 0.99), paperAttack('fgsm', '1', 0.1)] },
  ];
}

/** "0.970 [0.966, 0.973]" as the report writes an accuracy on n images (decimals: 4 for 10,000, 3 for 1,000). */
function accuracyText(accuracy: number, n: number): string {
  const d = n === 10000 ? 4 : 3;
  const [low, high] = wilsonInterval(accuracy, n);
  return `${accuracy.toFixed(d)} [${low.toFixed(d)}, ${high.toFixed(d)}]`;
}

describe('Beyond Table 4', () => {
  it('puts each suite run’s clean accuracy and FGSM / BIM (Grad. 3, or the model’s own) beside the suite’s stages, in Table 4’s order', () => {
    const cells = buildBeyondTable4(runs(), paper);
    assert.deepEqual([...new Set(cells.map((c) => c.run))], ['at', 'bat'], "Table 4's order (Adv. Train. before Bagging + Adv. Train.); no row for a run without the suite");
    assert.deepEqual(
      cells.filter((c) => c.run === 'at').map((c) => c.column),
      ['no_attack', 'fgsm', 'bim', 'worst_case_after_apgd-ce', 'worst_case_after_apgd-ce+apgd-dlr', 'worst_case'],
    );
    const get = (run: string, column: string) => cells.find((c) => c.run === run && c.column === column)!;
    assert.equal(get('at', 'no_attack').ours, 0.97);
    assert.equal(get('at', 'fgsm').ours, 0.6);
    assert.equal(get('at', 'fgsm').gradient, "model's own gradient");
    assert.equal(get('at', 'fgsm').n, 10000);
    assert.equal(get('at', 'bim').ours, null, 'never measured');
    assert.equal(get('at', 'worst_case_after_apgd-ce').ours, 0.2);
    assert.equal(get('at', 'worst_case_after_apgd-ce').zero_grad_fraction, 0.013);
    assert.equal(get('at', 'worst_case_after_apgd-ce+apgd-dlr').ours, null, 'never measured');
    assert.equal(get('at', 'worst_case').ours, 0.1);
    assert.equal(get('at', 'worst_case').n, 1000);
    assert.deepEqual([get('at', 'worst_case').ci_low, get('at', 'worst_case').ci_high], wilsonInterval(0.1, 1000));
    assert.equal(get('bat', 'no_attack').ours, 0.98);
    assert.equal(get('bat', 'fgsm').ours, 0.7, "the ensemble's Grad. 3, not the paper's Grad. 2");
    assert.equal(get('bat', 'fgsm').gradient, 'Grad. 3 (ensemble gradient)');
    assert.equal(get('bat', 'bim').ours, 0.5);
    assert.deepEqual(
      ['worst_case_after_apgd-ce', 'worst_case_after_apgd-ce+apgd-dlr', 'worst_case'].map((c) => get('bat', c).ours),
      [0.4, 0.35, 0.3],
      'the Grad. 3 suite, not the Grad. 2 one',
    );
    assert.ok(
      cells.every((c) => c.paper === null && c.difference === null),
      "the paper's values stay in Table 4",
    );
  });

  it('orders the paper’s defenses, then the methods beyond the paper, then Table 2’s ensembles', () => {
    const only = (name: string, method: string, members: number): RunResults => ({ name, manifest: runManifest({ method, members }), rows: [stage(3, 0.1, { method })] });
    const cells = buildBeyondTable4([only('a-ri', 'random-init', 3), only('b-pgd', 'pgd-adversarial-training', 1), only('c-epgd', 'ensemble-pgd-adversarial-training', 3), only('d-dist', 'distillation', 1), only('e-bag', 'bagging', 3)], paper);
    assert.deepEqual([...new Set(cells.map((c) => c.run))], ['e-bag', 'd-dist', 'b-pgd', 'c-epgd', 'a-ri']);
    assert.equal(cells.find((c) => c.run === 'b-pgd' && c.column === 'fgsm')!.ours, null);
  });

  it('report.md shows the table after Table 4 with n per column group, and the CSV holds the same cells', () => {
    const root = tempDir('beyond-table4');
    for (const run of runs()) {
      writeManifest(join(root, 'runs', run.name), run.manifest);
      appendResults(resultsPath(join(root, 'runs', run.name)), run.rows);
    }
    const out = join(root, 'report');
    const { files } = buildReport(join(root, 'runs'), out);
    assert.ok(files.includes('beyond-table4.csv'));
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    const section = report.slice(report.indexOf('## Beyond Table 4'), report.indexOf('## Beyond the paper'));
    assert.ok(report.indexOf('## Table 4') < report.indexOf('## Beyond Table 4'), 'right after Table 4');
    assert.match(section, /^## Beyond Table 4 — the defenses under the worst-case suite \(\[CSV\]\(beyond-table4\.csv\)\)\n\n[^\n]*Madry et al\. \(2018\)/);
    assert.match(
      section,
      /### Beyond Table 4: mnist: [^\n]* · FGSM \(ε = 0\.3, 1 step\), BIM \(ε = 0\.2, α = 0\.025, 8 steps\), Worst-case suite \(ε = 0\.2, 100 steps, 1 restart, 5,000 queries\) · loss from logits · clean, FGSM and BIM: n = 10,000 test images; suite: n = 1,000 test images\n/,
    );
    const lines = section.split('\n').filter((l) => l.startsWith('| '));
    assert.deepEqual(lines[0], '| Defense | No Attack | FGSM (Grad. 3 or own) | BIM (Grad. 3 or own) | APGD-CE | + APGD-DLR | Worst case (+ Square) |');
    assert.deepEqual(lines.slice(1), [
      `| Adv. Train. | ${accuracyText(0.97, 10000)} | ${accuracyText(0.6, 10000)} | – | ${accuracyText(0.2, 1000)}; zero grad. 1.3 % | – | ${accuracyText(0.1, 1000)} |`,
      `| Bagging + Adv. Train. | ${accuracyText(0.98, 10000)} | ${accuracyText(0.7, 10000)} | ${accuracyText(0.5, 10000)} | ${accuracyText(0.4, 1000)} | ${accuracyText(0.35, 1000)} | ${accuracyText(0.3, 1000)} |`,
    ]);
    assert.equal(accuracyText(0.1, 1000), '0.100 [0.083, 0.120]');

    // The CSV round-trips: every cell, in order, its numbers to 6 decimals, '' for none, the attack's parameters as JSON.
    const cells = buildBeyondTable4(runs(), paper);
    const csv = parse(readFileSync(join(out, 'beyond-table4.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    assert.equal(csv.length, cells.length);
    assert.equal(csv.length, 2 * BEYOND_TABLE4_COLUMNS.length);
    const number = (text: string) => (text === '' ? null : Number(text));
    csv.forEach((r, i) => {
      const c = cells[i];
      assert.deepEqual([r.dataset, r.attack, r.method, r.loss, r.column, r.gradient, r.run], [c.dataset, c.attack, c.method, c.loss, c.column, c.gradient, c.run]);
      assert.deepEqual(r.params === '' ? null : JSON.parse(r.params), c.params);
      for (const key of ['ours', 'ci_low', 'ci_high', 'paper', 'difference', 'n', 'zero_grad_fraction'] as const) {
        const value = c[key];
        assert.equal(number(r[key]), value === null ? null : Number(value.toFixed(6)), `${c.run} ${c.column} ${key}`);
      }
    });
  });

  it('says how to get the suite’s rows when no run has them', () => {
    const root = tempDir('beyond-table4-none');
    writeManifest(join(root, 'runs', 'b'), runManifest({ method: 'bagging', members: 2 }));
    appendResults(resultsPath(join(root, 'runs', 'b')), [clean('ensemble', 0.99), paperAttack('fgsm', '3', 0.2)]);
    buildReport(join(root, 'runs'), join(root, 'report'));
    const report = readFileSync(join(root, 'report', 'report.md'), 'utf8');
    assert.match(report, /## Beyond Table 4[^\n]*\n\n[^\n]*\n\n_No run has worst-case-suite rows yet: attack a run with `ensdef attack --run R --suite worst-case --grad 3`/);
    assert.deepEqual(parse(readFileSync(join(root, 'report', 'beyond-table4.csv'), 'utf8'), { columns: true }), [], 'the header only');
  });
});
