/**
 * Minimal, deterministic SVG charts (same input → byte-identical file) for the report's figures: grouped
 * bars with the paper's value beside ours (Figure 2, Table 4), each bar labelled with its value, and
 * accuracy-vs-ε lines. Accuracies are on a fixed [0, 1] axis. Layout sizes every text from an estimate of
 * its width (`textWidth`), so labels, ticks and legends never overlap: test/unit/svg.test.ts checks the
 * estimate's boxes, scripts/check-report.ts the boxes a browser draws.
 */
import { PAPER_DECIMALS } from './paper.ts';

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7'];
const FONT_SIZE = 11;
const TITLE_SIZE = 13;
const VALUE_SIZE = 9;
const font = (size: number) => `font-family="sans-serif" font-size="${size}"`;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const f = (v: number) => v.toFixed(1);

/**
 * An upper estimate of a text's width in sans-serif at `size` px: 0.62 em per character covers digits and
 * most letters of DejaVu Sans / Liberation Sans / Arial (wide capitals like "W" excepted, which the margins absorb).
 */
export function textWidth(text: string, size: number): number {
  return [...text].length * 0.62 * size;
}

/** The title's lines wrapped at spaces to fit `width` (the first line bold and larger). */
function titleLines(title: string, width: number): { text: string; size: number }[] {
  return title.split('\n').flatMap((line, i) => {
    const size = i === 0 ? TITLE_SIZE : FONT_SIZE;
    const wrapped = line.split(' ').reduce<string[]>((lines, word) => {
      const last = lines[lines.length - 1];
      if (last !== undefined && textWidth(`${last} ${word}`, size) <= width - 20) lines[lines.length - 1] = `${last} ${word}`;
      else lines.push(word);
      return lines;
    }, []);
    return wrapped.map((text) => ({ text, size }));
  });
}

interface Frame {
  width: number;
  height: number;
  left: number;
  top: number;
  plotWidth: number;
  plotHeight: number;
  title: { text: string; size: number }[];
}

const LINE_HEIGHT = 16;
const PLOT_HEIGHT = 260;

/** The frame: title lines on top, then `headroom` (for value labels above full bars), the plot, `below` for axis labels. */
function frame(plotWidth: number, right: number, title: string, headroom: number, below: number): Frame {
  const left = 50;
  const width = Math.ceil(left + plotWidth + right);
  const lines = titleLines(title, width);
  const top = 10 + lines.length * LINE_HEIGHT + headroom;
  return { width, height: Math.ceil(top + PLOT_HEIGHT + below), left, top, plotWidth, plotHeight: PLOT_HEIGHT, title: lines };
}

function yAxis(fr: Frame, label: string): string[] {
  const parts: string[] = [];
  for (let t = 0; t <= 10; t += 2) {
    const y = fr.top + fr.plotHeight * (1 - t / 10);
    parts.push(`<line x1="${fr.left}" y1="${f(y)}" x2="${fr.left + fr.plotWidth}" y2="${f(y)}" stroke="#ddd"/>`);
    parts.push(`<text x="${fr.left - 6}" y="${f(y + 4)}" text-anchor="end" ${font(FONT_SIZE)}>${(t / 10).toFixed(1)}</text>`);
  }
  parts.push(`<text transform="translate(14 ${f(fr.top + fr.plotHeight / 2)}) rotate(-90)" text-anchor="middle" ${font(FONT_SIZE)}>${escapeXml(label)}</text>`);
  return parts;
}

/** Legend entries right of the plot: a swatch each (`paint`: SVG paint attributes) and its name. */
function legend(fr: Frame, entries: { name: string; paint: string }[]): string[] {
  const x = fr.left + fr.plotWidth + 15;
  return entries.flatMap(({ name, paint }, i) => {
    const y = fr.top + 10 + i * 18;
    return [`<rect x="${x}" y="${y - 9}" width="12" height="12" ${paint}/>`, `<text x="${x + 18}" y="${y + 1}" ${font(FONT_SIZE)}>${escapeXml(name)}</text>`];
  });
}

