/**
 * `ensdef report`: Table 2, Table 4, Beyond Table 4 (the defenses under the worst-case suite), the
 * beyond-the-paper table, the sweeps, gradient-masking flags and figures, rebuilt from saved results only,
 * laid out as the paper prints them (its order, its names, its column heads; every setting and the number of
 * test images in each heading). Written as report.md and as one self-contained report.html from the same
 * blocks (report-doc.ts). No timestamps: the same results give byte-identical files.
 */
import { stringify } from 'csv-stringify/sync';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { attackDefinition } from '../attacks/registry.ts';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../run/atomic.ts';
import { describeMethod } from '../training/methods.ts';
import { checkDirectoryFlag } from '../run/run-dir.ts';
import { dataLabels, dataMarkdown } from './data-labels.ts';
import { decimalsFor, wilsonInterval } from './intervals.ts';
import { maskingFlags, sweeps, sweptValue, type MaskingFlag } from './masking.ts';
import { loadPaperResults, PAPER_DECIMALS, paperName, paperRank, type PaperResults } from './paper.ts';
import { toHtml, toMarkdown, type Block } from './report-doc.ts';
import { epsOf, type ResultRow } from './results.ts';
import { collectRunResults, type RunResults } from './run-results.ts';
import { lineChart, pairedBarChart, type PairedBarSeries } from './svg.ts';
import {
  BEYOND_TABLE4_COLUMNS,
  BEYOND_TABLE4_SUITE,
  beyondTable4ColumnLabel,
  buildBeyondTable,
  buildBeyondTable4,
  buildTable2,
  buildTable4,
  columnLabel,
  describeAttack,
  paperMethodName,
  PAPER_ATTACKS,
  TABLE2_COLUMNS,
  TABLE4_COLUMNS,
  type TableCell,
} from './tables.ts';

export interface ReportFiles {
  outDir: string;
  files: string[];
}

const CSV_COLUMNS: (keyof TableCell)[] = ['dataset', 'attack', 'params', 'method', 'loss', 'column', 'gradient', 'ours', 'ci_low', 'ci_high', 'paper', 'difference', 'n', 'zero_grad_fraction', 'run'];

function toCsv(cells: TableCell[]): string {
  return stringify(cells, { header: true, columns: CSV_COLUMNS, cast: { number: (n) => String(Number(n.toFixed(6))), object: (params) => JSON.stringify(params) } });
}

const signed = (v: number, decimals: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(decimals)}`;
const thousands = (n: number) => n.toLocaleString('en-US');

/** A measured accuracy to the decimals its n carries, with its 95 % interval. */
function accuracyText(accuracy: number, n: number): string {
  const d = decimalsFor(n);
  const [low, high] = wilsonInterval(accuracy, n);
  return `${accuracy.toFixed(d)} [${low.toFixed(d)}, ${high.toFixed(d)}]`;
}

/** The share of images with an exactly zero input gradient (sign(0) = 0 leaves them unattacked), where not 0. */
const zeroGradText = (share: number | null) => (share ? `; zero grad. ${(100 * share).toFixed(1)} %` : '');

function cellText(c: TableCell | undefined): string {
  if (!c || c.ours === null || c.n === null) return c?.paper != null ? `– (paper ${c.paper.toFixed(PAPER_DECIMALS)})` : '–';
  const paper = c.paper === null ? '' : `; paper ${c.paper.toFixed(PAPER_DECIMALS)}, ${signed(c.difference!, decimalsFor(c.n))}`;
  return `${accuracyText(c.ours, c.n)}${paper}${zeroGradText(c.zero_grad_fraction)}`;
}

/** "n = 1,000 test images", or the range where cells differ (each cell's own n is in the CSV). */
function nText(cells: TableCell[]): string {
  const ns = [...new Set(cells.filter((c) => c.ours !== null && c.n !== null).map((c) => c.n!))].sort((a, b) => a - b);
  if (ns.length === 0) return 'not measured yet';
  return ns.length === 1 ? `n = ${thousands(ns[0])} test images` : `n = ${thousands(ns[0])} to ${thousands(ns[ns.length - 1])} test images (each cell's in the CSV)`;
}

