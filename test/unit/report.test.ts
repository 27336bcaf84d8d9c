import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { runManifest } from '../helpers/reliability.ts';
import { UserError } from '../../src/errors.ts';
import { buildReport } from '../../src/eval/report.ts';
import { appendResults, resultsPath, type ResultRow } from '../../src/eval/results.ts';
import { maskingFlags, sweeps } from '../../src/eval/masking.ts';
import { buildBeyondTable, buildTable2, buildTable4 } from '../../src/eval/tables.ts';
import { resultRow, type RowFields } from '../helpers/results.ts';
import { loadPaperResults, paperName } from '../../src/eval/paper.ts';
import type { RunResults } from '../../src/eval/run-results.ts';
import { writeManifest, type Manifest } from '../../src/run/manifest.ts';

function manifest(method: string, members: number, status: Manifest['status'] = 'complete'): Manifest {
  return runManifest({ method, members, status });
}

function row(fields: RowFields): ResultRow {
  return resultRow(fields);
}

const fgsm = (grad: '1' | '2' | '3', scored_on: 'single' | 'ensemble', accuracy: number, extra: RowFields = {}) =>
  row({ attack: 'fgsm', grad, loss: 'logits', eps: 0.3, scored_on, member: grad === '1' ? '0' : '', accuracy, zero_grad_fraction: 0, ...extra });

const paper = loadPaperResults();

/** A chart's title: its bold lines (wrapped to the chart's width) joined again. */
const boldTitle = (svg: string) => [...svg.matchAll(/font-weight="bold">([^<]*)</g)].map((m) => m[1]).join(' ');

