/** `ensdef train`: parses and validates options into a TrainConfig, then trains the run. */
import { Command, Option } from 'commander';
import type { BackendInfo } from '../backend/select.ts';
import { availableParallelism } from 'node:os';
import { TRAIN_DEFAULTS, type TrainConfig } from '../config/train-config.ts';
import { DATASET_NAMES, DEFAULT_DATASET, datasetDescriptor } from '../datasets/registry.ts';
import type { MethodParam } from '../ensembles/method.ts';
import { DEFAULT_METHOD, METHOD_NAMES, METHOD_PARAMS, METHODS, methodsTaking, trainConfig } from '../training/methods.ts';
import { refuseMemberOfJointRun, trainRun } from '../training/train-run.ts';
import { trainMemberInWorker } from '../training/worker-pool.ts';
import { readManifest } from '../run/manifest.ts';
import { defaultRunName, runDir, validateRunName } from '../run/run-dir.ts';
import { log, startBackend, type GlobalOptions } from './global.ts';
import { enumOption, integerOption, numberOption } from './parse.ts';
import { flagOf, usageError } from '../errors.ts';

interface TrainFlags {
  dataset: string;
  method: string;
  members?: number;
  epochs?: number;
  batchSize: number;
  lr: number;
  seed: number;
  run?: string;
  trainLimit?: number;
  testLimit?: number;
  workers: number;
  dataDir?: string;
  member?: number;
  /** One per method parameter key (noiseSigma, rho, ...), undefined when not given. */
  [param: string]: unknown;
}

/**
 * One single-threaded wasm worker per core (docs/PERFORMANCE.md: two workers keep 96-99% of the solo rate
 * each, while wasm threads gave 1.06x on MNIST). tfjs-node is multi-threaded itself: one process.
 */
export const DEFAULT_WORKERS = Math.min(availableParallelism(), 8);

const jointMethods = METHODS.filter((m) => m.joint).map((m) => m.name).join(', ');

export const WORKERS_HELP = `members trained in parallel processes (one per core, at most 8; between N and 2N members all start at once and share the cores; 1 on the tensorflow backend unless given; ignored by ${jointMethods}, whose members train together in one process)`;

/** --workers as given, or its default for the backend that started. */
export function workersFor(cmd: Command, backend: BackendInfo): number {
  const given = cmd.getOptionValueSource('workers') !== 'default';
  return given || backend.name !== 'tensorflow' ? (cmd.getOptionValue('workers') as number) : 1;
}

export function resolveTrainConfig(flags: TrainFlags): TrainConfig {
  const { lr, run: _run, workers: _workers, member: _member, ...choices } = flags;
  return trainConfig({ ...choices, learningRate: lr });
}

/** Per data set, e.g. "10 for mnist, 25 for cifar10". */
function perDataset(value: (name: string) => unknown): string {
  return DATASET_NAMES.map((name) => `${value(name)} ${name}`).join(', ');
}

/** A method parameter's flag: its range, its default per data set, and the methods that take it. */
function methodParamOption(param: MethodParam): Option {
  const flag = flagOf(param.key);
  const values = DATASET_NAMES.map((name) => param.default(datasetDescriptor(name)));
  const defaults = values.every((v) => v === values[0]) ? String(values[0]) : perDataset((name) => param.default(datasetDescriptor(name)));
  const help = `${param.help} (default: ${defaults}${param.defaultHelp ? ` — ${param.defaultHelp}` : ''}; methods: ${methodsTaking(param).join(', ')})`;
  const parse = param.integer ? integerOption(flag, param.min, param.max) : numberOption(flag, param.min, param.max, param.exclusiveMin);
  return new Option(`${flag} <${param.symbol}>`, help).argParser(parse);
}

export function addDataOptions(command: Command): Command {
  return command
    .addOption(new Option('--dataset <name>', 'data set').choices(DATASET_NAMES).default(DEFAULT_DATASET).argParser(enumOption('--dataset', DATASET_NAMES)))
    .option('--data-dir <dir>', `raw data directory (${DATASET_NAMES.map((name) => `${name}: ${datasetDescriptor(name).dataDirHelp}`).join('; ')})`)
    .option('--train-limit <n>', 'use only the first N training examples (in file order)', integerOption('--train-limit', 1))
    .option('--test-limit <n>', 'use only the first N test examples (in file order)', integerOption('--test-limit', 1));
}