/** Each attack (by default the paper's) measured in these cells with its parameters, in the paper's order: "FGSM (ε = 0.03, 1 step), BIM (…)". */
function attacksText(cells: TableCell[], attacks: readonly string[] = PAPER_ATTACKS): string {
  const described = attacks.flatMap((attack) => distinct(cells.filter((c) => c.attack === attack && c.params !== null && c.ours !== null).map((c) => describeAttack(attack, c.params!))));
  return described.length > 0 ? described.join(', ') : 'no attack measured yet';
}

const lossText = (loss: string) => (loss === 'logits' ? 'loss from logits' : `loss form ${loss}`);

/** Groups of cells by data set and loss form, in the order the cells come (the paper's). */
function groups(cells: TableCell[]): Array<{ dataset: string; loss: string; cells: TableCell[] }> {
  const keyed = new Map<string, { dataset: string; loss: string; cells: TableCell[] }>();
  for (const c of cells) {
    const key = `${c.dataset}\u0000${c.loss}`;
    const group = keyed.get(key) ?? { dataset: c.dataset, loss: c.loss, cells: [] };
    group.cells.push(c);
    keyed.set(key, group);
  }
  return [...keyed.values()];
}

/**
 * A table row's (or bar group's) name: the paper's name of the method, with the run's name where several
 * runs of one method are reported (e.g. gaussian-noise at several σ) — one row each, none hidden behind another.
 */
function rowLabeller(cells: TableCell[]): (cell: TableCell) => string {
  const runsOf = new Map<string, Set<string>>();
  for (const c of cells) runsOf.set(`${c.dataset}\u0000${c.method}`, (runsOf.get(`${c.dataset}\u0000${c.method}`) ?? new Set()).add(c.run));
  return (c) => (runsOf.get(`${c.dataset}\u0000${c.method}`)!.size > 1 ? `${paperName(c.method)} (${c.run})` : paperName(c.method));
}

/** Distinct values in first-seen order. */
const distinct = <T>(values: T[]): T[] => [...new Set(values)];

const CELL_KEY =
  'Each cell: ours [95 % Wilson interval on its n images]; the paper\'s value as printed, then ours − paper; "zero grad." is the share of images whose input gradient was exactly zero, where it is not 0. Decimals fit n: one image moves an accuracy on 1,000 images by 0.001.';

type DataName = (dataset: string) => string;

/** A table's heading: data, attacks with their parameters, loss form, n. */
const tableHeading = (
  label: string,
  dataName: DataName,
  group: { dataset: string; loss: string; cells: TableCell[] },
  { attacks = PAPER_ATTACKS, n = nText(group.cells) }: { attacks?: readonly string[]; n?: string } = {},
): Block => ({
  kind: 'heading',
  level: 3,
  text: `${label}: ${dataName(group.dataset)} · ${attacksText(group.cells, attacks)} · ${lossText(group.loss)} · ${n}`,
});

function table2Blocks(cells: TableCell[], dataName: DataName): Block[] {
  if (cells.length === 0) return [{ kind: 'text', text: '_No Table 2 results yet: attack a random-init, mixed-models, bagging or gaussian-noise run with `ensdef attack --table2`._' }];
  const label = rowLabeller(cells);
  return groups(cells).flatMap((group) => {
    const rows = distinct(group.cells.map((c) => `${c.attack}\u0000${label(c)}`)).map((key) => {
      const [attack, method] = key.split('\u0000');
      const row = group.cells.filter((c) => c.attack === attack && label(c) === method);
      return [attackDefinition(attack).title, method, ...TABLE2_COLUMNS.map((col) => cellText(row.find((c) => c.column === col)))];
    });
    return [tableHeading('Table 2', dataName, group), { kind: 'table' as const, header: ['Type', 'Method', ...TABLE2_COLUMNS.map(columnLabel)], rows }];
  });
}

