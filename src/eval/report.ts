/**
 * `ensdef report`: Table 2, Table 4, the beyond-the-paper table, gradient-masking flags and figures,
 * rebuilt from saved results only. No timestamps: the same results give byte-identical files.
 */
import { stringify } from 'csv-stringify/sync';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../run/atomic.ts';
import { describeMethod } from '../training/methods.ts';
import { loadPaperResults, type PaperResults } from './paper.ts';
import { maskingFlags, sweeps, type MaskingFlag } from './masking.ts';
import { epsOf, type ResultRow } from './results.ts';
import { dataLabels, dataMarkdown } from './data-labels.ts';
import { collectRunResults, type RunResults } from './run-results.ts';
import { lineChart, pairedBarChart, type PairedBarSeries } from './svg.ts';
import {
  buildBeyondTable,
  buildTable2,
  buildTable4,
  columnLabel,
  PAPER_ATTACKS,
  TABLE2_COLUMNS,
  TABLE4_COLUMNS,
  type TableCell,
} from './tables.ts';

export interface ReportFiles {
  outDir: string;
  files: string[];
}

const CSV_COLUMNS: (keyof TableCell)[] = ['dataset', 'attack', 'method', 'loss', 'column', 'gradient', 'ours', 'paper', 'difference', 'n', 'zero_grad_fraction', 'run'];

function toCsv(cells: TableCell[]): string {
  return stringify(cells, { header: true, columns: CSV_COLUMNS, cast: { number: (n) => String(Number(n.toFixed(6))) } });
}

const fmt = (v: number | null) => (v === null ? '–' : v.toFixed(4));
const signed = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(4)}`;

function cellText(c: TableCell | undefined): string {
  if (!c || c.ours === null) return c?.paper != null ? `– (paper ${fmt(c.paper)})` : '–';
  return c.paper === null ? fmt(c.ours) : `${fmt(c.ours)} (paper ${fmt(c.paper)}, ${signed(c.difference!)})`;
}

function markdownTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function groupKeys(cells: TableCell[]): Array<{ dataset: string; loss: string }> {
  const keys = [...new Set(cells.map((c) => `${c.dataset}\u0000${c.loss}`))].sort();
  return keys.map((k) => {
    const [dataset, loss] = k.split('\u0000');
    return { dataset, loss };
  });
}

/**
 * A table row's (or bar's) name: the method, with the run's name where several runs of one method are
 * reported (e.g. gaussian-noise at several σ) — one row each, none hidden behind another.
 */
function rowLabeller(cells: TableCell[]): (cell: TableCell) => string {
  const runsOf = new Map<string, Set<string>>();
  for (const c of cells) runsOf.set(`${c.dataset}\u0000${c.method}`, (runsOf.get(`${c.dataset}\u0000${c.method}`) ?? new Set()).add(c.run));
  return (c) => (runsOf.get(`${c.dataset}\u0000${c.method}`)!.size > 1 ? `${c.method} (${c.run})` : c.method);
}

function table2Markdown(cells: TableCell[], dataName: (dataset: string) => string): string {
  if (cells.length === 0) return '_No Table 2 results yet: attack a random-init, mixed-models, bagging or gaussian-noise run with `ensdef attack --table2`._';
  const label = rowLabeller(cells);
  return groupKeys(cells)
    .map(({ dataset, loss }) => {
      const group = cells.filter((c) => c.dataset === dataset && c.loss === loss);
      const rows = [...new Set(group.map((c) => `${c.attack}\u0000${label(c)}`))].map((key) => {
        const [attack, method] = key.split('\u0000');
        const row = group.filter((c) => c.attack === attack && label(c) === method);
        return [attack.toUpperCase(), method, ...TABLE2_COLUMNS.map((col) => cellText(row.find((c) => c.column === col)))];
      });
      return `### ${dataName(dataset)}; loss form \`${loss}\`\n\n${markdownTable(['attack', 'method', ...TABLE2_COLUMNS], rows)}`;
    })
    .join('\n\n');
}

