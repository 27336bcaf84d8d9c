/**
 * A run's results.csv: one self-describing row per measurement (RobustBench style). Each row names its
 * attack and carries all of its parameters (a JSON `params` column), and the table it belongs to; the
 * file starts with a format line. Rows are appended by rewriting the whole file atomically; the reader
 * refuses malformed content with a message that names the file and the line, and reads the earlier
 * formats (ensdef 0.1's 17 columns; format 2, without the backend column) as the current one, so an old run
 * loses no row: the next append rewrites it in the current format.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atDefaultEps, isPaperSpec, type AttackParams, type AttackSpec } from '../attacks/definition.ts';
import { GRAD_NAMES, LOSS_FORMS, type GradName, type LossForm } from '../attacks/gradients.ts';
import { ATTACK_IDS, attackDefinition } from '../attacks/registry.ts';
import type { DatasetDescriptor } from '../datasets/descriptor.ts';
import { DATASET_NAMES, datasetDescriptor } from '../datasets/registry.ts';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../run/atomic.ts';
import { withFileLock } from '../run/lock.ts';

export const RESULTS_FILE = 'results.csv';
export const RESULTS_FORMAT = 3;
const FORMAT_LINE = `#ensdef-results-format=${RESULTS_FORMAT}`;
/** Format 2: format 3 without the backend column (ensdef before 2026-12-07). */
const FORMAT_2_LINE = '#ensdef-results-format=2';

/**
 * Which table a row is a cell of: `paper` — Tables 2 and 4 (clean accuracy, and the paper's attacks at its
 * parameters, white-box); `beyond` — the beyond-the-paper table (other attacks at their default ε, and
 * transfer attacks); `other` — neither (sweep points, custom parameters), read by the sweeps and checks.
 */
export const TABLE_TAGS = ['paper', 'beyond', 'other'] as const;
export type TableTag = (typeof TABLE_TAGS)[number];

export interface ResultRow {
  dataset: string;
  method: string;
  table: TableTag;
  /** An attack id of the registry, or 'none' for clean accuracy. */
  attack: string;
  /** The attack's parameters ({} without an attack). */
  params: AttackParams;
  /** '' without an attack. */
  grad: GradName | '';
  loss: LossForm | '';
  scored_on: 'single' | 'ensemble';
  /** Member whose gradient (Grad. 1) or prediction (single) the row is about; 'all' = mean over members; '' = none. */
  member: string;
  /** Run whose ensemble supplied the gradients (transfer attack); '' for white-box. */
  surrogate: string;
  n: number;
  accuracy: number;
  /** Fraction of examples whose every input gradient was exactly zero; null without an attack. */
  zero_grad_fraction: number | null;
  /** Mean model queries per image of a score-based attack (Square); null otherwise. */
  queries: number | null;
  seconds: number;
  /** The backend that computed the row ('tensorflow', 'native', 'wasm', 'cpu'); '' in rows written before it was recorded (format 2). */
  backend: string;
}

/** The table a measurement belongs to, from what was measured (never from how it was asked for). */
export function tableOf(dataset: DatasetDescriptor, spec: AttackSpec | null, surrogate: string): TableTag {
  if (spec === null) return 'paper';
  if (surrogate !== '') return 'beyond';
  if (isPaperSpec(dataset, spec)) return 'paper';
  return !spec.definition.paper && atDefaultEps(dataset, spec) ? 'beyond' : 'other';
}

/** The attack a row records (null for a clean row). */
export function specOf(row: ResultRow): AttackSpec | null {
  return row.attack === 'none' ? null : { definition: attackDefinition(row.attack), params: row.params };
}

/** A row's ε (0 for clean accuracy). */
export function epsOf(row: ResultRow): number {
  return row.params.eps ?? 0;
}

type Parser<T> = (text: string, row: Record<string, unknown>) => T | undefined;

const text: Parser<string> = (s) => s;
const number: Parser<number> = (s) => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : undefined);
const optionalNumber: Parser<number | null> = (s, row) => (s === '' ? null : number(s, row));
const oneOf =
  <T extends string>(allowed: readonly T[]): Parser<T> =>
  (s) =>
    (allowed as readonly string[]).includes(s) ? (s as T) : undefined;
const MEMBER = /^(|all|\d+)$/;