/** One table row per method (or run, where a method has several), its cells in `columns`' order. */
function methodRows(cells: TableCell[], label: (cell: TableCell) => string, columns: readonly string[]): string[][] {
  return distinct(cells.map(label)).map((method) => {
    const row = cells.filter((c) => label(c) === method);
    return [method, ...columns.map((col) => cellText(row.find((c) => c.column === col)))];
  });
}

/** Table 4's blocks; `figures` (data set and loss form → SVG path) puts each section's figure under its table. */
function table4Blocks(cells: TableCell[], dataName: DataName, figures: Map<string, Block>): Block[] {
  if (cells.length === 0) return [{ kind: 'text', text: '_No Table 4 results yet: attack the defense runs with `ensdef attack --table4`._' }];
  const label = rowLabeller(cells);
  return groups(cells).flatMap((group) => {
    const rows = methodRows(group.cells, label, TABLE4_COLUMNS);
    const figure = figures.get(`${group.dataset}\u0000${group.loss}`);
    return [
      tableHeading('Table 4', dataName, group),
      { kind: 'text' as const, text: "Ensembles are attacked with Grad. 2 (the paper's choice; Grad. 3 in the last two columns, ours), single models with their own gradient (no Grad. 3: '–')." },
      { kind: 'table' as const, header: ['Defense', ...TABLE4_COLUMNS.map(columnLabel)], rows },
      ...(figure ? [figure] : []),
    ];
  });
}

/**
 * Beyond Table 4's blocks: per data set and loss form, the defenses' clean accuracy and the paper's attacks
 * beside the worst-case suite's stages, with n per column group (the suite usually runs on fewer images).
 */
function beyondTable4Blocks(cells: TableCell[], dataName: DataName): Block[] {
  if (cells.length === 0) {
    return [{ kind: 'text', text: '_No run has worst-case-suite rows yet: attack a run with `ensdef attack --run R --suite worst-case --grad 3` (`--test-limit N`: the first N test images), and `ensdef attack --run R --table4` for its clean, FGSM and BIM cells._' }];
  }
  const label = rowLabeller(cells);
  return groups(cells).flatMap((group) => {
    const paperCells = group.cells.filter((c) => c.attack !== BEYOND_TABLE4_SUITE);
    const suiteCells = group.cells.filter((c) => c.attack === BEYOND_TABLE4_SUITE);
    const n = `clean, FGSM and BIM: ${nText(paperCells)}; suite: ${nText(suiteCells)}`;
    return [
      tableHeading('Beyond Table 4', dataName, group, { attacks: [...PAPER_ATTACKS, BEYOND_TABLE4_SUITE], n }),
      {
        kind: 'text' as const,
        text: "Ensembles are attacked with Grad. 3, the gradient the suite takes (Table 4 has the paper's Grad. 2), single models with their own gradient. Each suite column is the accuracy after that stage and every one before it, each stage attacking only the images the earlier ones left correct; Worst case is the suite's result. The suite runs on the first test images, often fewer than FGSM and BIM (n above; each cell's in the CSV). The paper's values are in Table 4.",
      },
      { kind: 'table' as const, header: ['Defense', ...BEYOND_TABLE4_COLUMNS.map(beyondTable4ColumnLabel)], rows: methodRows(group.cells, label, BEYOND_TABLE4_COLUMNS) },
    ];
  });
}

