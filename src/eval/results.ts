/**
 * A run's results.csv: one row per measurement (RobustBench style), snake_case columns declared once
 * below. Rows are appended by rewriting the whole file atomically; the reader refuses malformed content
 * with a message that names the file and the line.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ATTACK_NAMES, type AttackName } from '../attacks/params.ts';
import { GRAD_NAMES, LOSS_FORMS, type GradName, type LossForm } from '../attacks/gradients.ts';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../run/atomic.ts';

export const RESULTS_FILE = 'results.csv';

export interface ResultRow {
  dataset: string;
  method: string;
  attack: 'none' | AttackName;
  /** '' without an attack. */
  grad: GradName | '';
  loss: LossForm | '';
  eps: number;
  alpha: number | null;
  steps: number | null;
  restarts: number | null;
  scored_on: 'single' | 'ensemble';
  /** Member whose gradient (Grad. 1) or prediction (single) the row is about; 'all' = mean over members; '' = none. */
  member: string;
  accuracy: number;
  /** Fraction of examples whose every input gradient was exactly zero; null without an attack. */
  zero_grad_fraction: number | null;
  n: number;
  seconds: number;
  /** Run whose ensemble supplied the gradients (transfer attack); '' for white-box. */
  surrogate: string;
  /** PGD's random-start seed; null for the deterministic attacks. */
  seed: number | null;
}

type Parser<T> = (text: string) => T | undefined;

const text: Parser<string> = (s) => s;
const number: Parser<number> = (s) => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : undefined);
const optionalNumber: Parser<number | null> = (s) => (s === '' ? null : number(s));
const oneOf =
  <T extends string>(allowed: readonly T[]): Parser<T> =>
  (s) =>
    (allowed as readonly string[]).includes(s) ? (s as T) : undefined;
const MEMBER = /^(|all|\d+)$/;

/** Every column, in file order, with the parser that validates it. */
const COLUMNS: { [K in keyof ResultRow]: Parser<ResultRow[K]> } = {
  dataset: text,
  method: text,
  attack: oneOf(['none', ...ATTACK_NAMES]),
  grad: oneOf(['', ...GRAD_NAMES]),
  loss: oneOf(['', ...LOSS_FORMS]),
  eps: number,
  alpha: optionalNumber,
  steps: optionalNumber,
  restarts: optionalNumber,
  scored_on: oneOf(['single', 'ensemble']),
  member: (s) => (MEMBER.test(s) ? s : undefined),
  accuracy: number,
  zero_grad_fraction: optionalNumber,
  n: number,
  seconds: number,
  surrogate: text,
  seed: optionalNumber,
};

export const RESULT_COLUMNS = Object.keys(COLUMNS) as (keyof ResultRow)[];

export function resultsPath(runDirectory: string): string {
  return join(runDirectory, RESULTS_FILE);
}

function malformed(path: string, detail: string): UserError {
  return new UserError(`${path}: ${detail}; fix or move the file aside (later rows are appended to a fresh one)`);
}

/** All rows of a results file; [] if it does not exist. */
export function readResults(path: string): ResultRow[] {
  if (!existsSync(path)) return [];
  let records: string[][];
  try {
    records = parse(readFileSync(path, 'utf8'), { relax_column_count: false, skip_empty_lines: true }) as string[][];
  } catch (error) {
    throw malformed(path, `not valid CSV (${(error as Error).message.split('\n')[0]})`);
  }
  if (records.length === 0) return [];
  const [header, ...rows] = records;
  if (header.join(',') !== RESULT_COLUMNS.join(',')) {
    throw malformed(path, `unexpected header '${header.join(',')}' (expected '${RESULT_COLUMNS.join(',')}')`);
  }
  return rows.map((values, r) => {
    const row: Record<string, unknown> = {};
    RESULT_COLUMNS.forEach((column, c) => {
      const value = COLUMNS[column](values[c]);
      if (value === undefined) throw malformed(path, `line ${r + 2}: column ${column}: invalid value '${values[c]}'`);
      row[column] = value;
    });
    return row as unknown as ResultRow;
  });
}

/** The columns that are a measurement's outcome; the others say what was measured. */
const OUTCOME_COLUMNS: readonly (keyof ResultRow)[] = ['accuracy', 'zero_grad_fraction', 'seconds'];

/** What a row measured, without its outcome: rows with equal keys are the same measurement. */
export function measurementKey(row: ResultRow): string {
  return JSON.stringify(RESULT_COLUMNS.filter((c) => !OUTCOME_COLUMNS.includes(c)).map((c) => row[c]));
}

/** Appends rows (header written once); the file is replaced atomically, never left half-written. */
export function appendResults(path: string, rows: ResultRow[]): void {
  const all = [...readResults(path), ...rows];
  writeFileAtomic(path, stringify(all, { header: true, columns: RESULT_COLUMNS, cast: { number: (n) => String(n) } }));
}
