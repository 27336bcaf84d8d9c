/**
 * CI check of a reproduce/report output directory: Table 2 and 4 as CSV + Markdown with accuracies in
 * [0, 1], the figures, and report.html as a reader's browser shows it. The page is opened in headless
 * Chromium (CHROMIUM, default /usr/bin/chromium, driven by playwright-core without a downloaded browser);
 * it fails on a script or render error, a request that leaves the page (it must be self-contained), a
 * figure of report.md missing from the page or drawn empty, a table of report.md missing from the page, and
 * text that overflows its figure or runs into other text. Usage: node --import tsx scripts/check-report.ts DIR
 */
import { parse } from 'csv-parse/sync';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: check-report.ts REPORT_DIR');
  process.exit(2);
}
const problems: string[] = [];

function checkTable(name: string, minRows: number): void {
  const path = join(dir, name);
  if (!existsSync(path)) return void problems.push(`${path} missing`);
  const rows = parse(readFileSync(path, 'utf8'), { columns: true }) as Record<string, string>[];
  if (rows.length < minRows) problems.push(`${path}: ${rows.length} rows, expected at least ${minRows}`);
  const measured = rows.filter((r) => r.ours !== '');
  if (measured.length === 0) problems.push(`${path}: no measured values`);
  for (const r of measured) {
    const v = Number(r.ours);
    if (!(v >= 0 && v <= 1)) problems.push(`${path}: accuracy '${r.ours}' out of [0, 1] in ${JSON.stringify(r)}`);
  }
  const md = path.replace(/\.csv$/, '.md');
  if (!existsSync(md) || !readFileSync(md, 'utf8').includes('| ')) problems.push(`${md} missing or holds no table`);
}

checkTable('table2.csv', 12);
checkTable('table4.csv', 5);
const figureFiles = existsSync(join(dir, 'figures')) ? readdirSync(join(dir, 'figures')) : [];
const svgs = figureFiles.filter((f) => f.endsWith('.svg'));
if (!svgs.some((f) => f.startsWith('figure2-'))) problems.push('no Figure 2 SVG');
if (!svgs.some((f) => f.startsWith('table4-'))) problems.push('no Table 4 SVG');
if (!svgs.some((f) => f.startsWith('eps-sweep-'))) problems.push('no ε-sweep SVG');
const figure1 = figureFiles.filter((f) => /^figure1-.*\.(svg|png)$/.test(f));
if (figure1.length === 0) problems.push('no Figure 1');
for (const f of figure1.filter((f) => f.endsWith('.png'))) {
  if (readFileSync(join(dir, 'figures', f)).subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') problems.push(`${f}: not a PNG file`);
}
for (const f of svgs) {
  const svg = readFileSync(join(dir, 'figures', f), 'utf8');
  if (!svg.startsWith('<svg ') || !svg.trimEnd().endsWith('</svg>')) problems.push(`${f}: not a complete SVG document`);
}

const markdownPath = join(dir, 'report.md');
const htmlPath = join(dir, 'report.html');
if (!existsSync(markdownPath)) problems.push('report.md missing');
if (!existsSync(htmlPath)) problems.push('report.html missing');

/** What the browser measured: per figure its path, whether it drew, and its text boxes. */
interface FigureReport {
  path: string;
  drawn: boolean;
  width: number;
  height: number;
  texts: { text: string; left: number; top: number; right: number; bottom: number }[];
}

if (existsSync(markdownPath) && existsSync(htmlPath)) {
  const markdown = readFileSync(markdownPath, 'utf8');
  const markdownFigures = [...markdown.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
  const markdownTables = markdown.split('\n').filter((line) => /^\|(---\|)+$/.test(line)).length;

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (error) => problems.push(`report.html: script error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`report.html: console error: ${message.text()}`);
    });
    const pageUrl = pathToFileURL(resolve(htmlPath)).href;
    // Self-contained: nothing but the page itself and data: URLs may be fetched (links to the CSVs are not followed).
    await page.route('**/*', (route) => (route.request().url() === pageUrl || route.request().url().startsWith('data:') ? route.continue() : (problems.push(`report.html: fetches ${route.request().url()}`), route.abort())));
    await page.goto(pageUrl, { waitUntil: 'load' });
    const measured = await page.evaluate((): { figures: FigureReport[]; tables: number } => {
      const figures = [...document.querySelectorAll('figure')].map((figure) => {
        const path = figure.getAttribute('data-path') ?? '';
        const svg = figure.querySelector('svg');
        const img = figure.querySelector('img');
        if (img) return { path, drawn: img.complete && img.naturalWidth > 0, width: img.naturalWidth, height: img.naturalHeight, texts: [] };
        if (!svg) return { path, drawn: false, width: 0, height: 0, texts: [] };
        const box = svg.getBoundingClientRect();
        const texts = [...svg.querySelectorAll('text')].map((t) => {
          const r = t.getBoundingClientRect();
          return { text: t.textContent ?? '', left: r.left - box.left, top: r.top - box.top, right: r.right - box.left, bottom: r.bottom - box.top };
        });
        return { path, drawn: box.width > 0 && box.height > 0 && svg.querySelectorAll('rect, polyline, circle, image').length > 1, width: box.width, height: box.height, texts };
      });
      return { figures, tables: document.querySelectorAll('table').length };
    });
    if (measured.tables !== markdownTables) problems.push(`report.html holds ${measured.tables} tables, report.md ${markdownTables}`);
    for (const path of markdownFigures) {
      const figure = measured.figures.find((f) => f.path === path);
      if (!figure) problems.push(`report.html: figure ${path} of report.md missing`);
      else if (!figure.drawn) problems.push(`report.html: figure ${path} drawn empty`);
    }
    for (const figure of measured.figures) {
      for (const t of figure.texts) {
        if (t.left < -0.5 || t.top < -0.5 || t.right > figure.width + 0.5 || t.bottom > figure.height + 0.5) {
          problems.push(`${figure.path}: text '${t.text}' overflows the figure (${t.left.toFixed(1)}, ${t.top.toFixed(1)})–(${t.right.toFixed(1)}, ${t.bottom.toFixed(1)}) in ${figure.width}×${figure.height}`);
        }
      }
      // Text boxes may touch (a font's line box is taller than its glyphs), not overlap by more than 1 px.
      for (let i = 0; i < figure.texts.length; i++) {
        for (let j = i + 1; j < figure.texts.length; j++) {
          const [a, b] = [figure.texts[i], figure.texts[j]];
          const overlapX = Math.min(a.right, b.right) - Math.max(a.left, b.left);
          const overlapY = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
          if (overlapX > 1 && overlapY > 1) problems.push(`${figure.path}: text '${a.text}' runs into '${b.text}'`);
        }
      }
    }
    // Every figure file on its own, as a browser opening it from a link would: an SVG that does not parse renders an error.
    await page.unroute('**/*');
    for (const f of svgs) {
      await page.goto(pathToFileURL(resolve(dir, 'figures', f)).href, { waitUntil: 'load' });
      const root = await page.evaluate(() => (document.querySelector('parsererror') ? 'parsererror' : document.documentElement.nodeName));
      if (root !== 'svg') problems.push(`${f}: does not render as SVG (${root})`);
    }
  } finally {
    await browser.close();
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(`check-report: ${p}`);
  process.exit(1);
}
console.log(`check-report: ${dir} OK (tables parse, ${svgs.length} SVG figures, ${figure1.length} Figure 1; report.html renders in Chromium, every figure and table there, no text overflows)`);