function beyondBlocks(cells: TableCell[], dataName: DataName): Block[] {
  if (cells.length === 0) return [{ kind: 'text', text: '_No results beyond the paper yet (PGD, APGD, Square, `--suite worst-case`, transfer)._' }];
  const label = rowLabeller(cells);
  return distinct(cells.map((c) => c.dataset)).flatMap((dataset) => {
    const group = cells.filter((c) => c.dataset === dataset);
    return [
      { kind: 'heading' as const, level: 3 as const, text: `Beyond the paper: ${dataName(dataset)} · each attack with its ε and budget · ${nText(group)}` },
      {
        kind: 'table' as const,
        header: ['Method (run)', 'Attack and budget', 'Gradient', 'Loss', 'Accuracy [95 %]', 'n'],
        rows: group.map((c) => [`${label(c)} (${c.run})`, c.label ?? c.column, c.gradient, c.loss === '' ? '–' : c.loss, c.ours === null || c.n === null ? '–' : `${accuracyText(c.ours, c.n)}${zeroGradText(c.zero_grad_fraction)}`, c.n === null ? '–' : thousands(c.n)]),
      },
    ];
  });
}

function flagsText(flags: MaskingFlag[], runs: RunResults[]): Block {
  const anySweep = runs.some((r) => new Set(r.rows.map(epsOf)).size >= 3);
  if (flags.length === 0) {
    return {
      kind: 'text',
      text: anySweep
        ? 'No sweep shows accuracy rising with ε or with more iterations, or staying high at large ε.'
        : '_No ε or iteration sweeps yet (`ensdef attack --sweep-eps ...`, `--sweep-steps ...`): no gradient-masking check was possible._',
    };
  }
  return { kind: 'list', items: flags.map((f) => `**possible gradient masking** in run \`${f.run}\`, ${f.description}: ${f.reason}`) };
}

/** One paired series per column: our value and the paper's for each group (method or defense). */
function pairedSeries(group: TableCell[], names: string[], label: (cell: TableCell) => string, columns: readonly string[]): PairedBarSeries[] {
  return columns.map((column) => {
    const at = (g: string) => group.find((c) => label(c) === g && c.column === column);
    return { name: columnLabel(column), ours: names.map((g) => at(g)?.ours ?? null), paper: names.map((g) => at(g)?.paper ?? null) };
  });
}

/** Decimals for a figure's labels: those of its largest n (every cell's own n is in the table beside it). */
const figureDecimals = (cells: TableCell[]) => decimalsFor(Math.max(1, ...cells.map((c) => c.n ?? 1)));

type Writer = (name: string, content: string) => void;

/** The paper's Figure 2: per data set, loss form and attack, bars per method for each Table 2 column, the paper's beside ours. */
function figure2(cells: TableCell[], dataName: DataName, write: Writer): Block[] {
  const figures: Block[] = [];
  const label = rowLabeller(cells);
  for (const { dataset, loss, cells: group } of groups(cells)) {
    for (const attack of PAPER_ATTACKS) {
      const attacked = group.filter((c) => c.attack === attack);
      if (attacked.length === 0) continue;
      const methods = distinct(attacked.map(label));
      const name = `figures/figure2-${dataset}-${attack}-${loss}.svg`;
      const heading = `Figure 2 (${dataset}): ${attacksText(attacked)}, ${lossText(loss)}, ${nText(attacked)}`;
      write(name, pairedBarChart(`${heading}\n${dataName(dataset)}`, methods, pairedSeries(attacked, methods, label, TABLE2_COLUMNS), { decimals: figureDecimals(attacked) }));
      figures.push({ kind: 'figure', path: name, caption: `${heading}; ours solid, the paper's hatched beside them.` });
    }
  }
  return figures;
}

/** Table 4 as bars: per data set and loss form, bars per defense for each Table 4 column, the paper's beside ours. */
function table4Figures(cells: TableCell[], dataName: DataName, write: Writer): Map<string, Block> {
  const figures = new Map<string, Block>();
  const label = rowLabeller(cells);
  for (const { dataset, loss, cells: group } of groups(cells)) {
    const defenses = distinct(group.map(label));
    const name = `figures/table4-${dataset}-${loss}.svg`;
    const heading = `Table 4 as bars (${dataset}): ${attacksText(group)}, ${lossText(loss)}, ${nText(group)}`;
    write(name, pairedBarChart(`${heading}\n${dataName(dataset)}`, defenses, pairedSeries(group, defenses, label, TABLE4_COLUMNS), { decimals: figureDecimals(group) }));
    figures.set(`${dataset}\u0000${loss}`, { kind: 'figure', path: name, caption: `${heading}; ours solid, the paper's hatched beside them; no bar where the table has none.` });
  }
  return figures;
}