describe('report tables', () => {
  it('Table 2 puts the paper value and the difference beside ours, and keeps the paper setting only', () => {
    const runs: RunResults[] = [
      {
        name: 'b',
        manifest: manifest('bagging', 2),
        rows: [
          row({ scored_on: 'single', member: '0', accuracy: 0.98 }),
          row({ scored_on: 'ensemble', accuracy: 0.99 }),
          fgsm('1', 'single', 0.2),
          fgsm('1', 'ensemble', 0.4),
          fgsm('2', 'ensemble', 0.11, { eps: 0.1 }), // a sweep point, not the paper's ε
          fgsm('2', 'ensemble', 0.3),
          fgsm('2', 'ensemble', 0.9, { n: 100 }), // a later sweep point on fewer images
          fgsm('3', 'ensemble', 0.2),
          fgsm('3', 'ensemble', 0.25), // remeasured: the latest of equal size wins
        ],
      },
    ];
    const cells = buildTable2(runs, paper).filter((c) => c.attack === 'fgsm' && c.loss === 'logits');
    const get = (column: string) => cells.find((c) => c.column === column)!;
    assert.equal(get('no_attack_single').ours, 0.98);
    assert.equal(get('no_attack_single').paper, 0.99); // paper: MNIST bagging single 0.9900
    assert.equal(get('grad2_ensemble').ours, 0.3);
    assert.equal(get('grad2_ensemble').paper, 0.5716);
    assert.ok(Math.abs(get('grad2_ensemble').difference! - (0.3 - 0.5716)) < 1e-12);
    assert.equal(get('grad3_ensemble').paper, null, 'Grad. 3 is ours; the paper has no such column');
    assert.equal(get('grad1_ensemble').gradient, 'Grad. 1 (member 0)');
    assert.equal(cells.find((c) => c.attack === 'bim')?.ours ?? null, null);
  });

  it('Table 4 attacks ensembles with Grad. 2 and single models with their own gradient', () => {
    const runs: RunResults[] = [
      { name: 'at', manifest: manifest('adversarial-training', 1), rows: [row({ scored_on: 'single', member: '0', accuracy: 0.97 }), fgsm('1', 'single', 0.6), fgsm('2', 'ensemble', 0.01)] },
      { name: 'bat', manifest: manifest('bagging+adversarial-training', 2), rows: [row({ accuracy: 0.98 }), fgsm('1', 'ensemble', 0.02), fgsm('2', 'ensemble', 0.8), fgsm('3', 'ensemble', 0.7)] },
    ];
    const cells = buildTable4(runs, paper);
    const at = (column: string) => cells.find((c) => c.run === 'at' && c.column === column)!;
    const bat = (column: string) => cells.find((c) => c.run === 'bat' && c.column === column)!;
    assert.equal(at('no_attack').ours, 0.97);
    assert.equal(at('fgsm').ours, 0.6);
    assert.equal(at('fgsm').paper, 0.3586);
    assert.equal(bat('no_attack').ours, 0.98);
    assert.equal(bat('fgsm').ours, 0.8);
    assert.equal(bat('fgsm').paper, 0.8703);
    assert.equal(bat('fgsm_grad3').ours, 0.7);
  });

  it('the beyond-the-paper table does not depend on the order rows were appended (concurrent jobs)', () => {
    const transfer = (grad: '2' | '3', accuracy: number) => row({ attack: 'bim', grad, loss: 'logits', eps: 0.2, alpha: 0.025, steps: 8, surrogate: 'mnist-surrogate', accuracy, zero_grad_fraction: 0 });
    const pgd = row({ attack: 'pgd', grad: '3', loss: 'logits', accuracy: 0.1, zero_grad_fraction: 0 });
    const rows = [transfer('2', 0.18), transfer('3', 0.2), pgd];
    const table = (order: ResultRow[]) => buildBeyondTable([{ name: 'b', manifest: manifest('bagging', 2), rows: order }], paper);
    const forward = table(rows);
    assert.equal(forward.length, 3);
    assert.deepEqual(table([...rows].reverse()), forward);
    assert.deepEqual(table([rows[1]!, rows[2]!, rows[0]!]), forward);
  });

  it('flags accuracy that rises with ε, stays high at large ε, or rises with more iterations', () => {
    const sweep = (eps: number, accuracy: number) => fgsm('2', 'ensemble', accuracy, { eps });
    const bim = (steps: number, accuracy: number) => row({ attack: 'bim', grad: '3', loss: 'logits', eps: 0.2, alpha: 0.025, steps, accuracy, zero_grad_fraction: 0 });
    const honest: RunResults = { name: 'honest', manifest: manifest('bagging', 2), rows: [sweep(0.1, 0.5), sweep(0.3, 0.1), sweep(0.5, 0.01), bim(8, 0.2), bim(16, 0.15)] };
    assert.deepEqual(maskingFlags([honest]), []);
    const masked: RunResults = { name: 'masked', manifest: manifest('bagging', 2), rows: [sweep(0.1, 0.5), sweep(0.3, 0.7), sweep(0.5, 0.6), bim(8, 0.2), bim(16, 0.4)] };
    const reasons = maskingFlags([masked]).map((f) => f.reason);
    assert.ok(reasons.some((r) => /rises from 0.5000 at ε=0.1 to 0.7000 at ε=0.3/.test(r)), reasons.join('\n'));
    assert.ok(reasons.some((r) => /0.6000 at ε=0.5 does not fall towards 0/.test(r)));
    assert.ok(reasons.some((r) => /n=8 to 0.4000 at n=16/.test(r)));
  });

  it('flags a sweep that plateaus at the fraction of examples with an exactly zero gradient', () => {
    const clipped = (eps: number, accuracy: number) => fgsm('2', 'ensemble', accuracy, { eps, loss: 'clipped-probs', zero_grad_fraction: 0.033 });
    const plateau: RunResults = { name: 'p', manifest: manifest('bagging', 2), rows: [clipped(0.1, 0.5), clipped(0.3, 0.033), clipped(0.5, 0.033)] };
    const reasons = maskingFlags([plateau]).map((f) => f.reason);
    assert.ok(reasons.some((r) => /stops falling at 0.0330 \(ε=0.3→0.5\) while 3.3% of examples have an exactly zero input gradient/.test(r)), reasons.join('\n'));
    const falling: RunResults = { name: 'f', manifest: manifest('bagging', 2), rows: [clipped(0.1, 0.5), clipped(0.3, 0.05), clipped(0.5, 0.034)] };
    assert.deepEqual(maskingFlags([falling]), []);
  });
});

