/**
 * The open-choices study on a saved run: every distinct measurement the readings need (open-choices.ts),
 * each saved to RUN/open-choices.csv as soon as it is measured (a rerun measures only what is missing), and
 * the table — each reading's four cells beside the paper's, with 95 % intervals — written to
 * RUN/open-choices.md.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { datasetDescriptor } from '../datasets/registry.ts';
import { usageError, UserError } from '../errors.ts';
import { writeFileAtomic } from '../run/atomic.ts';
import { withLock } from '../run/lock.ts';
import { Progress } from '../run/progress.ts';
import { openRun, withRunEnsemble } from './attack-run.ts';
import { decimalsFor, wilsonInterval } from './intervals.ts';
import {
  CELLS,
  attackKey,
  choiceJobs,
  cleanAccuracy,
  hasPaperOrder,
  measureChoiceJob,
  pixelStd,
  readings,
  scaleFactor,
  scoreKey,
  type ChoiceMeasurement,
  type Reading,
} from './open-choices.ts';
import { loadPaperResults } from './paper.ts';

export const CHOICES_CSV = 'open-choices.csv';
export const CHOICES_TABLE = 'open-choices.md';

const COLUMNS = ['attack_key', 'score_key', 'correct', 'zero_direction', 'n', 'seconds'] as const;

export function readChoiceMeasurements(path: string): ChoiceMeasurement[] {
  if (!existsSync(path)) return [];
  try {
    const records = parse(readFileSync(path, 'utf8'), { columns: true, skip_empty_lines: true }) as Record<string, string>[];
    return records.map((r) => {
      const row = { attackKey: r.attack_key, scoreKey: r.score_key, correct: Number(r.correct), zeroDirection: Number(r.zero_direction), n: Number(r.n), seconds: Number(r.seconds) };
      if (!row.attackKey || !row.scoreKey || ![row.correct, row.zeroDirection, row.n, row.seconds].every(Number.isFinite)) throw new Error(`a row is incomplete: ${JSON.stringify(r)}`);
      return row;
    });
  } catch (error) {
    throw new UserError(`${path} is not a readable open-choices file (${(error as Error).message.split('\n')[0]}); move it away to measure again`);
  }
}

function writeChoiceMeasurements(path: string, rows: ChoiceMeasurement[]): void {
  writeFileAtomic(path, stringify(rows.map((r) => [r.attackKey, r.scoreKey, r.correct, r.zeroDirection, r.n, r.seconds.toFixed(1)]), { header: true, columns: [...COLUMNS] }));
}

export interface OpenChoicesOptions {
  runsRoot: string;
  runName: string;
  testLimit?: number;
  batchSize: number;
  log: (line: string) => void;
}

export interface OpenChoicesResult {
  table: string;
  /** Measurements this call made (the rest were read from open-choices.csv). */
  measured: number;
}

export async function runOpenChoices(options: OpenChoicesOptions): Promise<OpenChoicesResult> {
  const run = openRun(options.runsRoot, options.runName);
  const { manifest } = run;
  if (manifest.config.members < 2) throw usageError(`--run ${run.name}: it has one model; the open choices are about ensembles (train one with --members 2 or more)`);
  const csvPath = join(run.dir, CHOICES_CSV);
  readChoiceMeasurements(csvPath);
  const descriptor = datasetDescriptor(manifest.config.dataset);
  const list = readings();
  let measured = 0;
  return withRunEnsemble(run, options.testLimit, async (ensemble, data) => {
    const std = pixelStd(data.train.images);
    options.log(`open choices on run ${run.name}: ${data.name}, ${ensemble.size} members, ${data.test.count} test images; training pixels' std ${std.toFixed(4)}`);
    await withLock(join(run.dir, '.locks', 'open-choices.lock'), `the open-choices study of run ${run.name}`, async () => {
      const jobs = choiceJobs(list);
      for (const [index, job] of jobs.entries()) {
        const key = attackKey(job.cell, job.reading);
        const saved = readChoiceMeasurements(csvPath);
        const have = (score: string) => saved.some((r) => r.attackKey === key && r.scoreKey === score && r.n === data.test.count);
        if (job.scoreKeys.every((s) => have(s.key))) continue;
        const progress = new Progress(`[${index + 1}/${jobs.length}] ${key}`, 'images');
        const rows = measureChoiceJob(ensemble, data, job, descriptor.paperAttacks, std, options.batchSize, (done, total) => progress.update({ done, total }));
        progress.finish();
        const kept = saved.filter((r) => !rows.some((m) => m.attackKey === r.attackKey && m.scoreKey === r.scoreKey));
        writeChoiceMeasurements(csvPath, [...kept, ...rows]);
        measured += rows.length;
        rows.forEach((r) => options.log(`[${index + 1}/${jobs.length}] ${key} → ${r.scoreKey}: accuracy ${(r.correct / r.n).toFixed(4)}, zero direction ${((100 * r.zeroDirection) / r.n).toFixed(1)} % (${r.seconds.toFixed(0)} s)`));
      }
    });
    const clean = cleanAccuracy(ensemble, data, options.batchSize);
    const table = choicesTable(list, readChoiceMeasurements(csvPath), clean, { dataset: manifest.config.dataset, n: data.test.count, std, runName: run.name, members: ensemble.size });
    writeFileAtomic(join(run.dir, CHOICES_TABLE), table);
    return { table, measured };
  });
}