/** α relative to ε as the attacks' defaults are stated: "ε/8" (BIM), "2.5ε/8" (PGD), with n = 8 steps. */
function alphaOverEps(ratio: number, steps: number | undefined): string {
  const times = steps === undefined ? ratio : Number((ratio * steps).toPrecision(4));
  const multiple = times === 1 ? '' : String(times);
  return steps === undefined ? `${Number(ratio.toPrecision(4))}ε` : `${multiple}ε/${steps}`;
}

/** A sweep's curve by name: attack, gradient, and the schedule it keeps (steps, α as a multiple of ε, restarts). */
function seriesName(row: ResultRow, vary: 'eps' | 'steps'): string {
  const { params } = row;
  const schedule = [
    vary === 'eps' && params.steps !== undefined ? `${params.steps} steps` : null,
    vary === 'eps' && params.alpha !== undefined ? `α = ${alphaOverEps(params.alpha / params.eps, params.steps)}` : null,
    vary === 'steps' && params.alpha !== undefined ? `α = ${params.alpha}` : null,
    params.restarts !== undefined ? `${params.restarts} restarts` : null,
  ].filter((p) => p !== null);
  return `${attackDefinition(row.attack).title} Grad. ${row.grad}${schedule.length > 0 ? ` (${schedule.join(', ')})` : ''}`;
}

/**
 * The ε and iteration sweeps of each run, each as a table with its figure (ε) beside it. The ε = 0 point is
 * the clean accuracy on the same images as the curve (a clean row with the curve's n: the first n test
 * images), or absent — never a clean accuracy on other images.
 */