export function trainCommand(): Command {
  const command = new Command('train').description('train a single model or an ensemble (saved under --runs-dir/NAME)');
  addDataOptions(command)
    .addOption(new Option('--method <name>', 'training method').choices(METHOD_NAMES).default(DEFAULT_METHOD).argParser(enumOption('--method', METHOD_NAMES)))
    .option('--members <n>', `ensemble size (default: ${TRAIN_DEFAULTS.members}; 1 for ${METHODS.filter((m) => m.size !== 'ensemble').map((m) => m.name).join(', ')})`, integerOption('--members', 1, 100))
    .option('--epochs <n>', `epochs per member (default: ${perDataset((name) => datasetDescriptor(name).training.epochs)})`, integerOption('--epochs', 1, 1000))
    .option('--batch-size <n>', 'mini-batch size', integerOption('--batch-size', 1, 65536), TRAIN_DEFAULTS.batchSize)
    .option('--lr <rate>', 'Adam learning rate', numberOption('--lr', 0, 10, true), TRAIN_DEFAULTS.learningRate)
    .option('--seed <n>', 'run seed; member i uses a seed derived from it', integerOption('--seed', 0, 2 ** 32 - 1), TRAIN_DEFAULTS.seed)
    .option('--run <name>', 'run directory name (default: DATASET-METHOD-sSEED)');
  for (const param of METHOD_PARAMS) command.addOption(methodParamOption(param));
  const width = Math.max(...METHOD_NAMES.map((name) => name.length));
  const methodList = METHODS.map((m) => `  ${m.name.padEnd(width)}  ${m.summary}${m.params.length > 0 ? ` [${m.params.map((p) => flagOf(p.key)).join(' ')}]` : ''}`);
  command
    .addHelpText('after', `\nMethods:\n${methodList.join('\n')}`)
    .option('--workers <n>', WORKERS_HELP, integerOption('--workers', 1, 64), DEFAULT_WORKERS)
    .option('--member <i>', `train only member i (0-based) of the run, e.g. as task i of a Slurm array: --member $SLURM_ARRAY_TASK_ID (not for ${jointMethods}, whose members train together)`, integerOption('--member', 0, 99))
    .action(async (flags: TrainFlags, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const config = resolveTrainConfig(flags);
      // checked before the backend starts, like every other flag
      const runName = validateRunName(flags.run ?? defaultRunName(config.dataset, config.method, config.seed));
      if (flags.member !== undefined && flags.member >= config.members) {
        throw usageError(`--member ${flags.member}: the run has ${config.members} member${config.members === 1 ? '' : 's'} (0..${config.members - 1})`);
      }
      refuseMemberOfJointRun(config, flags.member);
      const backend = await startBackend(global, log);
      const manifest = await trainRun({
        config,
        runsRoot: global.runsDir,
        runName,
        workers: workersFor(cmd, backend),
        backend,
        command: ['ensdef', ...process.argv.slice(2)].join(' '),
        log,
        member: flags.member,
      });
      if (!manifest.evaluation) {
        // Other members are still to come (other array tasks); the last one to finish evaluates the run.
        console.log(`member ${flags.member} trained; run ${runName} has ${manifest.members.length}/${config.members} members (evaluated when the last one finishes)`);
        return;
      }
      const evaluation = manifest.evaluation;
      const rates = manifest.members.map((m) => m.samplesPerSecond);
      log(`run ${runName} (${runDir(global.runsDir, runName)}), training ${(rates.reduce((a, b) => a + b, 0) / rates.length).toFixed(0)} samples/s per member`);
      if (config.members === 1) {
        console.log(`test accuracy ${evaluation.memberAccuracy[0].toFixed(4)}`);
      } else {
        evaluation.memberAccuracy.forEach((a, i) => console.log(`member ${i} test accuracy ${a.toFixed(4)}`));
        console.log(`ensemble test accuracy ${evaluation.ensembleAccuracy.toFixed(4)}`);
      }
    });
  return command;
}

/** Internal: trains one member of an existing run in this process (used by --workers). */
export function trainMemberCommand(): Command {
  return new Command('train-member')
    .description('(internal) train one member of an existing run; used by train --workers')
    .requiredOption('--run <name>', 'run name')
    .requiredOption('--member <i>', 'member index', integerOption('--member', 0))
    .action(async (flags: { run: string; member: number }, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const backend = await startBackend(global, () => {});
      const dir = runDir(global.runsDir, flags.run);
      const { config } = readManifest(dir);
      const record = await trainMemberInWorker(dir, config, flags.member, backend);
      // A failure was recorded for the parent to print; exit non-zero without printing it twice.
      if (!record) process.exitCode = 1;
      else log(`member ${flags.member + 1}/${config.members} done: test accuracy ${record.testAccuracy.toFixed(4)}, ${record.samplesPerSecond.toFixed(0)} samples/s`);
    });
}
