/**
 * CI check: a reproduce/report output directory holds Table 2 and 4 as CSV + Markdown and figures that
 * parse, with accuracies in [0, 1]. Usage: node --import tsx scripts/check-report.ts DIR
 */
import { parse } from 'csv-parse/sync';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

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
const figures = existsSync(join(dir, 'figures')) ? readdirSync(join(dir, 'figures')).filter((f) => f.endsWith('.svg')) : [];
if (!figures.some((f) => f.startsWith('figure2-'))) problems.push('no Figure 2 SVG');
if (!figures.some((f) => f.startsWith('table4-'))) problems.push('no Table 4 SVG');
const pngs = existsSync(join(dir, 'figures')) ? readdirSync(join(dir, 'figures')).filter((f) => /^figure1-.*\.png$/.test(f)) : [];
for (const f of pngs) {
  const bytes = readFileSync(join(dir, 'figures', f));
  if (bytes.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') problems.push(`${f}: not a PNG file`);
}
if (pngs.length === 0) problems.push('no Figure 1 PNG');
if (!figures.some((f) => f.startsWith('eps-sweep-'))) problems.push('no ε-sweep SVG');
for (const f of figures) {
  const svg = readFileSync(join(dir, 'figures', f), 'utf8');
  if (!svg.startsWith('<svg ') || !svg.trimEnd().endsWith('</svg>')) problems.push(`${f}: not a complete SVG document`);
}
if (!existsSync(join(dir, 'report.md'))) problems.push('report.md missing');

if (problems.length > 0) {
  for (const p of problems) console.error(`check-report: ${p}`);
  process.exit(1);
}
console.log(`check-report: ${dir} OK (tables parse, ${figures.length} SVG figures, ${pngs.length} Figure 1 PNG)`);
