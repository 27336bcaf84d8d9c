/** `ensdef reproduce`: every ensemble of Tables 2 and 4 trained, attacked and reported, resumably. */
import { Command, Option } from 'commander';
import { join, resolve } from 'node:path';
import { DATASET_NAMES, loadDataset } from '../datasets/registry.ts';
import { buildPlan } from '../reproduce/plan.ts';
import { PRESET_NAMES, PRESETS, type PresetName } from '../reproduce/presets.ts';
import { estimateSeconds, reproduce } from '../reproduce/run.ts';
import { formatDuration } from '../run/progress.ts';
import { log, startBackend, type GlobalOptions } from './global.ts';
import { enumOption, integerOption } from './parse.ts';
import { DEFAULT_WORKERS, WORKERS_HELP, workersFor } from './train.ts';

const DATASET_CHOICES = [...DATASET_NAMES, 'all'];

interface ReproduceFlags {
  dataset: string;
  preset: PresetName;
  out?: string;
  workers: number;
}

export function reproduceCommand(): Command {
  return new Command('reproduce')
    .description("train every ensemble of the paper's Tables 2 and 4, run every attack, write the report (rerun to resume)")
    .addOption(new Option('--dataset <name>', 'data set(s)').choices(DATASET_CHOICES).default('mnist').argParser(enumOption('--dataset', DATASET_CHOICES)))
    .addOption(
      new Option('--preset <name>', `scale: ${PRESET_NAMES.map((p) => `${p} = ${PRESETS[p].summary}`).join('; ')}`)
        .choices(PRESET_NAMES)
        .default('smoke')
        .argParser(enumOption('--preset', PRESET_NAMES)),
    )
    .option('--out <dir>', 'output directory: runs/, report/ and the resume state (default: results/reproduce-PRESET)')
    .option('--workers <n>', WORKERS_HELP, integerOption('--workers', 1, 64), DEFAULT_WORKERS)
    .action(async (flags: ReproduceFlags, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const preset = PRESETS[flags.preset];
      const datasets: string[] = flags.dataset === 'all' ? [...DATASET_NAMES] : [flags.dataset];
      // Fail before any training if a data set is missing.
      for (const dataset of datasets) loadDataset({ dataset, trainLimit: preset.trainLimit, testLimit: preset.testLimit });
      const backend = await startBackend(global, log);
      if (backend.name !== 'tensorflow' && datasets.includes('cifar10') && preset.name !== 'smoke') {
        const cifarSteps = buildPlan(preset, ['cifar10']);
        // CIFAR-10's network costs ~28x MNIST's per sample (≈150 M vs 5.3 M FLOPs per training sample).
        const seconds = estimateSeconds(cifarSteps) * 28;
        log(`warning: CIFAR-10 at --preset ${preset.name} on the ${backend.name} backend is estimated at ${formatDuration(seconds)}; it is realistic only with a GPU (npm install @tensorflow/tfjs-node-gpu)`);
      }
      const out = flags.out ?? join('results', `reproduce-${preset.name}`);
      const report = await reproduce({ preset, datasets, outDir: out, workers: workersFor(cmd, backend), backend, command: ['ensdef', ...process.argv.slice(2)].join(' '), log });
      console.log(`report written to ${resolve(report.outDir)}: ${report.files.length} files (open report.md)`);
    });
}