/** Table 4's Markdown; `figures` (data set and loss form → SVG path) puts each section's figure under its table. */
function table4Markdown(cells: TableCell[], dataName: (dataset: string) => string, figures: Map<string, string>): string {
  if (cells.length === 0) return '_No Table 4 results yet: attack the defense runs with `ensdef attack --table4`._';
  const label = rowLabeller(cells);
  return groupKeys(cells)
    .map(({ dataset, loss }) => {
      const group = cells.filter((c) => c.dataset === dataset && c.loss === loss);
      const rows = [...new Set(group.map(label))].map((method) => {
        const row = group.filter((c) => label(c) === method);
        return [method, ...TABLE4_COLUMNS.map((col) => cellText(row.find((c) => c.column === col)))];
      });
      const figure = figures.get(`${dataset}\u0000${loss}`);
      return `### ${dataName(dataset)}; loss form \`${loss}\`\n\nEnsembles: FGSM/BIM with Grad. 2 (the paper's choice), \`*_grad3\` with Grad. 3; single models: their own gradient.\n\n${markdownTable(['defense', ...TABLE4_COLUMNS], rows)}${figure ? `\n\n![${figure}](${figure})` : ''}`;
    })
    .join('\n\n');
}

function beyondMarkdown(cells: TableCell[]): string {
  if (cells.length === 0) return '_No results beyond the paper yet (PGD, APGD, Square, `--suite worst-case`, transfer)._';
  return markdownTable(
    ['run', 'method', 'loss', 'measure', 'gradient', 'accuracy', 'n'],
    cells.map((c) => [c.run, c.method, c.loss, c.column, c.gradient, fmt(c.ours), String(c.n ?? '–')]),
  );
}

function flagsMarkdown(flags: MaskingFlag[], runs: RunResults[]): string {
  const sweeps = runs.some((r) => new Set(r.rows.map(epsOf)).size >= 3);
  if (flags.length === 0) {
    return sweeps
      ? 'No sweep shows accuracy rising with ε or with more iterations, or staying high at large ε.'
      : '_No ε or iteration sweeps yet (`ensdef attack --sweep-eps ...`, `--sweep-steps ...`): no gradient-masking check was possible._';
  }
  return flags.map((f) => `- **possible gradient masking** in run \`${f.run}\`, ${f.description}: ${f.reason}`).join('\n');
}

/** One paired series per column: our value and the paper's for each group (method or defense). */
function pairedSeries(group: TableCell[], groups: string[], label: (cell: TableCell) => string, columns: readonly string[]): PairedBarSeries[] {
  return columns.map((column) => {
    const at = (g: string) => group.find((c) => label(c) === g && c.column === column);
    return { name: columnLabel(column), ours: groups.map((g) => at(g)?.ours ?? null), paper: groups.map((g) => at(g)?.paper ?? null) };
  });
}

/** The paper's Figure 2: per data set, loss form and attack, bars per method for each Table 2 column, the paper's beside ours. */
function figure2(cells: TableCell[], dataName: (dataset: string) => string, outDir: string, written: string[]): string[] {
  const links: string[] = [];
  const label = rowLabeller(cells);
  for (const { dataset, loss } of groupKeys(cells)) {
    for (const attack of PAPER_ATTACKS) {
      const group = cells.filter((c) => c.dataset === dataset && c.loss === loss && c.attack === attack);
      if (group.length === 0) continue;
      const methods = [...new Set(group.map(label))];
      const name = `figures/figure2-${dataset}-${attack}-${loss}.svg`;
      const title = `Figure 2: ${dataset}, ${attack.toUpperCase()}, loss form ${loss}\n${dataName(dataset)}`;
      writeFileAtomic(join(outDir, name), pairedBarChart(title, methods, pairedSeries(group, methods, label, TABLE2_COLUMNS)));
      written.push(name);
      links.push(name);
    }
  }
  return links;
}