/** Room right of the plot for a legend of these names. */
const legendWidth = (names: string[]) => 15 + 18 + Math.max(0, ...names.map((n) => textWidth(n, FONT_SIZE))) + 10;

function document(fr: Frame, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${fr.width}" height="${fr.height}" viewBox="0 0 ${fr.width} ${fr.height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...fr.title.map(({ text, size }, i) => `<text x="${fr.width / 2}" y="${22 + i * LINE_HEIGHT}" text-anchor="middle" ${font(size)}${size === TITLE_SIZE ? ' font-weight="bold"' : ''}>${escapeXml(text)}</text>`),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** One series (a table column) of a paired bar chart: one value per group, ours and the paper's; null = no bar. */
export interface PairedBarSeries {
  name: string;
  ours: (number | null)[];
  paper: (number | null)[];
}

const PAPER_LABEL = 'paper (2017)';

/** A hatch per series, in its hue, for the paper's bars; ids are fixed by the series' index. */
function hatches(count: number): string[] {
  const patterns = Array.from({ length: count }, (_, i) => {
    const color = PALETTE[i % PALETTE.length];
    return `<pattern id="hatch-${i}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="white"/><line x1="0" y1="0" x2="0" y2="6" stroke="${color}" stroke-width="3"/></pattern>`;
  });
  patterns.push(`<pattern id="hatch-key" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="white"/><line x1="0" y1="0" x2="0" y2="6" stroke="#777" stroke-width="3"/></pattern>`);
  return ['<defs>', ...patterns, '</defs>'];
}

/** A bar is at least this wide: its value label, turned upright, is VALUE_SIZE px thick. */
const MIN_BAR = VALUE_SIZE + 3;

/**
 * Grouped bars with the paper's value beside ours: per group, per series, our bar (solid) and the paper's
 * (hatched in the same hue, outlined), each labelled above with its value (ours to `decimals`, the paper's
 * as printed). A null value draws no bar; its slot stays empty so the columns line up. Groups are as wide as
 * their name on one line, so no name wraps or runs into the next.
 */
export function pairedBarChart(title: string, groups: string[], series: PairedBarSeries[], options: { decimals: number; yLabel?: string }): string {
  const slots = Math.max(series.length, 1) * 2;
  const groupWidth = Math.max(slots * MIN_BAR + 16, ...groups.map((g) => textWidth(g, FONT_SIZE) + 14));
  const keyNames = [...series.map((s) => s.name), 'solid = ours', `hatched = ${PAPER_LABEL}`];
  const valueRoom = textWidth('0.0000', VALUE_SIZE) + 6;
  const fr = frame(Math.max(groups.length, 1) * groupWidth, legendWidth(keyNames), title, valueRoom, 30);
  const body = [...hatches(series.length), ...yAxis(fr, options.yLabel ?? 'accuracy')];
  const barWidth = (groupWidth - 16) / slots;
  const baseline = fr.top + fr.plotHeight;
  groups.forEach((group, g) => {
    const x0 = fr.left + g * groupWidth + 8;
    series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length];
      const bars: ['ours' | 'paper', number | null | undefined, string, number][] = [
        ['ours', s.ours[g], `fill="${color}"`, options.decimals],
        ['paper', s.paper[g], `fill="url(#hatch-${i})" stroke="${color}" stroke-width="1"`, PAPER_DECIMALS],
      ];
      bars.forEach(([kind, value, paint, decimals], k) => {
        if (value === null || value === undefined) return;
        const h = fr.plotHeight * Math.min(Math.max(value, 0), 1);
        const who = kind === 'ours' ? 'ours' : PAPER_LABEL;
        const x = x0 + (2 * i + k) * barWidth;
        const text = value.toFixed(decimals);
        body.push(
          `<rect class="bar ${kind}" x="${f(x)}" y="${f(baseline - h)}" width="${f(barWidth - 0.5)}" height="${f(h)}" ${paint}><title>${escapeXml(`${group}, ${s.name}, ${who}: ${text}`)}</title></rect>`,
          // Upright, reading upwards from just above the bar; centred on it (the glyphs' x-height straddles x).
          `<text class="value" transform="translate(${f(x + barWidth / 2 + VALUE_SIZE / 3)} ${f(baseline - h - 3)}) rotate(-90)" ${font(VALUE_SIZE)}>${text}</text>`,
        );
      });
    });
    body.push(`<text class="group" x="${f(x0 + (groupWidth - 16) / 2)}" y="${baseline + 16}" text-anchor="middle" ${font(FONT_SIZE)}>${escapeXml(group)}</text>`);
  });
  body.push(
    ...legend(fr, [
      ...series.map((s, i) => ({ name: s.name, paint: `fill="${PALETTE[i % PALETTE.length]}"` })),
      { name: 'solid = ours', paint: 'fill="#777"' },
      { name: `hatched = ${PAPER_LABEL}`, paint: 'fill="url(#hatch-key)" stroke="#777" stroke-width="1"' },
    ]),
  );
  return document(fr, body);
}

