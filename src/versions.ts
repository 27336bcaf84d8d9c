/** Versions of installed packages, as recorded in manifests and backend reports. */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export function installedVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

export function ensdefVersion(): string {
  return (require('../package.json') as { version: string }).version;
}

let commit: string | undefined;

/**
 * The git commit ensdef runs from, "+modified" when tracked files differ from it; "not a git checkout"
 * for an installed package. Recorded in manifests, so a saved result names the code that computed it.
 */
export function ensdefCommit(): string {
  if (commit === undefined) {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const git = (...args: string[]) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
    const head = git('rev-parse', 'HEAD');
    if (head.status !== 0) commit = 'not a git checkout';
    else commit = head.stdout.trim() + (git('status', '--porcelain', '--untracked-files=no').stdout.trim() ? '+modified' : '');
  }
  return commit;
}
