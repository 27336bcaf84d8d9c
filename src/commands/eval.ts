/** `ensdef eval`: clean test accuracy of each member and of the ensemble of a run. */
import { Command } from 'commander';
import { evaluateRun } from '../training/evaluate-run.ts';
import { readManifest } from '../run/manifest.ts';
import { resolveRunName, runDir } from '../run/run-dir.ts';
import { log, startBackend, type GlobalOptions } from './global.ts';
import { integerOption } from './parse.ts';

export function evalCommand(): Command {
  return new Command('eval')
    .description('print single-member and ensemble clean test accuracy of a run')
    .option('--run <name>', 'run name (default: the most recent run)')
    .option('--test-limit <n>', 'use only the first N test examples', integerOption('--test-limit', 1))
    .action(async (flags: { run?: string; testLimit?: number }, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const name = resolveRunName(global.runsDir, flags.run);
      const dir = runDir(global.runsDir, name);
      const manifest = readManifest(dir);
      await startBackend(global, log);
      const testLimit = flags.testLimit ?? manifest.config.testLimit;
      const evaluation = await evaluateRun(dir, { ...manifest, config: { ...manifest.config, testLimit } });
      console.log(`run ${name}: ${manifest.config.dataset} ${manifest.config.method}, ${evaluation.testCount} test images`);
      evaluation.memberAccuracy.forEach((a, i) => console.log(`member ${i} test accuracy ${a.toFixed(4)}`));
      console.log(`ensemble test accuracy ${evaluation.ensembleAccuracy.toFixed(4)}`);
    });
}
