/** `ensdef attack`: parses and validates options into attack jobs, runs them on a run's test set, appends results. */
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { GRAD_NAMES, LOSS_FORMS, type GradName, type LossForm } from '../attacks/gradients.ts';
import { attackRun, checkMember, figureWriter, openRun, openSurrogate } from '../attacks/attack-run.ts';
import { formatRow, table2Jobs, table4Jobs, type AttackJob } from '../attacks/jobs.ts';
import { ATTACK_NAMES, type AttackName } from '../attacks/params.ts';
import { ATTACK_BATCH_SIZE, ATTACK_DEFAULTS, PGD_DEFAULTS, resolveAttackSpec } from '../config/attack-config.ts';
import type { DatasetName } from '../data/dataset.ts';
import { usageError } from '../errors.ts';
import { resultsPath } from '../eval/results.ts';
import { resolveRunName } from '../run/run-dir.ts';
import { log, startBackend, type GlobalOptions } from './global.ts';
import { enumOption, integerListOption, integerOption, numberListOption, numberOption } from './parse.ts';

interface AttackFlags {
  run?: string;
  attack?: AttackName;
  grad?: GradName;
  eps?: number;
  alpha?: number;
  steps?: number;
  restarts?: number;
  member?: number | 'all';
  loss: LossForm;
  testLimit?: number;
  surrogate?: string;
  seed: number;
  table2: boolean;
  table4: boolean;
  sweepEps?: number[];
  sweepSteps?: number[];
  figure?: string;
  batchSize: number;
  force?: boolean;
}

function memberOption(value: string): number | 'all' {
  return value === 'all' ? 'all' : integerOption('--member', 0)(value);
}

const TABLE_EXCLUSIVE = ['attack', 'grad', 'eps', 'alpha', 'steps', 'restarts', 'surrogate', 'figure', 'sweepEps', 'sweepSteps'] as const;
const FLAG_NAMES: Record<string, string> = { sweepEps: 'sweep-eps', sweepSteps: 'sweep-steps' };

/** The jobs the flags ask for, validated against the run's data set (its defaults) before any work starts. */
export function resolveJobs(flags: AttackFlags, dataset: DatasetName, members: number): AttackJob[] {
  if (flags.table2 && flags.table4) throw usageError('--table2 and --table4: choose one (run the command twice for both rows)');
  if (flags.table2 || flags.table4) {
    const table = flags.table2 ? '--table2' : '--table4';
    const clash = TABLE_EXCLUSIVE.find((key) => flags[key] !== undefined);
    if (clash) throw usageError(`--${FLAG_NAMES[clash] ?? clash}: ${table} runs FGSM and BIM with the paper's parameters and its own gradients; drop --${clash} or ${table}`);
    const attacks = (['fgsm', 'bim'] as const).map((name) => resolveAttackSpec(dataset, name, { seed: flags.seed }));
    return flags.table2 ? table2Jobs(attacks, flags.loss) : table4Jobs(attacks, flags.loss, members > 1);
  }
  if (!flags.attack) throw usageError('--attack: choose fgsm, bim or pgd (or --table2 / --table4 for a whole table row)');
  if (!flags.grad) throw usageError("--grad: choose 1 (one member's gradient), 2 (mean of the members' gradients) or 3 (the ensemble's own gradient)");
  if (flags.member !== undefined && flags.grad !== '1') throw usageError(`--member: only Grad. 1 uses one member's gradient; drop --member for --grad ${flags.grad}`);
  if (flags.sweepEps && flags.eps !== undefined) throw usageError('--eps: --sweep-eps already sets ε; drop one of them');
  if (flags.sweepSteps && flags.steps !== undefined) throw usageError('--steps: --sweep-steps already sets n; drop one of them');
  if (flags.sweepSteps && flags.attack === 'fgsm') throw usageError('--sweep-steps: FGSM takes one step; use it with --attack bim or pgd');
  if (flags.figure && (flags.sweepEps || flags.sweepSteps)) throw usageError('--figure: draw a figure from one attack, not a sweep; drop --figure or the sweep');
  const { attack: name, grad, loss } = flags;
  const epsValues: (number | undefined)[] = flags.sweepEps ?? [flags.eps];
  const stepValues: (number | undefined)[] = flags.sweepSteps ?? [flags.steps];
  return epsValues.flatMap((eps) =>
    stepValues.map((steps): AttackJob => ({ attack: resolveAttackSpec(dataset, name, { ...flags, eps, steps }), grad, loss, transfer: flags.surrogate !== undefined })),
  );
}