describe('gradient-free against gradient attacks', () => {
  const at = (attack: string, accuracy: number, extra: RowFields = {}) => row({ attack, grad: attack === 'square' ? '' : '3', loss: attack === 'square' ? '' : 'logits', accuracy, zero_grad_fraction: 0, n: 1000, ...extra });

  it('flags Square doing better than every gradient attack on the same model, ε and images, with both numbers', () => {
    const masked: RunResults = { name: 'd', manifest: manifest('distillation', 1), rows: [at('bim', 0.9), at('apgd-ce', 0.85), at('square', 0.2)] };
    const flags = maskingFlags([masked]);
    assert.equal(flags.length, 1);
    assert.match(flags[0].reason, /gradient-free SQUARE leaves 0\.2000 at ε=0\.2, below the best gradient attack's 0\.8500 \(APGD-CE Grad\. 3/);
  });

  it("compares Square on a single model's run with the gradient attacks scored on it, whatever member's gradient they name", () => {
    // A one-model run: Grad. 1 rows name member 0, Square (no gradient) none; both are scored on the run's model.
    const single: RunResults = { name: 's', manifest: manifest('distillation', 1), rows: [at('bim', 0.9, { grad: '1', member: '0' }), at('square', 0.2)] };
    assert.equal(maskingFlags([single]).length, 1);
    const otherMember: RunResults = { name: 'm', manifest: manifest('bagging', 2), rows: [at('bim', 0.9, { grad: '1', member: '1', scored_on: 'single' }), at('square', 0.2, { scored_on: 'single', member: '0' })] };
    assert.deepEqual(maskingFlags([otherMember]), []);
  });

  it('does not flag Square when a gradient attack does as well, or when the images or ε differ', () => {
    const honest: RunResults = { name: 'h', manifest: manifest('bagging', 2), rows: [at('bim', 0.1), at('square', 0.12)] };
    assert.deepEqual(maskingFlags([honest]), []);
    const otherImages: RunResults = { name: 'o', manifest: manifest('bagging', 2), rows: [at('bim', 0.9, { n: 200 }), at('square', 0.2)] };
    assert.deepEqual(maskingFlags([otherImages]), []);
    const otherEps: RunResults = { name: 'e', manifest: manifest('bagging', 2), rows: [at('bim', 0.9, { eps: 0.1 }), at('square', 0.2)] };
    assert.deepEqual(maskingFlags([otherEps]), []);
  });
});

describe('sweeps', () => {
  const bim = (eps: number, steps: number, accuracy: number) => row({ attack: 'bim', grad: '2', loss: 'logits', eps, alpha: 0.025, steps, accuracy, zero_grad_fraction: 0 });
  const pgd = (eps: number, alphaOverEps: number, accuracy: number) =>
    row({ attack: 'pgd', grad: '2', loss: 'logits', eps, alpha: eps * alphaOverEps, steps: 8, restarts: 5, seed: 0, accuracy, zero_grad_fraction: 0 });
  const rows = [
    ...[[0.1, 0.6], [0.2, 0.3], [0.3, 0.1]].map(([eps, a]) => row({ attack: 'bim', grad: '2', loss: 'logits', eps, alpha: eps / 8, steps: 8, accuracy: a, zero_grad_fraction: 0 })),
    bim(0.2, 32, 0.01), // an iteration-sweep point at ε = .2
    ...[[0.1, 0.5], [0.2, 0.2], [0.3, 0.05]].map(([eps, a]) => pgd(eps, 1 / 8, a)),
    ...[[0.1, 0.4], [0.2, 0.1], [0.3, 0.0]].map(([eps, a]) => pgd(eps, 2.5 / 8, a)),
  ];

  it('an ε sweep keeps one schedule: n and α/ε', () => {
    const groups = sweeps(rows, 'eps');
    assert.deepEqual(
      groups.map((g) => [g[0].attack, g[0].params.alpha / g[0].params.eps, g.map((r) => r.accuracy)]),
      [
        ['bim', 1 / 8, [0.6, 0.3, 0.1]],
        ['pgd', 1 / 8, [0.5, 0.2, 0.05]],
        ['pgd', 2.5 / 8, [0.4, 0.1, 0.0]],
      ],
    );
  });

  it('an iteration sweep groups step counts at one ε', () => {
    assert.deepEqual(sweeps(rows, 'steps').map((g) => g.map((r) => [r.attack, r.params.steps, r.accuracy])), [[['bim', 8, 0.3], ['bim', 32, 0.01]]]);
  });
});

describe('ensdef report files', () => {
  function runsDir(): string {
    const root = mkdtempSync(join(tmpdir(), 'ensdef-report-'));
    const dir = join(root, 'runs', 'b');
    writeManifest(dir, manifest('bagging', 2));
    appendResults(resultsPath(dir), [row({ scored_on: 'single', member: '0', accuracy: 0.98 }), row({ accuracy: 0.99 }), fgsm('2', 'ensemble', 0.3), fgsm('2', 'ensemble', 0.2, { eps: 0.1 }), fgsm('2', 'ensemble', 0.05, { eps: 0.5 })]);
    const failed = { ...manifest('random-init', 2, 'failed'), failure: 'member 1: training loss became NaN' };
    writeManifest(join(root, 'runs', 'f'), failed);
    return root;
  }

  it('writes CSV + Markdown tables, figures and report.md; rerunning gives identical files', () => {
    const root = runsDir();
    const out = join(root, 'report');
    const first = buildReport(join(root, 'runs'), out);
    const snapshot = Object.fromEntries(first.files.map((f) => [f, readFileSync(join(out, f), 'utf8')]));
    const table2 = parse(snapshot['table2.csv'], { columns: true }) as Record<string, string>[];
    const grad2 = table2.find((r) => r.attack === 'fgsm' && r.column === 'grad2_ensemble')!;
    assert.equal(Number(grad2.ours), 0.3);
    assert.equal(Number(grad2.paper), 0.5716);
    assert.match(snapshot['report.md'], /\*\*failed\*\*: member 1: training loss became NaN/);
    assert.ok(first.files.some((f) => f.startsWith('figures/eps-sweep-b-logits')));
    assert.ok(first.files.some((f) => f.startsWith('figures/figure2-mnist-fgsm-logits')));
    const second = buildReport(join(root, 'runs'), out);
    for (const f of second.files) assert.equal(readFileSync(join(out, f), 'utf8'), snapshot[f], f);
  });

  it("Figure 2 and the Table 4 figure draw the CSV's values, ours solid and the paper's hatched, and Table 4 links its figure", () => {
    const root = runsDir();
    const out = join(root, 'report');
    const { files } = buildReport(join(root, 'runs'), out);
    const barTitles = (svg: string, kind: 'ours' | 'paper') => [...svg.matchAll(new RegExp(`<rect class="bar ${kind}"[^>]*><title>([^<]*)</title>`, 'g'))].map((m) => m[1]);
    const figures: [string, string, (r: Record<string, string>) => boolean, RegExp][] = [
      ['table2.csv', 'figures/figure2-mnist-fgsm-logits.svg', (r) => r.attack === 'fgsm', /Figure 2 \(mnist\): FGSM \(ε = 0\.3, 1 step\), loss from logits, n = 1,000 test images/],
      ['table4.csv', 'figures/table4-mnist-logits.svg', () => true, /Table 4 as bars \(mnist\): FGSM \(ε = 0\.3, 1 step\), loss from logits/],
    ];
    for (const [csv, figure, select, title] of figures) {
      assert.ok(files.includes(figure), figure);
      const cells = (parse(readFileSync(join(out, csv), 'utf8'), { columns: true }) as Record<string, string>[]).filter((r) => r.dataset === 'mnist' && r.loss === 'logits' && select(r));
      const svg = readFileSync(join(out, figure), 'utf8');
      assert.match(boldTitle(svg), title);
      const ours = barTitles(svg, 'ours');
      const paperBars = barTitles(svg, 'paper');
      assert.equal(ours.length, cells.filter((r) => r.ours !== '').length, `${figure}: one bar of ours per measured cell`);
      assert.equal(paperBars.length, cells.filter((r) => r.paper !== '').length, `${figure}: one paper bar per paper value`);
      assert.ok(paperBars.length > 0 && ours.length > 0);
      for (const r of cells.filter((r) => r.paper !== '')) {
        assert.ok(paperBars.some((t) => t.startsWith(`${paperName(r.method)}, `) && t.endsWith(`, paper (2017): ${Number(r.paper).toFixed(4)}`)), `${figure}: ${r.column} paper ${r.paper}`);
      }
      assert.match(svg, /<rect class="bar paper"[^>]*fill="url\(#hatch-\d+\)"/);
    }
    assert.ok(barTitles(readFileSync(join(out, 'figures/figure2-mnist-fgsm-logits.svg'), 'utf8'), 'ours').includes('Bagging, Grad. 2 Ensemble, ours: 0.300'));
    const link = '](figures/table4-mnist-logits.svg)';
    assert.ok(readFileSync(join(out, 'table4.md'), 'utf8').includes(link));
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    const table4Section = report.slice(report.indexOf('## Table 4'), report.indexOf('## Beyond the paper'));
    assert.ok(table4Section.includes(link), 'the Table 4 figure sits in the Table 4 section');
  });

  it('two runs of one method get a row each in the Markdown tables, named by run', () => {
    const root = mkdtempSync(join(tmpdir(), 'ensdef-report-'));
    for (const [name, accuracy] of [['sigma-a', 0.123], ['sigma-b', 0.456]] as const) {
      const dir = join(root, 'runs', name);
      writeManifest(dir, manifest('gaussian-noise', 2));
      appendResults(resultsPath(dir), [row({ method: 'gaussian-noise', accuracy: 0.99 }), fgsm('2', 'ensemble', accuracy, { method: 'gaussian-noise' })]);
    }
    const out = join(root, 'report');
    buildReport(join(root, 'runs'), out);
    const table2 = readFileSync(join(out, 'table2.md'), 'utf8');
    assert.match(table2, /\| FGSM \| Gauss Noise \(sigma-a\) \|[^\n]*0\.123 /);
    assert.match(table2, /\| FGSM \| Gauss Noise \(sigma-b\) \|[^\n]*0\.456 /);
  });

  it('names the data of every run: its label, verified or not, a fingerprint of its files; tables say what they ran on', () => {
    const root = mkdtempSync(join(tmpdir(), 'ensdef-report-'));
    const files = [
      { name: 'data_batch_1.bin', bytes: 3, sha256: 'a'.repeat(64) },
      { name: 'test_batch.bin', bytes: 3, sha256: 'b'.repeat(64) },
    ];
    const standIn = { source: '/data/x', label: 'CIFAR-10 stand-in (test)', verified: false, check: 'a known copy, not the official files', files };
    const verified = { source: '/data/y', label: 'MNIST', verified: true, check: 'sha256 of the official .gz files', files: [{ name: 'f', bytes: 1, sha256: 'c'.repeat(64) }] };
    const cifarManifest = { ...manifest('bagging', 2), data: standIn };
    cifarManifest.config = { ...cifarManifest.config, dataset: 'cifar10' };
    const runs: [string, Manifest][] = [['c1', cifarManifest], ['c2', cifarManifest], ['m', { ...manifest('bagging', 2), data: verified }], ['old', manifest('random-init', 2)]];
    for (const [name, m] of runs) {
      writeManifest(join(root, 'runs', name), m);
      appendResults(resultsPath(join(root, 'runs', name)), [row({ dataset: m.config.dataset, accuracy: 0.9 }), fgsm('2', 'ensemble', 0.3, { dataset: m.config.dataset })]);
    }
    buildReport(join(root, 'runs'), join(root, 'report'));
    const report = readFileSync(join(root, 'report', 'report.md'), 'utf8');
    const fingerprint = createHash('sha256').update(files.map((f) => `${f.name} ${f.sha256}`).sort().join('\n')).digest('hex').slice(0, 12);
    assert.match(report, new RegExp(`- \\*\\*CIFAR-10 stand-in \\(test\\)\\*\\* — \\*\\*not verified\\*\\* [^\\n]*\`${fingerprint}\`[^\\n]*: c1, c2\\n`));
    assert.match(report, /- \*\*MNIST\*\* — verified \(sha256 of the official \.gz files\)[^\n]*: m\n/);
    assert.match(report, /- data not recorded [^\n]*: old/);
    const table2 = readFileSync(join(root, 'report', 'table2.md'), 'utf8');
    assert.match(table2, /### Table 2: cifar10: CIFAR-10 stand-in \(test\), unverified · /);
    assert.match(table2, /### Table 2: mnist: MNIST, verified \+ data not recorded \(run trained before ensdef recorded it\) · FGSM/);
    const figure = readFileSync(join(root, 'report', 'figures', 'figure2-cifar10-fgsm-logits.svg'), 'utf8');
    assert.match(figure, />cifar10: CIFAR-10 stand-in \(test\), unverified</);
  });

  it('refuses to write into a directory that is not an ensdef report unless forced', () => {
    const root = runsDir();
    const out = join(root, 'elsewhere');
    mkdirSync(out);
    writeFileSync(join(out, 'thesis.tex'), 'precious');
    assert.throws(() => buildReport(join(root, 'runs'), out), (e: unknown) => e instanceof UserError && /--force/.test(e.message));
    buildReport(join(root, 'runs'), out, { force: true });
    assert.equal(readFileSync(join(out, 'thesis.tex'), 'utf8'), 'precious');
  });
});
