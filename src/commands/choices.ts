/** `ensdef choices` and `ensdef alignment`: studies of a run's ensemble beyond the paper's tables. */
import { Command } from 'commander';
import { ALIGNMENT_FILE, runAlignment } from '../eval/alignment.ts';
import { ATTACK_BATCH_SIZE } from '../eval/attack-run.ts';
import { CHOICES_CSV, CHOICES_TABLE, runOpenChoices } from '../eval/open-choices-run.ts';
import { resolveRunName } from '../run/run-dir.ts';
import { log, startBackend, type GlobalOptions } from './global.ts';
import { integerOption } from './parse.ts';

interface StudyFlags {
  run?: string;
  testLimit?: number;
  batchSize: number;
}

function studyCommand(name: string, description: string, study: (global: GlobalOptions, runName: string, flags: StudyFlags) => Promise<void>): Command {
  return new Command(name)
    .description(description)
    .option('--run <name>', 'run to study, an ensemble (default: the most recent run)')
    .option('--test-limit <n>', "only the first N test examples (default: the run's own --test-limit, else all)", integerOption('--test-limit', 1))
    .option('--batch-size <n>', 'images processed together', integerOption('--batch-size', 1), ATTACK_BATCH_SIZE)
    .action(async (flags: StudyFlags, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const runName = resolveRunName(global.runsDir, flags.run);
      await startBackend(global, log);
      await study(global, runName, flags);
    });
}

export function choicesCommand(): Command {
  return studyCommand(
    'choices',
    `measure which of the choices the paper leaves open (loss, label, Grad. 2's combination, BIM's projection and clipping, the scale of ε, the ensemble's decision) give its Table 2 pattern, on a run's ensemble; saves RUN/${CHOICES_CSV} (resumable) and RUN/${CHOICES_TABLE}`,
    async (global, runName, flags) => {
      const result = await runOpenChoices({ runsRoot: global.runsDir, runName, testLimit: flags.testLimit, batchSize: flags.batchSize, log });
      console.log(result.table);
    },
  );
}

export function alignmentCommand(): Command {
  return studyCommand(
    'alignment',
    `how alike a run's members' input gradients are: mean cosine between members, between a member and Grad. 2, and the share of pixels where a member's FGSM step is Grad. 2's; saves RUN/${ALIGNMENT_FILE}`,
    async (global, runName, flags) => {
      const a = await runAlignment({ runsRoot: global.runsDir, runName, testLimit: flags.testLimit, batchSize: flags.batchSize });
      console.log(
        `run ${a.run} (${a.method}, ${a.members} members, ${a.n} test images): pairwise cosine ${a.pairwiseCosine.toFixed(3)}, cosine to Grad. 2 ${a.cosineToGrad2.toFixed(3)}, sign agreement with Grad. 2 ${a.signAgreementWithGrad2.toFixed(3)}`,
      );
    },
  );
}