export interface LineSeries {
  name: string;
  points: [number, number][];
}

/**
 * Tick values for an axis from 0 to `max`: the finest step of 1, 2 or 5 × 10^k at which every label, with
 * 8 px to spare, fits between its neighbours — so ticks never overlap whatever values the points sit at.
 */
export function niceTicks(max: number, axisWidth: number, labelWidth: (value: number) => number): number[] {
  for (let exponent = Math.floor(Math.log10(max)) - 2; ; exponent++) {
    for (const mantissa of [1, 2, 5]) {
      const step = mantissa * 10 ** exponent;
      const ticks = Array.from({ length: Math.floor(max / step + 1e-9) + 1 }, (_, i) => Number((i * step).toPrecision(12)));
      const spacing = (axisWidth * step) / max;
      if (ticks.every((t) => labelWidth(t) + 8 <= spacing)) return ticks;
    }
  }
}

/** Accuracy against an x value (ε): one line per series, ticks from `niceTicks`, points at their exact x. */
export function lineChart(title: string, xLabel: string, series: LineSeries[], yLabel = 'accuracy'): string {
  const fr = frame(420, legendWidth(series.map((s) => s.name)), title, 10, 44);
  const xs = series.flatMap((s) => s.points.map(([x]) => x));
  const xMax = Math.max(...xs, 1e-9);
  const sx = (x: number) => fr.left + (fr.plotWidth * x) / xMax;
  const sy = (y: number) => fr.top + fr.plotHeight * (1 - Math.min(Math.max(y, 0), 1));
  const body = yAxis(fr, yLabel);
  for (const x of niceTicks(xMax, fr.plotWidth, (t) => textWidth(String(t), FONT_SIZE))) {
    body.push(`<line x1="${f(sx(x))}" y1="${fr.top + fr.plotHeight}" x2="${f(sx(x))}" y2="${fr.top + fr.plotHeight + 4}" stroke="#999"/>`);
    body.push(`<text class="tick" x="${f(sx(x))}" y="${fr.top + fr.plotHeight + 16}" text-anchor="middle" ${font(FONT_SIZE)}>${x}</text>`);
  }
  body.push(`<text x="${f(fr.left + fr.plotWidth / 2)}" y="${fr.top + fr.plotHeight + 34}" text-anchor="middle" ${font(FONT_SIZE)}>${escapeXml(xLabel)}</text>`);
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const points = [...s.points].sort((a, b) => a[0] - b[0]);
    body.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(([x, y]) => `${f(sx(x))},${f(sy(y))}`).join(' ')}"/>`);
    for (const [x, y] of points) body.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="3" fill="${color}"><title>${escapeXml(`${s.name} ε=${x}: ${y.toFixed(4)}`)}</title></circle>`);
  });
  body.push(...legend(fr, series.map((s, i) => ({ name: s.name, paint: `fill="${PALETTE[i % PALETTE.length]}"` }))));
  return document(fr, body);
}