/** Table 4 as bars: per data set and loss form, bars per defense for each Table 4 column, the paper's beside ours. Keyed like groupKeys. */
function table4Figures(cells: TableCell[], dataName: (dataset: string) => string, outDir: string, written: string[]): Map<string, string> {
  const links = new Map<string, string>();
  const label = rowLabeller(cells);
  for (const { dataset, loss } of groupKeys(cells)) {
    const group = cells.filter((c) => c.dataset === dataset && c.loss === loss);
    const defenses = [...new Set(group.map(label))];
    const name = `figures/table4-${dataset}-${loss}.svg`;
    const title = `Table 4: ${dataset}, loss form ${loss}\n${dataName(dataset)}`;
    writeFileAtomic(join(outDir, name), pairedBarChart(title, defenses, pairedSeries(group, defenses, label, TABLE4_COLUMNS)));
    written.push(name);
    links.set(`${dataset}\u0000${loss}`, name);
  }
  return links;
}

function epsSweepFigures(runs: RunResults[], dataName: (dataset: string) => string, outDir: string, written: string[]): string[] {
  const links: string[] = [];
  for (const run of runs) {
    const attacked = run.rows.filter((r) => r.scored_on === 'ensemble' && r.surrogate === '');
    for (const loss of [...new Set(attacked.filter((r) => r.attack !== 'none').map((r) => r.loss))].sort()) {
      const groups = sweeps(attacked.filter((r) => r.loss === loss), 'eps');
      const base = (r: ResultRow) => `${r.attack.toUpperCase()} Grad. ${r.grad}${r.params.restarts ? ` R=${r.params.restarts}` : ''}`;
      const schedule = ({ params }: ResultRow) => ` n=${params.steps ?? 1}${params.alpha === undefined ? '' : ` α=${(params.alpha / params.eps).toPrecision(3)}ε`}`;
      const shared = (r: ResultRow) => groups.filter((g) => base(g[0]) === base(r)).length > 1;
      // Two schedules of one attack (another n, or α/ε) get a curve each, named by the schedule.
      const series = groups
        .map((rows) => ({
          name: shared(rows[0]) ? `${base(rows[0])}${schedule(rows[0])}` : base(rows[0]),
          points: rows.map((r) => [epsOf(r), r.accuracy] as [number, number]),
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
      if (series.length === 0) continue;
      const clean = run.rows.find((r) => r.attack === 'none' && r.scored_on === 'ensemble');
      if (clean) for (const s of series) if (!s.points.some(([eps]) => eps === 0)) s.points.unshift([0, clean.accuracy]);
      const name = `figures/eps-sweep-${run.name}-${loss}.svg`;
      writeFileAtomic(join(outDir, name), lineChart(`${run.name}: ensemble accuracy vs ε (${loss})\n${dataName(run.manifest.config.dataset)}`, 'ε (L∞, pixels in [0, 1])', series));
      written.push(name);
      links.push(name);
    }
  }
  return links;
}

function runsMarkdown(runs: RunResults[]): string {
  return markdownTable(
    ['run', 'status', 'dataset', 'method', 'members', 'epochs', 'train limit', 'seed', 'backend', 'result rows'],
    runs.map(({ name, manifest: m, rows }) => [
      name,
      m.status === 'failed' ? `**failed**: ${m.failure ?? 'unknown error'}` : `${m.status} (${m.members.length}/${m.config.members} members)`,
      m.config.dataset,
      describeMethod(m.config),
      String(m.config.members),
      String(m.config.epochs),
      String(m.config.trainLimit ?? 'all'),
      String(m.config.seed),
      m.backend.name,
      String(rows.length),
    ]),
  );
}

const REPORT_MD = 'report.md';
const REPORT_TITLE = '# ensdef report';

/** An earlier ensdef report: its report.md starts with our title (someone else's report.md does not count). */
function holdsEnsdefReport(outDir: string): boolean {
  const path = join(outDir, REPORT_MD);
  return existsSync(path) && readFileSync(path, 'utf8').startsWith(`${REPORT_TITLE}\n`);
}

/** Refuses to write into a non-empty directory that is not an earlier ensdef report, unless forced. */
function checkOutDir(outDir: string, force: boolean): void {
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory()) throw new UserError(`--out ${outDir} is a file, not a directory; choose a directory for the report`);
  if (force) return;
  if (readdirSync(outDir).length > 0 && !holdsEnsdefReport(outDir)) {
    throw new UserError(`--out ${outDir} already holds files that are not an ensdef report; choose an empty directory or pass --force to write there anyway`);
  }
}

export function buildReport(runsRoot: string, outDir: string, options: { force?: boolean; paper?: PaperResults } = {}): ReportFiles {
  checkOutDir(outDir, options.force ?? false);
  const paper = options.paper ?? loadPaperResults();
  const allRuns = collectRunResults(runsRoot);
  const runs = allRuns.filter((run) => run.rows.length > 0);
  if (runs.length === 0) {
    // Without results there is no report to write, but a failed run still says why on the same line.
    const failures = allRuns.filter((run) => run.manifest.status === 'failed').map((run) => `; run ${run.name} failed: ${run.manifest.failure ?? 'unknown error'}`);
    throw new UserError(`no results under ${resolve(runsRoot)}: run 'ensdef attack' on a trained run first (or 'ensdef reproduce')${failures.join('')}`);
  }
  const table2 = buildTable2(runs, paper);
  const table4 = buildTable4(runs, paper);
  const beyond = buildBeyondTable(runs);
  const flags = maskingFlags(runs);
  const labels = dataLabels(allRuns);
  const dataName = (dataset: string) => labels.get(dataset) ?? dataset;
  const written: string[] = [];
  const write = (name: string, content: string) => {
    writeFileAtomic(join(outDir, name), content);
    written.push(name);
  };
  write('table2.csv', toCsv(table2));
  write('table4.csv', toCsv(table4));
  write('beyond.csv', toCsv(beyond));
  write('table2.md', `# Table 2\n\n${table2Markdown(table2, dataName)}\n`);
  const table4Links = table4Figures(table4, dataName, outDir, written);
  write('table4.md', `# Table 4\n\n${table4Markdown(table4, dataName, table4Links)}\n`);
  // Figure 1 needs the models, so `reproduce` draws it (figures/figure1-DATASET.png); the report links what is there.
  const figuresDir = join(outDir, 'figures');
  const figure1Links = existsSync(figuresDir) ? readdirSync(figuresDir).filter((f) => /^figure1-.*\.png$/.test(f)).sort().map((f) => `figures/${f}`) : [];
  const figure2Links = figure2(table2, dataName, outDir, written);
  const sweepLinks = epsSweepFigures(runs, dataName, outDir, written);
  const report = [
    REPORT_TITLE,
    '',
    `Paper values: ${paper.source}. Each cell reads \`ours (paper value, our − paper)\`; every number names its loss form and gradient source in the CSVs.`,
    '',
    '## Data',
    '',
    dataMarkdown(allRuns),
    '',
    '## Runs',
    '',
    runsMarkdown(allRuns),
    '',
    '## Table 2 — ensembles under FGSM and BIM ([CSV](table2.csv))',
    '',
    table2Markdown(table2, dataName),
    '',
    '## Table 4 — other defenses and their bagging ensembles ([CSV](table4.csv))',
    '',
    table4Markdown(table4, dataName, table4Links),
    '',
    '## Beyond the paper: other attacks at the paper\'s ε (PGD, APGD, Square, the worst-case suite), transfer attacks ([CSV](beyond.csv))',
    '',
    beyondMarkdown(beyond),
    '',
    '## Gradient-masking checks',
    '',
    flagsMarkdown(flags, runs),
    '',
    '## Figures',
    '',
    // Figure 1 is a picture of images: its caption names the data they are.
    ...figure1Links.map((link) => `![${link}](${link})\n\n_${link}: ${dataName(/figure1-(.*)\.png$/.exec(link)![1])}_\n`),
    ...[...figure2Links, ...sweepLinks].map((link) => `![${link}](${link})`),
    '',
  ].join('\n');
  write(REPORT_MD, report);
  return { outDir, files: written };
}
