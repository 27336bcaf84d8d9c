/**
 * The report reads like the paper: Tables 2 and 4 in the paper's row and column order
 * (configs/paper-results.json), every heading with the attack's ε and steps and the number of test images,
 * figures laid out without overlapping text, and report.html holding every table and figure of report.md.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { resolveAttack } from '../../src/attacks/registry.ts';
import { datasetDescriptor } from '../../src/datasets/registry.ts';
import { loadPaperResults, paperName } from '../../src/eval/paper.ts';
import { buildReport } from '../../src/eval/report.ts';
import { appendResults, resultsPath, type ResultRow } from '../../src/eval/results.ts';
import { lineChart, pairedBarChart } from '../../src/eval/svg.ts';
import { METHODS } from '../../src/training/methods.ts';
import { writeManifest } from '../../src/run/manifest.ts';
import { runManifest } from '../helpers/reliability.ts';
import { resultRow, type RowFields } from '../helpers/results.ts';
import { assertNoOverlap } from '../helpers/svg-layout.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const paper = loadPaperResults();
const mnist = datasetDescriptor('mnist');

/** Markdown tables of a file: header and rows, split on unescaped pipes. */
function tables(markdown: string): { heading: string; header: string[]; rows: string[][] }[] {
  const lines = markdown.split('\n');
  const found: { heading: string; header: string[]; rows: string[][] }[] = [];
  const cells = (line: string) => line.slice(2, -2).split(/(?<!\\) \| /);
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith('#')) heading = lines[i];
    if (!/^\|(---\|)+$/.test(lines[i + 1] ?? '')) continue;
    const rows: string[][] = [];
    for (let j = i + 2; j < lines.length && lines[j].startsWith('| '); j++) rows.push(cells(lines[j]));
    found.push({ heading, header: cells(lines[i]), rows });
  }
  return found;
}

/** The paper's column keys as it heads them: no_attack_single → "No Attack Single", grad1_ensemble → "Grad. 1 Ensemble". */
const paperHead = (key: string) =>
  key
    .replace(/^no_attack/, 'No Attack')
    .replace(/^grad(\d)/, 'Grad. $1')
    .replace('_single', ' Single')
    .replace('_ensemble', ' Ensemble')
    .replace(/^(fgsm|bim)$/, (a) => a.toUpperCase());

/**
 * Every training method of Tables 2 and 4 as a run named so that alphabetical order is not the paper's;
 * clean rows and the paper's attacks with Grad. 1, 2, 3, in both loss forms, appended BIM first.
 */
function paperRuns(root: string): void {
  const names = ['zz', 'yy', 'xx', 'ww', 'vv', 'uu', 'tt', 'ss'];
  METHODS.filter((m) => m.paperRows.table2 || m.paperRows.table4).forEach((method, i) => {
    const members = method.size === 'single' || method.name === 'adversarial-training' || method.name === 'distillation' ? 1 : 3;
    const dir = join(root, `${names[i]}-${method.name.replace('+', '-and-')}`);
    writeManifest(dir, runManifest({ method: method.name, members }));
    const row = (fields: RowFields): ResultRow => resultRow({ method: method.name, n: 1000, ...fields });
    const rows: ResultRow[] = [row({ scored_on: 'single', member: '0', accuracy: 0.98 }), row({ scored_on: 'ensemble', accuracy: 0.99 })];
    for (const loss of ['clipped-probs', 'logits'] as const) {
      for (const attack of ['bim', 'fgsm']) {
        const extra = { attack, loss, zero_grad_fraction: loss === 'clipped-probs' && method.name === 'distillation' ? 0.097 : 0 };
        rows.push(row({ ...extra, grad: '1', scored_on: 'single', member: '0', accuracy: 0.1 }), row({ ...extra, grad: '1', scored_on: 'ensemble', member: '0', accuracy: 0.3 }));
        if (members > 1) rows.push(row({ ...extra, grad: '2', accuracy: 0.2 }), row({ ...extra, grad: '3', accuracy: 0.2 }));
      }
    }
    appendResults(resultsPath(dir), rows);
  });
}