/** The attack's parameters, exactly its keys with finite numbers, in the order it declares them. */
function parseParams(s: string, row: Record<string, unknown>): AttackParams | undefined {
  let value: unknown;
  try {
    value = JSON.parse(s);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const keys = row.attack === 'none' ? [] : attackDefinition(row.attack as string).params.map((p) => p.key);
  if (Object.keys(record).length !== keys.length || keys.some((k) => typeof record[k] !== 'number' || !Number.isFinite(record[k]))) return undefined;
  return Object.fromEntries(keys.map((k) => [k, record[k] as number]));
}

/** Every column, in file order, with the parser that validates it (a parser may look at the columns before it). */
const COLUMNS: { [K in keyof ResultRow]: Parser<ResultRow[K]> } = {
  dataset: text,
  method: text,
  table: oneOf(TABLE_TAGS),
  attack: (s) => (s === 'none' || ATTACK_IDS.includes(s) ? s : undefined),
  params: parseParams,
  grad: oneOf(['', ...GRAD_NAMES]),
  loss: oneOf(['', ...LOSS_FORMS]),
  scored_on: oneOf(['single', 'ensemble']),
  member: (s) => (MEMBER.test(s) ? s : undefined),
  surrogate: text,
  n: number,
  accuracy: number,
  zero_grad_fraction: optionalNumber,
  queries: optionalNumber,
  seconds: number,
  backend: oneOf(['', 'tensorflow', 'native', 'wasm', 'cpu']),
};

export const RESULT_COLUMNS = Object.keys(COLUMNS) as (keyof ResultRow)[];

/** ensdef 0.1's 17 columns: the parameters of FGSM, BIM and PGD as columns of their own. */
const FORMAT_1_COLUMNS = 'dataset,method,attack,grad,loss,eps,alpha,steps,restarts,scored_on,member,accuracy,zero_grad_fraction,n,seconds,surrogate,seed';

export function resultsPath(runDirectory: string): string {
  return join(runDirectory, RESULTS_FILE);
}

function malformed(path: string, detail: string): UserError {
  return new UserError(`${path}: ${detail}; fix or move the file aside (later rows are appended to a fresh one)`);
}

/** Rows in the current columns; `firstLine` is the file line of rows[0], for messages. */
function parseRows(path: string, header: string[], rows: string[][], firstLine: number): ResultRow[] {
  if (header.join(',') !== RESULT_COLUMNS.join(',')) {
    throw malformed(path, `unexpected header '${header.join(',')}' (expected '${RESULT_COLUMNS.join(',')}')`);
  }
  return rows.map((values, r) => {
    const row: Record<string, unknown> = {};
    RESULT_COLUMNS.forEach((column, c) => {
      const value = COLUMNS[column](values[c], row);
      if (value === undefined) throw malformed(path, `line ${firstLine + r}: column ${column}: invalid value '${values[c]}'`);
      row[column] = value;
    });
    return row as unknown as ResultRow;
  });
}

/**
 * Format 1 rows in the current columns: the attack's parameters gathered from their columns into `params`
 * (FGSM's recorded n = 1 was implied, not a parameter), the table derived as it is for new rows.
 */
function migrateFormat1(path: string, header: string[], rows: string[][]): ResultRow[] {
  return rows.map((values, r) => {
    const old = Object.fromEntries(header.map((column, c) => [column, values[c]]));
    const attack = old.attack;
    if (attack !== 'none' && !ATTACK_IDS.includes(attack)) throw malformed(path, `line ${r + 2}: column attack: invalid value '${attack}'`);
    const keys = attack === 'none' ? [] : attackDefinition(attack).params.map((p) => p.key);
    const params = Object.fromEntries(keys.map((k) => [k, Number(old[k])]));
    const formatted = [old.dataset, old.method, 'other', attack, JSON.stringify(params), old.grad, old.loss, old.scored_on, old.member, old.surrogate, old.n, old.accuracy, old.zero_grad_fraction, '', old.seconds, ''];
    if (!DATASET_NAMES.includes(old.dataset)) throw malformed(path, `line ${r + 2}: column dataset: unknown data set '${old.dataset}'`);
    const [row] = parseRows(path, RESULT_COLUMNS, [formatted], r + 2);
    return { ...row, table: tableOf(datasetDescriptor(row.dataset), specOf(row), row.surrogate) };
  });
}

/** All rows of a results file (either format); [] if it does not exist. */
export function readResults(path: string): ResultRow[] {
  if (!existsSync(path)) return [];
  const content = readFileSync(path, 'utf8');
  const formatted = content.startsWith('#');
  const firstLine = content.slice(0, content.indexOf('\n') + 1 || content.length);
  const format2 = firstLine.trim() === FORMAT_2_LINE;
  if (formatted && !format2 && firstLine.trim() !== FORMAT_LINE) {
    throw malformed(path, `format line '${firstLine.trim()}' is not '${FORMAT_LINE}' (a newer ensdef wrote it, or it is damaged)`);
  }
  let records: string[][];
  try {
    records = parse(formatted ? content.slice(firstLine.length) : content, { relax_column_count: false, skip_empty_lines: true }) as string[][];
  } catch (error) {
    throw malformed(path, `not valid CSV (${(error as Error).message.split('\n')[0]})`);
  }
  if (records.length === 0) return [];
  const [header, ...rows] = records;
  if (!formatted && header.join(',') === FORMAT_1_COLUMNS) return migrateFormat1(path, header, rows);
  if (!formatted) throw malformed(path, `no '${FORMAT_LINE}' line and an unknown header '${header.join(',')}'`);
  // A format 2 row did not record its backend: read as '' and written back so on the next append.
  if (format2) return parseRows(path, [...header, 'backend'], rows.map((values) => [...values, '']), 3);
  return parseRows(path, header, rows, 3);
}

/** The columns that are a measurement's outcome, or derived from what was measured; the others say what was measured. */
const NOT_IN_KEY: readonly (keyof ResultRow)[] = ['table', 'accuracy', 'zero_grad_fraction', 'queries', 'seconds', 'backend'];

/** What a row measured, without its outcome: rows with equal keys are the same measurement. */
export function measurementKey(row: ResultRow): string {
  return JSON.stringify(RESULT_COLUMNS.filter((c) => !NOT_IN_KEY.includes(c)).map((c) => row[c]));
}

/**
 * Appends rows (format line and header written once); the file is replaced atomically, never left
 * half-written. The read and the rewrite happen under the file's lock, so concurrent attack jobs on one
 * run (Slurm jobs on several nodes) each keep the others' rows.
 */
export function appendResults(path: string, rows: ResultRow[]): void {
  withFileLock(path, () => rewriteWith(path, rows));
}

function rewriteWith(path: string, rows: ResultRow[]): void {
  const all = [...readResults(path), ...rows];
  const csv = stringify(all, {
    header: true,
    columns: RESULT_COLUMNS,
    cast: { number: (n) => String(n), object: (params) => JSON.stringify(params) },
  });
  writeFileAtomic(path, `${FORMAT_LINE}\n${csv}`);
}
