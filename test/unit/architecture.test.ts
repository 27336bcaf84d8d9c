/**
 * The layering of src/: no folder imports a folder that imports it back (directly or through others),
 * docs/ARCHITECTURE.md's table says what each folder imports (and in which order they stack), and source
 * comments cite only what ships with the repository.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
}

/** The top folder of src/ a file is in; files directly in src/ (cli.ts, errors.ts, ...) stand alone. */
function unitOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? `${parts[0]}/` : parts[0];
}

/** Folder → folders it imports (static imports and dynamic imports of literal paths). */
function folderGraph(): Map<string, Set<string>> {
  return new Map([...importKinds()].map(([from, to]) => [from, new Set(to.keys())]));
}

/**
 * Folder → folder it imports → whether every import of it is of types only (`import type { … }`, or every
 * name in the braces marked `type`).
 */
function importKinds(): Map<string, Map<string, boolean>> {
  const graph = new Map<string, Map<string, boolean>>();
  for (const file of sourceFiles(SRC)) {
    const from = unitOf(file);
    for (const match of readFileSync(file, 'utf8').matchAll(/(?:import\s+(type\s+)?(\{[^}]*\})?[^'";]*?from|from|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const to = unitOf(normalize(join(dirname(file), match[3])));
      if (to === from) continue;
      const names = match[2]?.slice(1, -1).split(',').map((n) => n.trim()).filter((n) => n !== '');
      const typesOnly = match[1] !== undefined || (names !== undefined && names.length > 0 && names.every((n) => n.startsWith('type ')));
      const edges = graph.get(from) ?? new Map<string, boolean>();
      graph.set(from, edges.set(to, (edges.get(to) ?? true) && typesOnly));
    }
  }
  return graph;
}

/** A path of imports from `start` back to itself, or undefined. */
function cycleFrom(graph: Map<string, Set<string>>, start: string): string[] | undefined {
  const search = (node: string, path: string[], seen: Set<string>): string[] | undefined => {
    for (const next of graph.get(node) ?? []) {
      if (next === start) return [...path, next];
      if (seen.has(next)) continue;
      seen.add(next);
      const found = search(next, [...path, next], seen);
      if (found) return found;
    }
    return undefined;
  };
  return search(start, [start], new Set());
}

test('no folder of src/ imports a folder that imports it back', () => {
  const graph = folderGraph();
  assert.ok(graph.get('commands/')?.has('attacks/'), 'the import graph was not read');
  const cycles = [...graph.keys()].map((folder) => cycleFrom(graph, folder)).filter((cycle) => cycle !== undefined);
  assert.deepEqual(cycles.map((cycle) => cycle.join(' → ')), []);
});

test("docs/ARCHITECTURE.md's imports column is what each folder imports, each from a row below it", () => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/ARCHITECTURE.md', import.meta.url)), 'utf8');
  const table = doc.slice(doc.indexOf('| folder | what it holds | imports |'));
  const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
  const units = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  const graph = importKinds();
  const below: string[] = [];
  for (const row of rows) {
    const cells = row.split(/(?<!\\)\|/).map((c) => c.trim());
    const folders = units(cells[1]);
    const listed = cells[cells.length - 2];
    if (listed !== 'everything') {
      // Files directly in src/ (errors.ts, versions.ts) stand apart: anything may import them.
      const actual = new Map([...folders.flatMap((f) => [...(graph.get(f) ?? [])])].filter(([to]) => to.endsWith('/')));
      const expected = [...actual].sort(([a], [b]) => a.localeCompare(b)).map(([to, types]) => `\`${to}\`${types ? ' (types)' : ''}`);
      assert.equal(listed, expected.length > 0 ? expected.join(', ') : '–', `imports of ${folders.join(', ')}`);
      for (const [to] of actual) assert.ok(below.includes(to), `${folders.join(', ')} imports ${to}, which the table puts above it`);
    }
    below.push(...folders);
  }
  assert.ok(below.includes('training/') && below.includes('run/'), 'the table was not read');
  assert.deepEqual([...graph.keys()].filter((f) => f.endsWith('/') && !below.includes(f)), [], 'every folder of src/ has a row');
});

test('the cycle check finds a cycle when there is one', () => {
  const graph = new Map([['a/', new Set(['b/'])], ['b/', new Set(['c/'])], ['c/', new Set(['a/'])]]);
  assert.deepEqual(cycleFrom(graph, 'a/'), ['a/', 'b/', 'c/', 'a/']);
  assert.equal(cycleFrom(new Map([['a/', new Set(['b/'])]]), 'a/'), undefined);
});

test('source comments cite nothing outside the repository', () => {
  const outside = sourceFiles(SRC).filter((file) => /\bSPEC\.md|\bNOTES\.md|\.\.\/shared\//.test(readFileSync(file, 'utf8')));
  assert.deepEqual(outside.map((file) => relative(SRC, file)), []);
});
