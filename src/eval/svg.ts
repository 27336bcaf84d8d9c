/**
 * Minimal, deterministic SVG charts (same input → byte-identical file) for the report's figures:
 * grouped bars with the paper's value beside ours (Figure 2, Table 4) and accuracy-vs-ε lines. Accuracies
 * are on a fixed [0, 1] axis.
 */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7'];
const FONT = 'font-family="sans-serif" font-size="11"';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const f = (v: number) => v.toFixed(1);

interface Frame {
  width: number;
  height: number;
  left: number;
  top: number;
  plotWidth: number;
  plotHeight: number;
}

/** Each title line after the first (a smaller subtitle, e.g. the data a figure ran on) adds this much height. */
const SUBTITLE_LINE = 14;

/** Roughly the width of one character of the 11-px sans-serif font, for wrapping subtitles. */
const CHAR_WIDTH = 6.2;

/** The title's first line, then its other lines wrapped at spaces to fit `width`. */
function titleLines(title: string, width: number): string[] {
  const [first, ...rest] = title.split('\n');
  const fits = Math.floor((width - 20) / CHAR_WIDTH);
  const wrapped = rest.flatMap((line) =>
    line.split(' ').reduce<string[]>((lines, word) => {
      const last = lines[lines.length - 1];
      if (last !== undefined && `${last} ${word}`.length <= fits) lines[lines.length - 1] = `${last} ${word}`;
      else lines.push(word);
      return lines;
    }, []),
  );
  return [first, ...wrapped];
}

/** `plotHeight` is the same whatever the title's line count: subtitles add to the height above the plot. */
function frame(width: number, height: number, title: string): Frame {
  const left = 50;
  const extra = SUBTITLE_LINE * (titleLines(title, width).length - 1);
  const top = 30 + extra;
  return { width, height: height + extra, left, top, plotWidth: width - left - 170, plotHeight: height - 30 - 60 };
}

function yAxis(fr: Frame, label: string): string[] {
  const parts: string[] = [];
  for (let t = 0; t <= 10; t += 2) {
    const y = fr.top + fr.plotHeight * (1 - t / 10);
    parts.push(`<line x1="${fr.left}" y1="${f(y)}" x2="${fr.left + fr.plotWidth}" y2="${f(y)}" stroke="#ddd"/>`);
    parts.push(`<text x="${fr.left - 6}" y="${f(y + 4)}" text-anchor="end" ${FONT}>${(t / 10).toFixed(1)}</text>`);
  }
  parts.push(`<text transform="translate(12 ${f(fr.top + fr.plotHeight / 2)}) rotate(-90)" text-anchor="middle" ${FONT}>${escapeXml(label)}</text>`);
  return parts;
}

function legend(fr: Frame, names: string[]): string[] {
  return names.flatMap((name, i) => {
    const x = fr.left + fr.plotWidth + 15;
    const y = fr.top + 10 + i * 18;
    return [
      `<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`,
      `<text x="${x + 18}" y="${y + 1}" ${FONT}>${escapeXml(name)}</text>`,
    ];
  });
}

