/**
 * Minimal, deterministic SVG charts (same input → byte-identical file) for the report's figures:
 * grouped bars (the paper's Figure 2) and accuracy-vs-ε lines. Accuracies are on a fixed [0, 1] axis.
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

function frame(width: number, height: number): Frame {
  const left = 50;
  const top = 30;
  return { width, height, left, top, plotWidth: width - left - 170, plotHeight: height - top - 60 };
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
    `<text x="${fr.width / 2}" y="18" text-anchor="middle" font-family="sans-serif" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

export interface BarSeries {
  name: string;
  /** One value per group; null = not measured (no bar). */
  values: (number | null)[];
}

export function groupedBarChart(title: string, groups: string[], series: BarSeries[], yLabel = 'accuracy'): string {
  const fr = frame(Math.max(520, 120 + groups.length * (series.length * 14 + 30) + 170), 340);
  const body = yAxis(fr, yLabel);
  const groupWidth = fr.plotWidth / Math.max(groups.length, 1);
  const barWidth = (groupWidth * 0.8) / Math.max(series.length, 1);
  groups.forEach((group, g) => {
    const x0 = fr.left + g * groupWidth + groupWidth * 0.1;
    series.forEach((s, i) => {
      const value = s.values[g];
      if (value === null || value === undefined) return;
      const h = fr.plotHeight * Math.min(Math.max(value, 0), 1);
      body.push(`<rect x="${f(x0 + i * barWidth)}" y="${f(fr.top + fr.plotHeight - h)}" width="${f(barWidth - 1)}" height="${f(h)}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeXml(`${group} ${s.name}: ${value.toFixed(4)}`)}</title></rect>`);
    });
    body.push(`<text x="${f(x0 + groupWidth * 0.4)}" y="${fr.top + fr.plotHeight + 16}" text-anchor="middle" ${FONT}>${escapeXml(group)}</text>`);
  });
  body.push(...legend(fr, series.map((s) => s.name)));
  return document(fr, title, body);
}

export interface LineSeries {
  name: string;
  points: [number, number][];
}

export function lineChart(title: string, xLabel: string, series: LineSeries[], yLabel = 'accuracy'): string {
  const fr = frame(640, 360);
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
