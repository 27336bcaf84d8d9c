/**
 * scripts/save-reproduction.sh's state merge: SAVED CURRENT DEST writes to DEST the reproduce-state.json of
 * an earlier save (SAVED) and of the OUT being saved (CURRENT) as one (reproduce/run.ts: mergeStates).
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../src/errors.ts';
import { mergeStates, type ReproduceState } from '../src/reproduce/run.ts';
import { writeJsonAtomic } from '../src/run/atomic.ts';

const [saved, current, dest] = process.argv.slice(2);
const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as ReproduceState;
try {
  writeJsonAtomic(dest, mergeStates(read(saved), read(current)));
} catch (error) {
  if (!(error instanceof UserError)) throw error;
  process.stderr.write(`save-reproduction: ${error.message}\n`);
  process.exit(1);
}
