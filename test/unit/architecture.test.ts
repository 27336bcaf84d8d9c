/**
 * The layering of src/: no folder imports a folder that imports it back (directly or through others), and
 * source comments cite only what ships with the repository.
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
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(SRC)) {
    const from = unitOf(file);
    for (const match of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const to = unitOf(normalize(join(dirname(file), match[1])));
      if (to !== from) graph.set(from, (graph.get(from) ?? new Set()).add(to));
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

test('the cycle check finds a cycle when there is one', () => {
  const graph = new Map([['a/', new Set(['b/'])], ['b/', new Set(['c/'])], ['c/', new Set(['a/'])]]);
  assert.deepEqual(cycleFrom(graph, 'a/'), ['a/', 'b/', 'c/', 'a/']);
  assert.equal(cycleFrom(new Map([['a/', new Set(['b/'])]]), 'a/'), undefined);
});

test('source comments cite nothing outside the repository', () => {
  const outside = sourceFiles(SRC).filter((file) => /\bSPEC\.md|\bNOTES\.md|\.\.\/shared\//.test(readFileSync(file, 'utf8')));
  assert.deepEqual(outside.map((file) => relative(SRC, file)), []);
});