describe('the report in the paper’s order and words', () => {
  const root = tempDir('report-layout');
  const out = join(root, 'report');
  let report = '';
  before(() => {
    paperRuns(join(root, 'runs'));
    buildReport(join(root, 'runs'), out);
    report = readFileSync(join(out, 'report.md'), 'utf8');
  });

  it("Table 2: the paper's column heads then ours, FGSM block then BIM block, methods in the paper's order, logits first", () => {
    const found = tables(readFileSync(join(out, 'table2.md'), 'utf8'));
    assert.equal(found.length, 2, 'one table per loss form');
    assert.match(found[0].heading, /loss from logits/);
    assert.match(found[1].heading, /loss form clipped-probs/);
    const paperColumns = Object.keys(paper.table2[0]).filter((k) => !['dataset', 'attack', 'method'].includes(k));
    const expectedRows = paper.table2.filter((r) => r.dataset === 'mnist').map((r) => [r.attack.toUpperCase(), paperName(r.method)]);
    for (const table of found) {
      assert.deepEqual(table.header, ['Type', 'Method', ...paperColumns.map(paperHead), 'Grad. 3 Ensemble (ours)']);
      assert.deepEqual(table.rows.map((r) => r.slice(0, 2)), expectedRows);
    }
    assert.deepEqual(expectedRows.slice(0, 4).map((r) => r[1]), ['Rand. Ini.', 'Mix. Mod.', 'Bagging', 'Gauss Noise'], "the paper's names");
  });

  it("Table 4: the paper's defenses in its order, its columns then ours; single models have no Grad. 3 cell or bar", () => {
    const found = tables(readFileSync(join(out, 'table4.md'), 'utf8'));
    assert.equal(found.length, 2);
    const paperColumns = Object.keys(paper.table4[0]).filter((k) => !['dataset', 'defense'].includes(k));
    const expected = paper.table4.filter((r) => r.dataset === 'mnist').map((r) => paperName(r.defense));
    assert.deepEqual(expected, ['Bagging', 'Adv. Train.', 'Def. Dist.', 'Bagging + Adv. Train.', 'Bagging + Def. Dist.']);
    for (const table of found) {
      assert.deepEqual(table.header, ['Defense', ...paperColumns.map(paperHead), 'FGSM Grad. 3 (ours)', 'BIM Grad. 3 (ours)']);
      assert.deepEqual(table.rows.map((r) => r[0]), expected);
      for (const single of ['Adv. Train.', 'Def. Dist.']) assert.deepEqual(table.rows.find((r) => r[0] === single)!.slice(4), ['–', '–'], single);
    }
    const bars = readFileSync(join(out, 'figures', 'table4-mnist-logits.svg'), 'utf8');
    assert.ok(!/<title>(Adv\. Train\.|Def\. Dist\.), (FGSM|BIM) Grad\. 3/.test(bars), 'a single model got a Grad. 3 bar');
    assert.match(bars, /<title>Bagging \+ Adv\. Train\., FGSM Grad\. 3 \(ours\), ours: 0\.200<\/title>/);
  });

  it('every table heading states the data, each attack with ε and steps (and BIM’s α), the loss form and n', () => {
    const headings = tables(report)
      .map((t) => t.heading)
      .filter((h) => /^### Table [24]/.test(h));
    assert.equal(headings.length, 4);
    const { fgsm, bim } = mnist.paperAttacks;
    for (const heading of headings) {
      assert.ok(heading.includes(`FGSM (ε = ${fgsm.eps}, 1 step)`), heading);
      assert.ok(heading.includes(`BIM (ε = ${bim.eps}, α = ${bim.alpha}, ${bim.steps} steps)`), heading);
      assert.match(heading, /loss (from logits|form clipped-probs)/);
      assert.ok(heading.includes('n = 1,000 test images'), heading);
      assert.ok(heading.includes('mnist: '), heading);
    }
  });

  it('cells carry decimals that fit n, a 95 % interval, the paper value and difference, and a non-zero zero-gradient share', () => {
    const table4 = tables(readFileSync(join(out, 'table4.md'), 'utf8'));
    const dist = table4[1].rows.find((r) => r[0] === 'Def. Dist.')!;
    // 0.1 on 1,000 images: Wilson [0.083, 0.120]; the paper's MNIST Def. Dist. FGSM 0.0798.
    assert.equal(dist[2], '0.100 [0.083, 0.120]; paper 0.0798, +0.020; zero grad. 9.7 %');
    assert.ok(!table4[0].rows.some((r) => r.join(' ').includes('zero grad.')), 'a zero share is not printed');
  });

  it('report.html holds every table and figure of report.md, inline, and fetches nothing', () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    const figures = [...report.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
    assert.ok(figures.length >= 6, `${figures.length} figures`);
    for (const path of figures) {
      const at = html.indexOf(`<figure data-path="${path}">`);
      assert.ok(at >= 0, `${path} not in report.html`);
      assert.match(html.slice(at, at + 200), /<figure data-path="[^"]*">\n(<svg |<img [^>]*src="data:image\/png;base64,)/, `${path} not inline`);
    }
    assert.equal((html.match(/<table>/g) ?? []).length, tables(report).length);
    for (const table of tables(report)) for (const row of table.rows) assert.ok(html.includes(`<td>${row[0].replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\\\|/g, '|')}</td>`), row[0]);
    assert.ok(!/(src|href)="(https?:)?\/\//.test(html), 'a network reference');
  });
});

