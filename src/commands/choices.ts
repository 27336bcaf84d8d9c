/** `ensdef choices`: the paper's open choices measured on a run's ensemble, and its members' gradient alignment. */
import { Command } from 'commander';
import { ATTACK_BATCH_SIZE } from '../eval/attack-run.ts';
import { ALIGNMENT_FILE, CHOICES_CSV, CHOICES_TABLE, runOpenChoices } from '../eval/open-choices-run.ts';
import { resolveRunName } from '../run/run-dir.ts';
import { log, startBackend, type GlobalOptions } from './global.ts';
import { integerOption } from './parse.ts';

export function choicesCommand(): Command {
  return new Command('choices')
    .description(
      `measure which of the choices the paper leaves open (loss, label, Grad. 2's combination, BIM's projection and clipping, the scale of ε, the ensemble's decision) give its Table 2 pattern, on a run's ensemble; saves RUN/${CHOICES_CSV} (resumable), RUN/${CHOICES_TABLE} and RUN/${ALIGNMENT_FILE}`,
    )
    .option('--run <name>', 'run to study, an ensemble (default: the most recent run)')
    .option('--test-limit <n>', "only the first N test examples (default: the run's own --test-limit, else all)", integerOption('--test-limit', 1))
    .option('--batch-size <n>', 'images attacked together', integerOption('--batch-size', 1), ATTACK_BATCH_SIZE)
    .action(async (flags: { run?: string; testLimit?: number; batchSize: number }, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const runName = resolveRunName(global.runsDir, flags.run);
      await startBackend(global, log);
      const result = await runOpenChoices({ runsRoot: global.runsDir, runName, testLimit: flags.testLimit, batchSize: flags.batchSize, log });
      console.log(result.table);
      const a = result.alignment;
      console.log(
        `gradient alignment (${a.members} members, ${a.n} images): pairwise cosine ${a.pairwiseCosine.toFixed(3)}, cosine to Grad. 2 ${a.cosineToGrad2.toFixed(3)}, sign agreement with Grad. 2 ${a.signAgreementWithGrad2.toFixed(3)}`,
      );
    });
}
