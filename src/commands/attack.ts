/** `ensdef attack`: parses and validates options into attack jobs, runs them on a run's test set, appends results. */
import { Command, Option } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { resolveSpec, type AttackDefinition, type ParamDef } from '../attacks/definition.ts';
import { GRAD_NAMES, LOSS_FORMS, type GradName, type LossForm } from '../attacks/gradients.ts';
import { ATTACK_IDS, ATTACK_PARAMS, ATTACKS, attackDefinition } from '../attacks/registry.ts';
import type { DatasetDescriptor } from '../datasets/descriptor.ts';
import { datasetDescriptor } from '../datasets/registry.ts';
import { flagOf, usageError } from '../errors.ts';
import { ATTACK_BATCH_SIZE, attackRun, checkMember, openRun, openSurrogate } from '../eval/attack-run.ts';
import { drawFigure1 } from '../eval/figure1.ts';
import { formatRow, table2Jobs, table4Jobs, type AttackJob } from '../eval/jobs.ts';
import { resultsPath } from '../eval/results.ts';
import { checkDirectoryFlag, resolveRunName } from '../run/run-dir.ts';
import { log, startBackend, type GlobalOptions } from './global.ts';
import { enumOption, integerListOption, integerOption, numberListOption, numberOption } from './parse.ts';