describe('the beyond-the-paper table', () => {
  it('names each attack with its budget; the worst-case suite’s stages in order, then its result, whatever the append order', () => {
    const stage = (stages: number, accuracy: number) =>
      resultRow({ attack: 'worst-case', grad: '3', loss: 'logits', params: resolveAttack(mnist, 'worst-case', { steps: 100, restarts: 1, queries: 1000, stages }).params, n: 200, accuracy, zero_grad_fraction: 0 });
    const square = resultRow({ attack: 'square', params: resolveAttack(mnist, 'square', { queries: 5000 }).params, n: 200, accuracy: 0.3 });
    const root = tempDir('report-beyond');
    const dir = join(root, 'runs', 'b');
    writeManifest(dir, runManifest({ method: 'bagging', members: 3 }));
    appendResults(resultsPath(dir), [resultRow({ accuracy: 0.99 }), stage(3, 0.1), square, stage(1, 0.2), stage(2, 0.1)]);
    buildReport(join(root, 'runs'), join(root, 'report'));
    const table = tables(readFileSync(join(root, 'report', 'report.md'), 'utf8')).find((t) => t.heading.startsWith('### Beyond the paper'))!;
    assert.deepEqual(
      table.rows.map((r) => r[1]),
      [
        'Square (ε = 0.2, 5,000 queries)',
        'Worst-case suite (ε = 0.2), stage 1: APGD-CE (100 steps, 1 restart)',
        'Worst-case suite (ε = 0.2), stage 2: + APGD-DLR (100 steps, 1 restart)',
        'Worst-case suite (ε = 0.2), result (stage 3: + Square (1,000 queries))',
      ],
    );
  });
});