function document(fr: Frame, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${fr.width}" height="${fr.height}" viewBox="0 0 ${fr.width} ${fr.height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...titleLines(title, fr.width).map((line, i) =>
      i === 0
        ? `<text x="${fr.width / 2}" y="18" text-anchor="middle" font-family="sans-serif" font-size="13" font-weight="bold">${escapeXml(line)}</text>`
        : `<text x="${fr.width / 2}" y="${18 + i * SUBTITLE_LINE}" text-anchor="middle" ${FONT}>${escapeXml(line)}</text>`,
    ),
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

/** A group's name under the axis, broken after each '+' and before a ' (' so long defense names fit. */
function groupLabel(x: number, y: number, name: string): string {
  const lines = name.split(/(?<=\+)|(?= \()/).map((line) => line.trim());
  const spans = lines.map((line, i) => `<tspan x="${f(x)}" dy="${i === 0 ? 0 : 13}">${escapeXml(line)}</tspan>`).join('');
  return `<text x="${f(x)}" y="${y}" text-anchor="middle" ${FONT}>${spans}</text>`;
}

/**
 * Grouped bars with the paper's value beside ours: per group, per series, our bar (solid) and the paper's
 * (hatched in the same hue, outlined). A null value draws no bar; its slot stays empty so the columns line up.
 */
export function pairedBarChart(title: string, groups: string[], series: PairedBarSeries[], yLabel = 'accuracy'): string {
  const fr = frame(Math.max(560, 50 + groups.length * (series.length * 24 + 30) + 170), 350, title);
  const body = [...hatches(series.length), ...yAxis(fr, yLabel)];
  const groupWidth = fr.plotWidth / Math.max(groups.length, 1);
  const slotWidth = (groupWidth * 0.8) / Math.max(series.length, 1);
  const barWidth = slotWidth / 2;
  const baseline = fr.top + fr.plotHeight;
  groups.forEach((group, g) => {
    const x0 = fr.left + g * groupWidth + groupWidth * 0.1;
    series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length];
      const bars: [string, number | null | undefined, string][] = [
        ['ours', s.ours[g], `fill="${color}"`],
        ['paper', s.paper[g], `fill="url(#hatch-${i})" stroke="${color}" stroke-width="1"`],
      ];
      bars.forEach(([kind, value, paint], k) => {
        if (value === null || value === undefined) return;
        const h = fr.plotHeight * Math.min(Math.max(value, 0), 1);
        const who = kind === 'ours' ? 'ours' : PAPER_LABEL;
        body.push(
          `<rect class="bar ${kind}" x="${f(x0 + i * slotWidth + k * barWidth)}" y="${f(baseline - h)}" width="${f(barWidth - 0.5)}" height="${f(h)}" ${paint}><title>${escapeXml(`${group}, ${s.name}, ${who}: ${value.toFixed(4)}`)}</title></rect>`,
        );
      });
    });
    body.push(groupLabel(x0 + groupWidth * 0.4, baseline + 16, group));
  });
  body.push(...legend(fr, series.map((s) => s.name)));
  const x = fr.left + fr.plotWidth + 15;
  const y = fr.top + 10 + (series.length + 1) * 18;
  body.push(
    `<rect x="${x}" y="${y - 9}" width="12" height="12" fill="#777"/>`,
    `<text x="${x + 18}" y="${y + 1}" ${FONT}>solid = ours</text>`,
    `<rect x="${x}" y="${y + 9}" width="12" height="12" fill="url(#hatch-key)" stroke="#777" stroke-width="1"/>`,
    `<text x="${x + 18}" y="${y + 19}" ${FONT}>hatched = ${PAPER_LABEL}</text>`,
  );
  return document(fr, title, body);
}

export interface LineSeries {
  name: string;
  points: [number, number][];
}

export function lineChart(title: string, xLabel: string, series: LineSeries[], yLabel = 'accuracy'): string {
  const fr = frame(640, 360, title);
  const xs = series.flatMap((s) => s.points.map(([x]) => x));
  const xMax = Math.max(...xs, 1e-9);
  const sx = (x: number) => fr.left + (fr.plotWidth * x) / xMax;
  const sy = (y: number) => fr.top + fr.plotHeight * (1 - Math.min(Math.max(y, 0), 1));
  const body = yAxis(fr, yLabel);
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    body.push(`<text x="${f(sx(x))}" y="${fr.top + fr.plotHeight + 16}" text-anchor="middle" ${FONT}>${x}</text>`);
  }
  body.push(`<text x="${f(fr.left + fr.plotWidth / 2)}" y="${fr.top + fr.plotHeight + 34}" text-anchor="middle" ${FONT}>${escapeXml(xLabel)}</text>`);
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const points = [...s.points].sort((a, b) => a[0] - b[0]);
    body.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map(([x, y]) => `${f(sx(x))},${f(sy(y))}`).join(' ')}"/>`);
    for (const [x, y] of points) body.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="3" fill="${color}"><title>${escapeXml(`${s.name} ε=${x}: ${y.toFixed(4)}`)}</title></circle>`);
  });
  body.push(...legend(fr, series.map((s) => s.name)));
  return document(fr, title, body);
}