export function attackCommand(): Command {
  const mnist = ATTACK_DEFAULTS.mnist;
  const cifar = ATTACK_DEFAULTS.cifar10;
  return new Command('attack')
    .description("attack a run's test set with FGSM / BIM / PGD using Grad. 1, 2 or 3; rows are appended to runs/NAME/results.csv")
    .option('--run <name>', 'run to attack (default: the most recent run)')
    .addOption(new Option('--attack <name>', 'attack').choices(ATTACK_NAMES).argParser(enumOption('--attack', ATTACK_NAMES)))
    .addOption(
      new Option('--grad <g>', "gradient: 1 = member i's, 2 = mean of the members' gradients, 3 = gradient of the ensemble's averaged probabilities")
        .choices(GRAD_NAMES)
        .argParser(enumOption('--grad', GRAD_NAMES)),
    )
    .option('--eps <ε>', `L∞ budget (default: FGSM ${mnist.fgsm.eps} mnist, ${cifar.fgsm.eps} cifar10; BIM/PGD ${mnist.bim.eps} mnist, ${cifar.bim.eps} cifar10)`, numberOption('--eps', 0, 1))
    .option('--alpha <α>', `BIM/PGD step size, 0 < α ≤ ε (default: BIM ε/8, i.e. ${mnist.bim.alpha} mnist, ${cifar.bim.alpha} cifar10; PGD min(ε, ${PGD_DEFAULTS.alphaTimesStepsOverEps}·ε/n), Madry et al.)`, numberOption('--alpha', 0, 1, true))
    .option('--steps <n>', `BIM/PGD iterations (default: ${mnist.bim.steps})`, integerOption('--steps', 1, 100000))
    .option('--restarts <R>', `PGD random restarts, worst case per example kept (default: ${PGD_DEFAULTS.restarts})`, integerOption('--restarts', 1, 10000))
    .option('--member <i>', "member whose gradient Grad. 1 uses (and, with --table2, the single model scored), or 'all' to average over members (default: 0)", memberOption)
    .addOption(
      new Option('--loss <form>', "J from logits (stable), or Keras' −log(clip(softmax, 1e-7, 1−1e-7)) whose gradient vanishes where softmax saturates")
        .choices(LOSS_FORMS)
        .default('logits')
        .argParser(enumOption('--loss', LOSS_FORMS)),
    )
    .option('--test-limit <n>', "attack only the first N test examples (default: the run's own --test-limit, else all)", integerOption('--test-limit', 1))
    .option('--surrogate <run>', "transfer attack: take the gradients from this run's ensemble, score on the attacked run's ensemble")
    .option('--seed <n>', 'seed of the PGD random starts', integerOption('--seed', 0, 2 ** 32 - 1), PGD_DEFAULTS.seed)
    .option('--table2', "the run's whole Table 2 row: no attack, then FGSM and BIM with Grad. 1, 2 and 3", false)
    .option('--table4', "the run's Table 4 row: no attack, FGSM and BIM with Grad. 2 and 3 (ensembles) or the model's own gradient (single models)", false)
    .option('--sweep-eps <list>', 'ε sweep: run the attack at each ε of a comma-separated list (α follows ε unless --alpha)', numberListOption('--sweep-eps', 0, 1))
    .option('--sweep-steps <list>', 'iteration sweep (BIM/PGD): run the attack at each step count of a comma-separated list', integerListOption('--sweep-steps', 1, 100000))
    .option('--figure <path.png>', 'also write Figure 1: the first test images, clean and adversarial, with predicted labels')
    .option('--force', 'measure again what results.csv already holds (by default a rerun skips those jobs and prints their saved rows)', false)
    .option('--batch-size <n>', 'images attacked together', integerOption('--batch-size', 1, 100000), ATTACK_BATCH_SIZE)
    .action(async (flags: AttackFlags, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const run = openRun(global.runsDir, resolveRunName(global.runsDir, flags.run));
      const jobs = resolveJobs(flags, run.manifest.config.dataset, run.manifest.config.members);
      const member = flags.member ?? 0;
      // every flag checked before the backend starts and models load
      checkMember(member, flags.surrogate ? openSurrogate(global.runsDir, flags.surrogate, run) : run);
      await startBackend(global, log);
      const { appended } = await attackRun(
        { runsRoot: global.runsDir, runName: run.name, jobs, member, surrogate: flags.surrogate, testLimit: flags.testLimit, batchSize: flags.batchSize, remeasure: flags.force, log, onRows: (rows) => rows.forEach((row) => console.log(formatRow(row))) },
        flags.figure ? figureWriter(jobs[0], member === 'all' ? 0 : member, flags.figure) : undefined,
      );
      if (flags.figure) log(`figure: ${resolve(flags.figure)} (top row clean, bottom row adversarial; labels are the predictions, red when wrong)`);
      log(appended > 0 ? `results appended to ${resultsPath(run.dir)}` : `nothing new measured; ${resultsPath(run.dir)} unchanged`);
    });
}
