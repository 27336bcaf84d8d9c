/** `ensdef report`: rebuilds the tables and figures from saved results, recomputing nothing. */
import { Command } from 'commander';
import { join, resolve } from 'node:path';
import { buildReport } from '../eval/report.ts';
import type { GlobalOptions } from './global.ts';

export const DEFAULT_REPORT_DIR = join('results', 'report');

export function reportCommand(): Command {
  return new Command('report')
    .description("rebuild the paper's Table 2 and Table 4 (CSV + Markdown, paper values beside ours) and figures from saved results")
    .option('--runs <dir>', 'runs directory to read (default: --runs-dir)')
    .option('--out <dir>', 'output directory', DEFAULT_REPORT_DIR)
    .option('--force', 'write into --out even if it holds files that are not an ensdef report', false)
    .action((flags: { runs?: string; out: string; force: boolean }, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const { outDir, files } = buildReport(flags.runs ?? global.runsDir, flags.out, { force: flags.force });
      console.log(`report written to ${resolve(outDir)}: ${files.length} files (open report.md)`);
    });
}