interface AttackFlags {
  run?: string;
  attack?: string;
  grad?: GradName;
  /** One per attack parameter key (eps, alpha, steps, restarts, seed, ...), undefined when not given. */
  [param: string]: unknown;
  member?: number | 'all';
  loss?: LossForm;
  suite?: string;
  testLimit?: number;
  surrogate?: string;
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

/** A parameter's flag, with its range and the default each attack that takes it uses. */
function paramOption(param: ParamDef): Option {
  const flag = flagOf(param.key);
  const defaults = ATTACKS.filter((a) => a.params.includes(param)).map((a) => `${a.id}: ${a.defaultsHelp[param.key] ?? 'see the attack'}`);
  const parse = param.integer ? integerOption(flag, param.min, param.max) : numberOption(flag, param.min, param.max, param.exclusiveMin);
  return new Option(`${flag} <${param.symbol}>`, `${param.help} (default — ${defaults.join('; ')})`).argParser(parse);
}

/** The parameter values the flags give (sweeps set ε or n per job). */
function givenParams(flags: AttackFlags): Record<string, number | undefined> {
  return Object.fromEntries(ATTACK_PARAMS.map((p) => [p.key, flags[p.key] as number | undefined]));
}

/** A parameter flag the chosen attack does not take is refused, naming the attacks that do. */
function refuseForeignParams(choice: string, definition: AttackDefinition, given: Record<string, number | undefined>): void {
  for (const param of ATTACK_PARAMS) {
    if (given[param.key] === undefined || definition.params.includes(param)) continue;
    const takers = ATTACKS.filter((a) => a.params.includes(param)).map((a) => a.id);
    throw usageError(`${flagOf(param.key)} ${given[param.key]}: ${choice} has no ${param.key} (it applies to ${takers.join(', ')} only)`);
  }
}

/** Suites: attacks made of stages (the worst-case suite), chosen with --suite. */
const SUITES = ATTACKS.filter((a) => a.stages !== undefined).map((a) => a.id);

const TABLE_EXCLUSIVE = ['attack', 'suite', 'grad', ...ATTACK_PARAMS.map((p) => p.key), 'surrogate', 'figure', 'sweepEps', 'sweepSteps'];

/** The jobs the flags ask for, validated against the run's data set (its defaults) before any work starts. */
export function resolveJobs(flags: AttackFlags, dataset: DatasetDescriptor, members: number): AttackJob[] {
  const given = givenParams(flags);
  if (flags.table2 && flags.table4) throw usageError('--table2 and --table4: choose one (run the command twice for both rows)');
  if (flags.table2 || flags.table4) {
    const table = flags.table2 ? '--table2' : '--table4';
    // --seed has a default for every attack that takes one; given or not, a table row ignores it.
    const clash = TABLE_EXCLUSIVE.find((key) => key !== 'seed' && flags[key] !== undefined);
    if (clash) throw usageError(`${flagOf(clash)}: ${table} runs the paper's attacks with the paper's parameters and its own gradients; drop ${flagOf(clash)} or ${table}`);
    const attacks = ATTACKS.filter((a) => a.paper).map((a) => resolveSpec(a, dataset));
    const loss = flags.loss ?? 'logits';
    return flags.table2 ? table2Jobs(attacks, loss) : table4Jobs(attacks, loss, members > 1);
  }
  if (flags.suite && flags.attack) throw usageError(`--suite ${flags.suite}: it runs its own attacks; drop --attack ${flags.attack}`);
  if (flags.suite && (flags.sweepEps || flags.sweepSteps || flags.figure)) throw usageError(`--suite ${flags.suite}: it reports every stage at one ε; drop ${flags.figure ? '--figure' : flags.sweepEps ? '--sweep-eps' : '--sweep-steps'}`);
  const attack = flags.suite ?? flags.attack;
  const choice = flags.suite ? `--suite ${attack}` : `--attack ${attack}`;
  if (!attack) throw usageError(`--attack: choose ${ATTACK_IDS.filter((id) => !SUITES.includes(id)).join(', ')} (or --suite ${SUITES.join('|')}, or --table2 / --table4 for a whole table row)`);
  const definition = attackDefinition(attack);
  if (!definition.usesGradient) {
    // A score-based attack only queries the scored model: a gradient flag would be silently ignored.
    const ignored = flags.grad !== undefined ? '--grad' : flags.loss !== undefined ? '--loss' : flags.member !== undefined ? '--member' : flags.surrogate !== undefined ? '--surrogate' : undefined;
    if (ignored) throw usageError(`${ignored}: ${definition.title} is gradient-free (it only queries the ensemble's predictions); drop ${ignored}`);
  } else if (!flags.grad) {
    throw usageError("--grad: choose 1 (one member's gradient), 2 (mean of the members' gradients) or 3 (the ensemble's own gradient)");
  }
  const grad = flags.grad ?? null;
  const loss = flags.loss ?? 'logits';
  if (flags.member !== undefined && grad !== '1') throw usageError(`--member: only Grad. 1 uses one member's gradient; drop --member for --grad ${grad}`);
  refuseForeignParams(choice, definition, given);
  if (flags.sweepEps && given.eps !== undefined) throw usageError('--eps: --sweep-eps already sets ε; drop one of them');
  if (flags.sweepSteps && given.steps !== undefined) throw usageError('--steps: --sweep-steps already sets n; drop one of them');
  if (flags.sweepSteps && !definition.params.some((p) => p.key === 'steps')) throw usageError(`--sweep-steps: ${definition.title} has no step count; use it with an iterative attack`);
  if (flags.figure && (flags.sweepEps || flags.sweepSteps)) throw usageError('--figure: draw a figure from one attack, not a sweep; drop --figure or the sweep');
  if (flags.figure) checkFigurePath(flags.figure);
  const epsValues: (number | undefined)[] = flags.sweepEps ?? [given.eps];
  const stepValues: (number | undefined)[] = flags.sweepSteps ?? [given.steps];
  return epsValues.flatMap((eps) =>
    stepValues.map((steps): AttackJob => {
      return { attack: resolveSpec(definition, dataset, { ...given, eps, steps }), grad, loss, transfer: flags.surrogate !== undefined };
    }),
  );
}

export function attackCommand(): Command {
  const command = new Command('attack')
    .description("attack a run's test set using Grad. 1, 2 or 3; rows are appended to runs/NAME/results.csv")
    .option('--run <name>', 'run to attack (default: the most recent run)')
    .addOption(new Option('--attack <name>', 'attack (see Attacks below)').choices(ATTACK_IDS.filter((id) => !SUITES.includes(id))).argParser(enumOption('--attack', ATTACK_IDS.filter((id) => !SUITES.includes(id)))))
    .addOption(new Option('--suite <name>', 'a suite of attacks, each stage on the images still classified correctly, every stage recorded').choices(SUITES).argParser(enumOption('--suite', SUITES)))
    .addOption(
      new Option('--grad <g>', "gradient: 1 = member i's, 2 = mean of the members' gradients, 3 = gradient of the ensemble's averaged probabilities")
        .choices(GRAD_NAMES)
        .argParser(enumOption('--grad', GRAD_NAMES)),
    );
  for (const param of ATTACK_PARAMS) command.addOption(paramOption(param));
  const width = Math.max(...ATTACK_IDS.map((id) => id.length));
  const attackList = ATTACKS.map((a) => `  ${a.id.padEnd(width)}  ${a.summary} [${a.params.map((p) => flagOf(p.key)).join(' ')}]`);
  return command
    .addHelpText('after', `\nAttacks:\n${attackList.join('\n')}`)
    .option('--member <i>', "member whose gradient Grad. 1 uses (and, with --table2, the single model scored), or 'all' to average over members (default: 0)", memberOption)
    .addOption(
      new Option('--loss <form>', "J from logits (stable), or Keras' −log(clip(softmax, 1e-7, 1−1e-7)) whose gradient vanishes where softmax saturates (default: logits)")
        .choices(LOSS_FORMS)
        .argParser(enumOption('--loss', LOSS_FORMS)),
    )
    .option('--test-limit <n>', "attack only the first N test examples (default: the run's own --test-limit, else all)", integerOption('--test-limit', 1))
    .option('--surrogate <run>', "transfer attack: take the gradients from this run's ensemble, score on the attacked run's ensemble")
    .option('--table2', "the run's whole Table 2 row: no attack, then the paper's attacks (FGSM, BIM) with Grad. 1, 2 and 3", false)
    .option('--table4', "the run's Table 4 row: no attack, the paper's attacks with Grad. 2 and 3 (ensembles) or the model's own gradient (single models)", false)
    .option('--sweep-eps <list>', 'ε sweep: run the attack at each ε of a comma-separated list (α follows ε unless --alpha)', numberListOption('--sweep-eps', 0, 1))
    .option('--sweep-steps <list>', 'iteration sweep (iterative attacks): run the attack at each step count of a comma-separated list', integerListOption('--sweep-steps', 1, 100000))
    .option('--figure <path.svg|path.png>', 'also write Figure 1: the first test images, clean and adversarial, with predicted labels (SVG: titled, CIFAR-10 classes by name)')
    .option('--force', 'measure again what results.csv already holds (by default a rerun skips those jobs and prints their saved rows)', false)
    .option('--batch-size <n>', 'images attacked together', integerOption('--batch-size', 1, 100000), ATTACK_BATCH_SIZE)
    .action(async (flags: AttackFlags, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const run = openRun(global.runsDir, resolveRunName(global.runsDir, flags.run));
      const jobs = resolveJobs(flags, datasetDescriptor(run.manifest.config.dataset), run.manifest.config.members);
      const member = flags.member ?? 0;
      // every flag checked before the backend starts and models load
      checkMember(member, flags.surrogate ? openSurrogate(global.runsDir, flags.surrogate, run) : run);
      await startBackend(global, log);
      const { appended } = await attackRun({
        runsRoot: global.runsDir,
        runName: run.name,
        jobs,
        member,
        surrogate: flags.surrogate,
        testLimit: flags.testLimit,
        batchSize: flags.batchSize,
        remeasure: flags.force,
        log,
        onRows: (rows) => rows.forEach((row) => console.log(formatRow(row))),
      });
      if (flags.figure) {
        await drawFigure1(global.runsDir, run.name, jobs[0], member === 'all' ? 0 : member, flags.figure, flags.surrogate);
        log(`figure: ${resolve(flags.figure)} (top row clean, bottom row adversarial; labels are the predictions, red when wrong)`);
      }
      log(appended > 0 ? `results appended to ${resultsPath(run.dir)}` : `nothing new measured; ${resultsPath(run.dir)} unchanged`);
    });
}

/** --figure names a file to write: not a directory, and not under a file (checked before the attack runs). */
function checkFigurePath(path: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw usageError(`--figure ${path} is a directory; name the file to write, e.g. ${join(path, 'figure1.svg')}`);
  checkDirectoryFlag('--figure', path, 'name an .svg or .png file in a directory', dirname(path));
}