function sweepBlocks(runs: RunResults[], paper: PaperResults, write: Writer): Block[] {
  const blocks: Block[] = [];
  const ordered = [...runs].sort((a, b) => {
    const rank = (r: RunResults) => paperRank(paper, r.manifest.config.dataset)(paperMethodName(r.manifest.config.method));
    return a.manifest.config.dataset.localeCompare(b.manifest.config.dataset) || rank(a) - rank(b) || a.name.localeCompare(b.name);
  });
  for (const run of ordered) {
    const attacked = run.rows.filter((r) => r.scored_on === 'ensemble' && r.surrogate === '');
    const method = paperName(paperMethodName(run.manifest.config.method));
    for (const loss of distinct(['logits', 'clipped-probs', ...attacked.map((r) => r.loss)]).filter((l) => l !== '' && attacked.some((r) => r.loss === l))) {
      for (const vary of ['eps', 'steps'] as const) {
        const curves = sweeps(attacked.filter((r) => r.loss === loss), vary);
        if (curves.length === 0) continue;
        const ns = distinct(curves.flatMap((rows) => rows.map((r) => r.n)));
        const n = ns.length === 1 ? ns[0] : undefined;
        const clean = n === undefined ? undefined : run.rows.find((r) => r.attack === 'none' && r.scored_on === 'ensemble' && r.n === n);
        const xs = [...new Set(curves.flatMap((rows) => rows.map((r) => sweptValue(r, vary))))].sort((a, b) => a - b);
        const series = curves.map((rows) => ({ name: seriesName(rows[0], vary), rows })).sort((a, b) => a.name.localeCompare(b.name));
        const nPart = ns.length === 1 ? `n = ${thousands(ns[0])} test images` : `n = ${ns.map(thousands).join(', ')} test images`;
        const what = vary === 'eps' ? 'ensemble accuracy against ε' : `ensemble accuracy against steps (ε = ${epsOf(curves[0][0])})`;
        const heading = `${method} (run ${run.name}): ${what} · ${lossText(loss)} · ${nPart}`;
        blocks.push({ kind: 'heading', level: 3, text: heading });
        const withClean = vary === 'eps' && clean !== undefined;
        const header = ['Attack', ...(withClean ? ['ε = 0 (clean)'] : []), ...xs.map((x) => (vary === 'eps' ? `ε = ${x}` : `${x} steps`))];
        const rows = series.map(({ name, rows: points }) => [
          name,
          ...(withClean ? [accuracyText(clean.accuracy, clean.n)] : []),
          ...xs.map((x) => {
            const r = points.find((p) => sweptValue(p, vary) === x);
            return r ? `${accuracyText(r.accuracy, r.n)}${zeroGradText(r.zero_grad_fraction)}` : '–';
          }),
        ]);
        blocks.push({ kind: 'table', header, rows });
        if (vary === 'eps') {
          if (!withClean) blocks.push({ kind: 'text', text: `No clean accuracy on these ${n === undefined ? '' : `${thousands(n)} `}images was measured, so the curves start at the first ε, not at ε = 0.` });
          const name = `figures/eps-sweep-${run.name}-${loss}.svg`;
          const lines = series.map(({ name: s, rows: points }) => ({
            name: s,
            points: [...(withClean ? [[0, clean.accuracy] as [number, number]] : []), ...points.map((r) => [epsOf(r), r.accuracy] as [number, number])],
          }));
          write(name, lineChart(`${method} (run ${run.name}): ensemble accuracy against ε\n${lossText(loss)}, ${nPart}`, 'ε (L∞, pixels in [0, 1])', lines));
          blocks.push({ kind: 'figure', path: name, caption: heading });
        }
      }
    }
  }
  return blocks.length > 0 ? blocks : [{ kind: 'text', text: '_No ε or iteration sweeps yet (`ensdef attack --sweep-eps ...`, `--sweep-steps ...`)._' }];
}

/** Figure 1 as `reproduce` draws it (SVG), or as an earlier ensdef drew it (PNG). */
const FIGURE1 = /^figure1-(.*)\.(svg|png)$/;

/**
 * Figure 1 blocks for what `reproduce` drew (figures/figure1-DATASET.svg: its title names the attack, ε and
 * model; a PNG from an earlier ensdef has no title, so its caption is all there is).
 */
function figure1Blocks(outDir: string, dataName: DataName, paper: PaperResults): Block[] {
  const dir = join(outDir, 'figures');
  const datasets = distinct(paper.table2.map((r) => r.dataset));
  const rank = (file: string) => {
    const index = datasets.indexOf(FIGURE1.exec(file)![1]);
    return index < 0 ? datasets.length : index;
  };
  const files = (existsSync(dir) ? readdirSync(dir).filter((f) => FIGURE1.test(f)) : []).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return files.map((file) => ({
    kind: 'figure' as const,
    path: `figures/${file}`,
    caption: `Figure 1 (${dataName(FIGURE1.exec(file)![1])}): the first test images, clean (top row) and attacked (bottom row), each labelled with the class the attacked model predicts (green: right, red: wrong).`,
  }));
}