/** "0.0102 [0.0082, 0.0126]", with the share of all-zero step directions where there are any. */
function formatCell(row: ChoiceMeasurement): string {
  const accuracy = row.correct / row.n;
  const digits = decimalsFor(row.n);
  const [lo, hi] = wilsonInterval(accuracy, row.n);
  const zero = row.zeroDirection > 0 ? ` {${((100 * row.zeroDirection) / row.n).toFixed(1)} % zero}` : '';
  return `${accuracy.toFixed(digits)} [${lo.toFixed(digits)}, ${hi.toFixed(digits)}]${zero}`;
}

export interface ChoicesTableContext {
  dataset: string;
  n: number;
  std: number;
  runName: string;
  members: number;
}

/** The study's table: the paper's row, then each reading's four cells and whether they fall in the paper's order. */
export function choicesTable(list: { name: string; reading: Reading }[], rows: ChoiceMeasurement[], clean: Record<string, number>, context: ChoicesTableContext): string {
  const paper = loadPaperResults().table2.filter((r) => r.dataset === context.dataset && r.method === 'random_init');
  const paperCell = (attack: string, column: string): number | undefined => (paper.find((r) => r.attack === attack) as Record<string, unknown> | undefined)?.[column] as number | undefined;
  const paperValues = CELLS.map((cell) => paperCell(cell.attack, cell.paperColumn));
  const header = ['reading', 'BIM Grad. 2 → ensemble', 'BIM Grad. 1 → ensemble', 'FGSM Grad. 2 → ensemble', 'BIM Grad. 1 → single', "paper's order?"];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    `| paper (random-init) | ${paperValues.map((v) => (v === undefined ? '–' : v.toFixed(4))).join(' | ')} | ${paperValues.every((v) => v !== undefined) ? (hasPaperOrder(paperValues as number[]) ? 'yes' : 'no') : '–'} |`,
  ];
  for (const { name, reading } of list) {
    const cells = CELLS.map((cell) => rows.find((r) => r.attackKey === attackKey(cell, reading) && r.scoreKey === scoreKey(cell, reading) && r.n === context.n));
    const order = cells.every((c) => c !== undefined) ? (hasPaperOrder(cells.map((c) => c!.correct / c!.n)) ? '**yes**' : 'no') : '–';
    lines.push(`| ${name} | ${cells.map((c) => (c ? formatCell(c) : 'not measured')).join(' | ')} | ${order} |`);
  }
  const factors = (['symmetric', 'standardized', 'bytes'] as const).map((s) => `${s} ×${scaleFactor(s, context.std).toPrecision(4)}`).join(', ');
  return [
    `# The paper's open choices on run ${context.runName} (${context.dataset}, ${context.members} members, ${context.n} test images)`,
    '',
    `Each cell: accuracy [95 % Wilson interval]; {share of images whose step direction was exactly zero at every step}, where any.`,
    `Clean accuracy: member 0 ${clean['member 0'].toFixed(decimalsFor(context.n))}; ensemble by mean probabilities ${clean['ensemble decision=mean-probabilities'].toFixed(decimalsFor(context.n))}, by majority vote ${clean['ensemble decision=majority-vote'].toFixed(decimalsFor(context.n))}.`,
    `The paper's ε and α are scaled to [0, 1] pixels by the reading's scale: ${factors} (standardized: the training pixels' std).`,
    '',
    ...lines,
    '',
  ].join('\n');
}
