import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pairedBarChart, type PairedBarSeries } from '../../src/eval/svg.ts';

interface Bar {
  kind: 'ours' | 'paper';
  x: number;
  y: number;
  width: number;
  height: number;
  fill: string;
  stroke: string | undefined;
  title: string;
}

/** The chart's bars, read back from the SVG text (every `<rect class="bar ...">`). */
function bars(svg: string): Bar[] {
  return [...svg.matchAll(/<rect class="bar (ours|paper)"([^>]*)><title>([^<]*)<\/title><\/rect>/g)].map(([, kind, attrs, title]) => {
    const attr = (name: string) => attrs.match(new RegExp(` ${name}="([^"]*)"`))?.[1];
    return { kind: kind as Bar['kind'], x: Number(attr('x')), y: Number(attr('y')), width: Number(attr('width')), height: Number(attr('height')), fill: attr('fill')!, stroke: attr('stroke'), title };
  });
}

/** The y axis from its grid lines: the lowest is accuracy 0, the highest accuracy 1. */
function axis(svg: string): { baseline: number; plotHeight: number } {
  const ys = [...svg.matchAll(/<line x1="[^"]*" y1="([^"]*)" x2="[^"]*" y2="\1" stroke="#ddd"\/>/g)].map((m) => Number(m[1]));
  assert.ok(ys.length >= 2, 'grid lines');
  return { baseline: Math.max(...ys), plotHeight: Math.max(...ys) - Math.min(...ys) };
}

const groups = ['random_init', 'bagging+adversarial_training'];
const series: PairedBarSeries[] = [
  { name: 'No attack, single', ours: [0.98, 0.97], paper: [0.9912, 0.99] },
  { name: 'Grad. 2 ensemble', ours: [0.3, null], paper: [0.4517, 0.5716] },
  { name: 'Grad. 3 ensemble', ours: [0.25, 0.1], paper: [null, null] },
];

describe('pairedBarChart', () => {
  const svg = pairedBarChart('Figure 2: mnist, FGSM, loss form logits', groups, series, { decimals: 4 });
  const drawn = bars(svg);

  it('draws one bar of ours per measured value and one of the paper per non-null paper value', () => {
    const count = (values: (number | null)[][]) => values.flat().filter((v) => v !== null).length;
    assert.equal(drawn.filter((b) => b.kind === 'ours').length, count(series.map((s) => s.ours)));
    assert.equal(drawn.filter((b) => b.kind === 'paper').length, count(series.map((s) => s.paper)));
    assert.ok(!drawn.some((b) => b.kind === 'paper' && b.title.includes('Grad. 3 ensemble')), 'no paper bar where the paper has no value');
    assert.ok(!drawn.some((b) => b.kind === 'ours' && b.title.startsWith('bagging+adversarial_training, Grad. 2 ensemble')), 'no bar of ours where we have no value');
  });

  it('bar heights are value × plot height, standing on the axis at 0', () => {
    const { baseline, plotHeight } = axis(svg);
    for (const b of drawn) {
      const value = Number(b.title.match(/: ([0-9.]+)$/)![1]);
      assert.ok(Math.abs(b.height - value * plotHeight) <= 0.06, `${b.title}: height ${b.height}, expected ${value * plotHeight}`);
      assert.ok(Math.abs(b.y + b.height - baseline) <= 0.11, `${b.title} stands on the baseline`);
    }
  });

  it("the paper's bars are hatched and outlined in the hue of our bars of the same column; ours are solid", () => {
    const paperBars = drawn.filter((b) => b.kind === 'paper');
    assert.ok(paperBars.length > 0);
    for (const b of paperBars) {
      const pattern = b.fill.match(/^url\(#(hatch-\d+)\)$/)?.[1];
      assert.ok(pattern, `${b.title}: fill ${b.fill}`);
      assert.match(svg, new RegExp(`<pattern id="${pattern}"[^>]*>.*stroke="${b.stroke}"`), 'the hatch is drawn in the outline colour');
    }
    for (const b of drawn.filter((b) => b.kind === 'ours')) assert.match(b.fill, /^#[0-9a-f]{6}$/);
    for (const s of series) {
      const hue = new Set(drawn.filter((b) => b.kind === 'ours' && b.title.includes(`, ${s.name}, ours:`)).map((b) => b.fill));
      const outline = new Set(drawn.filter((b) => b.kind === 'paper' && b.title.includes(`, ${s.name}, paper`)).map((b) => b.stroke));
      assert.equal(hue.size, 1, s.name);
      if (outline.size > 0) assert.deepEqual([...outline], [...hue], s.name);
    }
    const hues = series.map((s) => drawn.find((b) => b.kind === 'ours' && b.title.includes(`, ${s.name}, ours:`))!.fill);
    assert.equal(new Set(hues).size, series.length, 'one hue per column');
  });

  it('puts the paper bar beside ours within a column and a group', () => {
    const ours = drawn.find((b) => b.kind === 'ours' && b.title.startsWith('random_init, No attack, single'))!;
    const paper = drawn.find((b) => b.kind === 'paper' && b.title.startsWith('random_init, No attack, single'))!;
    assert.ok(Math.abs(paper.x - (ours.x + ours.width + 0.5)) <= 0.11, `ours at ${ours.x} (width ${ours.width}), paper at ${paper.x}`);
  });

  it('tooltips say whose value it is, and the legend names the columns and the key', () => {
    assert.ok(drawn.some((b) => b.title === 'random_init, Grad. 2 ensemble, ours: 0.3000'));
    assert.ok(drawn.some((b) => b.title === 'random_init, Grad. 2 ensemble, paper (2017): 0.4517'));
    for (const s of series) assert.match(svg, new RegExp(`>${s.name.replace('.', '\\.')}</text>`));
    assert.match(svg, />solid = ours<\/text>/);
    assert.match(svg, />hatched = paper \(2017\)<\/text>/);
  });

  it('clamps to the [0, 1] axis and is byte-identical across calls', () => {
    assert.equal(pairedBarChart('Figure 2: mnist, FGSM, loss form logits', groups, series, { decimals: 4 }), svg);
    const clamped = pairedBarChart('t', ['a'], [{ name: 'x', ours: [1.5], paper: [-0.2] }], { decimals: 4 });
    const over = bars(clamped);
    const { plotHeight } = axis(clamped);
    assert.equal(over.find((b) => b.kind === 'ours')!.height, Number(plotHeight.toFixed(1)));
    assert.equal(over.find((b) => b.kind === 'paper')!.height, 0);
  });

  it('a subtitle (the data) is wrapped at spaces to the chart width, above an unchanged plot', () => {
    const long = 'cifar10: ' + Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const withData = pairedBarChart(`Figure 2: cifar10\n${long}`, groups, series, { decimals: 4 });
    const width = Number(/<svg [^>]*width="([^"]*)"/.exec(withData)![1]);
    const lines = [...withData.matchAll(/<text x="[^"]*" y="[^"]*" text-anchor="middle" font-family="sans-serif" font-size="11">([^<]*)<\/text>/g)].map((m) => m[1]);
    const subtitle = lines.filter((line) => /word|cifar10:/.test(line));
    assert.ok(subtitle.length >= 2, 'wrapped onto several lines');
    assert.equal(subtitle.join(' '), long, 'every word kept, in order');
    for (const line of subtitle) assert.ok(line.length * 6.2 <= width - 20, line);
    assert.equal(axis(withData).plotHeight, axis(svg).plotHeight);
    assert.ok(axis(withData).baseline > axis(svg).baseline, 'the plot moved down to make room');
  });
});
