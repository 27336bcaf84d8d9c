/** Versions of installed packages, as recorded in manifests and backend reports. */
import { createRequire } from 'node:module';

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
