/** A fresh directory under the OS temp dir, removed when the calling test file finishes. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `ensdef-${prefix}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