function runsTable(runs: RunResults[]): Block {
  return {
    kind: 'table',
    header: ['run', 'status', 'dataset', 'method', 'members', 'epochs', 'train limit', 'seed', 'backend', 'result rows'],
    rows: runs.map(({ name, manifest: m, rows }) => [
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
  };
}

const REPORT_MD = 'report.md';
const REPORT_HTML = 'report.html';
const REPORT_TITLE = 'ensdef report';

/** An earlier ensdef report: its report.md starts with our title (someone else's report.md does not count). */
function holdsEnsdefReport(outDir: string): boolean {
  const path = join(outDir, REPORT_MD);
  return existsSync(path) && readFileSync(path, 'utf8').startsWith(`# ${REPORT_TITLE}\n`);
}

/** Refuses to write into a non-empty directory that is not an earlier ensdef report, unless forced. */
function checkOutDir(outDir: string, force: boolean): void {
  checkDirectoryFlag('--out', outDir, 'choose a directory for the report');
  if (!existsSync(outDir) || force) return;
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
  const beyondTable4 = buildBeyondTable4(runs, paper);
  const beyond = buildBeyondTable(runs, paper);
  const flags = maskingFlags(runs);
  const labels = dataLabels(allRuns);
  const dataName = (dataset: string) => labels.get(dataset) ?? dataset;
  const written: string[] = [];
  const write: Writer = (name, content) => {
    writeFileAtomic(join(outDir, name), content);
    written.push(name);
  };
  write('table2.csv', toCsv(table2));
  write('table4.csv', toCsv(table4));
  write('beyond-table4.csv', toCsv(beyondTable4));
  write('beyond.csv', toCsv(beyond));
  const table2Section = table2Blocks(table2, dataName);
  write('table2.md', toMarkdown([{ kind: 'heading', level: 1, text: 'Table 2' }, { kind: 'text', text: CELL_KEY }, ...table2Section]));
  const table4Section = table4Blocks(table4, dataName, table4Figures(table4, dataName, write));
  write('table4.md', toMarkdown([{ kind: 'heading', level: 1, text: 'Table 4' }, { kind: 'text', text: CELL_KEY }, ...table4Section]));
  // Figure 1 needs the models, so `reproduce` draws it; the report shows what is there.
  const figures = [...figure1Blocks(outDir, dataName, paper), ...figure2(table2, dataName, write)];
  const sweepSection = sweepBlocks(runs, paper, write);
  const blocks: Block[] = [
    { kind: 'heading', level: 1, text: REPORT_TITLE },
    { kind: 'text', text: `Paper values: ${paper.source}. ${CELL_KEY} Every number names its attack parameters, loss form and gradient source in the CSVs.` },
    { kind: 'heading', level: 2, text: 'Data' },
    { kind: 'list', items: dataMarkdown(allRuns).split('\n').map((line) => line.replace(/^- /, '')) },
    { kind: 'heading', level: 2, text: 'Runs' },
    runsTable(allRuns),
    { kind: 'heading', level: 2, text: 'Table 2 — ensembles under FGSM and BIM ([CSV](table2.csv))' },
    ...table2Section,
    { kind: 'heading', level: 2, text: 'Table 4 — other defenses and their bagging ensembles ([CSV](table4.csv))' },
    ...table4Section,
    { kind: 'heading', level: 2, text: 'Beyond Table 4 — the defenses under the worst-case suite ([CSV](beyond-table4.csv))' },
    {
      kind: 'text',
      text: "Real robustness beside the paper's defenses: every run attacked with the worst-case suite (APGD-CE, APGD-DLR, Square), its clean accuracy and the paper's FGSM and BIM beside each stage, so that the paper's defenses stand next to Madry et al. (2018)'s PGD adversarial training and ensembles of it.",
    },
    ...beyondTable4Blocks(beyondTable4, dataName),
    { kind: 'heading', level: 2, text: "Beyond the paper: other attacks at the paper's ε (PGD, APGD, Square, the worst-case suite), transfer attacks ([CSV](beyond.csv))" },
    ...beyondBlocks(beyond, dataName),
    { kind: 'heading', level: 2, text: 'ε and iteration sweeps' },
    ...sweepSection,
    { kind: 'heading', level: 2, text: 'Gradient-masking checks' },
    flagsText(flags, runs),
    { kind: 'heading', level: 2, text: 'Figures 1 and 2' },
    ...(figures.length > 0 ? figures : [{ kind: 'text' as const, text: '_No figures yet._' }]),
  ];
  write(REPORT_MD, toMarkdown(blocks));
  write(REPORT_HTML, toHtml(blocks, REPORT_TITLE, outDir));
  return { outDir, files: written };
}