describe('sweeps', () => {
  const eps = [0.005, 0.01, 0.02, 0.03, 0.05, 0.1];
  function sweepReport(cleanN: number): { report: string; svg: string } {
    const root = tempDir('report-sweep');
    const dir = join(root, 'runs', 'b');
    writeManifest(dir, runManifest({ method: 'bagging', members: 3 }));
    const point = (e: number, accuracy: number) => resultRow({ attack: 'bim', grad: '2', loss: 'logits', params: resolveAttack(mnist, 'bim', { eps: e, alpha: e / 8 }).params, n: 300, accuracy, zero_grad_fraction: 0 });
    appendResults(resultsPath(dir), [resultRow({ accuracy: 0.99, n: 1000 }), ...(cleanN === 1000 ? [] : [resultRow({ accuracy: 0.42, n: cleanN })]), ...eps.map((e, i) => point(e, 0.4 - i * 0.06))]);
    buildReport(join(root, 'runs'), join(root, 'report'));
    return { report: readFileSync(join(root, 'report', 'report.md'), 'utf8'), svg: readFileSync(join(root, 'report', 'figures', 'eps-sweep-b-logits.svg'), 'utf8') };
  }
  const firstX = (svg: string) => Math.min(...[...svg.matchAll(/<circle cx="([^"]*)"/g)].map((m) => Number(m[1])));

  it('an ε sweep is a table beside its figure; ε = 0 is a clean row on the same n images, or absent', () => {
    const without = sweepReport(1000);
    const table = tables(without.report).find((t) => t.heading.includes('against ε'))!;
    assert.deepEqual(table.header, ['Attack', ...eps.map((e) => `ε = ${e}`)], 'no ε = 0 from a clean row on other images');
    assert.equal(table.rows[0][0], 'BIM Grad. 2 (8 steps, α = ε/8)');
    assert.match(table.heading, /n = 300 test images/);
    assert.match(without.report, /No clean accuracy on these 300 images was measured/);
    const withClean = sweepReport(300);
    const cleanTable = tables(withClean.report).find((t) => t.heading.includes('against ε'))!;
    assert.equal(cleanTable.header[1], 'ε = 0 (clean)');
    assert.match(cleanTable.rows[0][1], /^0\.420 /);
    assert.ok(firstX(withClean.svg) < firstX(without.svg), 'the curve starts at ε = 0 only with the clean row on its images');
  });
});

describe('figure layout', () => {
  it('a bar chart with ties and long names: every label inside the figure, none over another', () => {
    const groups = ['Bagging + Def. Dist. (gaussian-noise-sigma-0.3)', 'Bagging + Adv. Train.', 'Bagging', 'Bagging + Def. Dist. (gaussian-noise-sigma-0.1)'];
    const tie = [0.3333, 0.3333, 0.3333, 0.3333];
    const svg = pairedBarChart(
      'Figure 2 (mnist): FGSM (ε = 0.3, 1 step), BIM (ε = 0.2, α = 0.025, 8 steps), loss from logits, n = 10,000 test images\nmnist: MNIST, verified',
      groups,
      ['No Attack Single', 'No Attack Ensemble', 'Grad. 1 Single', 'Grad. 1 Ensemble', 'Grad. 2 Ensemble', 'Grad. 3 Ensemble (ours)'].map((name) => ({ name, ours: tie, paper: [1, 1, 0.9999, 0] })),
      { decimals: 4 },
    );
    assert.equal(svg.match(/>0\.3333</g)?.length, 24, 'every tied bar labelled');
    assert.ok(groups.every((g) => svg.includes(`>${g}</text>`)), 'each group name on one line');
    assertNoOverlap(svg);
    // Short names leave the bars as narrow as their upright labels allow.
    const series = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => ({ name, ours: [0.5, 0.5], paper: [0.5, 0.5] }));
    assertNoOverlap(pairedBarChart('t', ['x', 'y'], series, { decimals: 3 }));
  });

  it('an ε axis from 0 to 0.1 with points at 0.005 and 0.01: ticks that do not overlap', () => {
    const points = [0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1].map((e) => [e, 0.5 - 4 * e] as [number, number]);
    const svg = lineChart('Bagging (run cifar10-bagging): ensemble accuracy against ε\nloss from logits, n = 300 test images', 'ε (L∞, pixels in [0, 1])', [
      { name: 'PGD Grad. 3 (8 steps, α = 2.5ε/8, 5 restarts)', points },
      { name: 'FGSM Grad. 2', points },
    ]);
    const ticks = [...svg.matchAll(/<text class="tick"[^>]*>([^<]*)</g)].map((m) => m[1]);
    assert.ok(ticks.length >= 3 && ticks[0] === '0' && ticks[ticks.length - 1] === '0.1', ticks.join(' '));
    assertNoOverlap(svg);
  });
});
