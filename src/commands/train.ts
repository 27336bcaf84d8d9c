/** `ensdef train`: parses and validates options into a TrainConfig, then trains the run. */
import { Command, Option } from 'commander';
import type { BackendInfo } from '../backend/select.ts';
import { availableParallelism } from 'node:os';
import { DATASET_DEFAULTS, METHOD_NAMES, TRAIN_DEFAULTS, type MethodName, type TrainConfig } from '../config/train-config.ts';
import { DATASET_NAMES, type DatasetName } from '../data/dataset.ts';
import { usageError } from '../errors.ts';
import { trainMemberInWorker, trainRun } from '../ensembles/train-ensemble.ts';
import { readManifest } from '../run/manifest.ts';
import { defaultRunName, runDir, validateRunName } from '../run/run-dir.ts';
import { log, startBackend, type GlobalOptions } from './global.ts';
import { enumOption, integerOption, numberOption } from './parse.ts';

interface TrainFlags {
  dataset: DatasetName;
  method: MethodName;
  members?: number;
  epochs?: number;
  batchSize: number;
  lr: number;
  seed: number;
  run?: string;
  trainLimit?: number;
  testLimit?: number;
  noiseSigma?: number;
  rho: number;
  atEps?: number;
  temperature: number;
  workers: number;
  dataDir?: string;
}

/** The paper's Table 4 rows for these defenses are single models; their bagging+ variants are ensembles. */
const SINGLE_MODEL_METHODS: MethodName[] = ['adversarial-training', 'distillation'];

/**
 * One single-threaded wasm worker per core (docs/PERFORMANCE.md: two workers keep 96-99% of the solo rate
 * each, while wasm threads gave 1.06x on MNIST). tfjs-node is multi-threaded itself: one process.
 */
export const DEFAULT_WORKERS = Math.min(availableParallelism(), 8);

export const WORKERS_HELP = "members trained in parallel processes (one per core, at most 8; 1 on the tensorflow backend unless given)";

/** --workers as given, or its default for the backend that started. */
export function workersFor(cmd: Command, backend: BackendInfo): number {
  const given = cmd.getOptionValueSource('workers') !== 'default';
  return given || backend.name !== 'tensorflow' ? (cmd.getOptionValue('workers') as number) : 1;
}

export function resolveTrainConfig(flags: TrainFlags): TrainConfig {
  const defaults = DATASET_DEFAULTS[flags.dataset];
  if (flags.method === 'single' && flags.members !== undefined && flags.members !== 1) {
    throw usageError(`--members ${flags.members}: --method single trains exactly one model; use --method random-init for an ensemble`);
  }
  return {
    dataset: flags.dataset,
    method: flags.method,
    members: flags.method === 'single' ? 1 : (flags.members ?? (SINGLE_MODEL_METHODS.includes(flags.method) ? 1 : TRAIN_DEFAULTS.members)),
    epochs: flags.epochs ?? defaults.epochs,
    batchSize: flags.batchSize,
    learningRate: flags.lr,
    seed: flags.seed,
    trainLimit: flags.trainLimit,
    testLimit: flags.testLimit,
    noiseSigma: flags.noiseSigma ?? defaults.noiseSigma,
    rho: flags.rho,
    atEps: flags.atEps ?? defaults.fgsmEps,
    temperature: flags.temperature,
    dataDir: flags.dataDir,
  };
}

export function addDataOptions(command: Command): Command {
  return command
    .addOption(new Option('--dataset <name>', 'data set').choices(DATASET_NAMES).default(TRAIN_DEFAULTS.dataset).argParser(enumOption('--dataset', DATASET_NAMES)))
    .option('--data-dir <dir>', 'raw data directory (MNIST: IDX or IDX.gz files, default: embedded copy; CIFAR-10: binary batches, default: data/cifar10)')
    .option('--train-limit <n>', 'use only the first N training examples (in file order)', integerOption('--train-limit', 1))
    .option('--test-limit <n>', 'use only the first N test examples (in file order)', integerOption('--test-limit', 1));
}

export function trainCommand(): Command {
  const command = new Command('train').description('train a single model or an ensemble (saved under --runs-dir/NAME)');
  addDataOptions(command)
    .addOption(new Option('--method <name>', 'training method').choices(METHOD_NAMES).default('random-init').argParser(enumOption('--method', METHOD_NAMES)))
    .option('--members <n>', `ensemble size (default: ${TRAIN_DEFAULTS.members}; 1 for single, adversarial-training and distillation)`, integerOption('--members', 1, 100))
    .option('--epochs <n>', `epochs per member (default: ${DATASET_DEFAULTS.mnist.epochs} for mnist, ${DATASET_DEFAULTS.cifar10.epochs} for cifar10)`, integerOption('--epochs', 1, 1000))
    .option('--batch-size <n>', 'mini-batch size', integerOption('--batch-size', 1, 65536), TRAIN_DEFAULTS.batchSize)
    .option('--lr <rate>', 'Adam learning rate', numberOption('--lr', 0, 10, true), TRAIN_DEFAULTS.learningRate)
    .option('--seed <n>', 'run seed; member i uses a seed derived from it', integerOption('--seed', 0, 2 ** 32 - 1), TRAIN_DEFAULTS.seed)
    .option('--run <name>', 'run directory name (default: DATASET-METHOD-sSEED)')
    .option('--noise-sigma <σ>', `gaussian-noise σ (default: ${DATASET_DEFAULTS.mnist.noiseSigma} mnist, ${DATASET_DEFAULTS.cifar10.noiseSigma} cifar10)`, numberOption('--noise-sigma', 0, 10))
    .option('--rho <ρ>', 'adversarial training: weight of the clean loss', numberOption('--rho', 0, 1), TRAIN_DEFAULTS.rho)
    .option('--at-eps <ε>', `adversarial training FGSM ε (default: ${DATASET_DEFAULTS.mnist.fgsmEps} mnist, ${DATASET_DEFAULTS.cifar10.fgsmEps} cifar10)`, numberOption('--at-eps', 0, 1))
    .option('--temperature <T>', 'defensive distillation temperature', numberOption('--temperature', 0, 1000, true), TRAIN_DEFAULTS.temperature)
    .option('--workers <n>', WORKERS_HELP, integerOption('--workers', 1, 64), DEFAULT_WORKERS)
    .action(async (flags: TrainFlags, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const config = resolveTrainConfig(flags);
      // checked before the backend starts, like every other flag
      const runName = validateRunName(flags.run ?? defaultRunName(config.dataset, config.method, config.seed));
      const backend = await startBackend(global, log);
      const manifest = await trainRun({ config, runsRoot: global.runsDir, runName, workers: workersFor(cmd, backend), backend, command: ['ensdef', ...process.argv.slice(2)].join(' '), log });
      const evaluation = manifest.evaluation!;
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
