/** `ensdef reproduce`: every ensemble of Tables 2 and 4 trained, attacked and reported, resumably. */
import { Command, Option } from 'commander';
import { join, resolve } from 'node:path';
import { DATASET_NAMES, datasetDescriptor, loadDataset } from '../datasets/registry.ts';
import { buildPlan, selectRuns } from '../reproduce/plan.ts';
import { PRESET_NAMES, PRESETS, type PresetName } from '../reproduce/presets.ts';
import { describeSitting, recordedReproduction, reproduce, reproduceStep } from '../reproduce/run.ts';
import { speedProbeWorker } from '../reproduce/speed.ts';
import { slurmStatus, splitArgs, submitToSlurm } from '../cluster/executor.ts';
import { usageError } from '../errors.ts';
import { checkDirectoryFlag } from '../run/run-dir.ts';
import { log, startBackend, type GlobalOptions } from './global.ts';
import { enumOption, integerOption } from './parse.ts';
import { DEFAULT_WORKERS, WORKERS_HELP, workersFor } from './train.ts';

const DATASET_CHOICES = [...DATASET_NAMES, 'all'];

interface ReproduceFlags {
  dataset: string;
  preset: PresetName;
  out?: string;
  workers: number;
  executor: 'local' | 'slurm';
  sbatch?: string;
  dryRun?: boolean;
  status?: boolean;
  step?: string;
  dataDir?: string;
  runs?: string[];
}

const EXECUTORS = ['local', 'slurm'] as const;

/** Internal: one worker of reproduce's parallel training speed check (reproduce/speed.ts: measureParallelTraining). */
export function speedProbeCommand(): Command {
  return new Command('speed-probe')
    .description("(internal) one worker of reproduce's parallel training speed check")
    .addOption(new Option('--dataset <name>', 'data set').choices(DATASET_NAMES).makeOptionMandatory())
    .requiredOption('--seconds <s>', 'how long to train', integerOption('--seconds', 1))
    .action(async (flags: { dataset: string; seconds: number }, cmd: Command) => {
      await startBackend(cmd.optsWithGlobals() as GlobalOptions, () => {});
      await speedProbeWorker(datasetDescriptor(flags.dataset), flags.seconds);
    });
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
    .option('--data-dir <dir>', `the data set's raw files, with one --dataset (${DATASET_NAMES.map((name) => `${name}: ${datasetDescriptor(name).dataDirHelp}`).join('; ')})`)
    .option('--out <dir>', 'output directory: runs/, report/ and the resume state (default: results/reproduce-PRESET)')
    .option('--workers <n>', WORKERS_HELP, integerOption('--workers', 1, 64), DEFAULT_WORKERS)
    .addOption(
      new Option('--executor <name>', 'local: run every step here; slurm: submit the steps as Slurm jobs and return (docs/CLUSTER.md)')
        .choices(EXECUTORS)
        .default('local')
        .argParser(enumOption('--executor', EXECUTORS)),
    )
    .option('--sbatch <args>', 'with --executor slurm: extra sbatch arguments for every job, e.g. "--partition gpu --gres=gpu:1 --time 4:00:00"')
    .option('--dry-run', 'with --executor slurm: print the job scripts instead of submitting them')
    .option('--status', "show each step of the reproduction in --out: done, queued, running, failed (Slurm job id and its log's tail)")
    .option('--runs <names>', "only these runs of the plan (comma-separated, e.g. mnist-random-init,mnist-bagging) and the surrogate their transfer attacks need: one part of a reproduction too long for one sitting; rerun with the next part into the same --out", (value: string) => value.split(',').map((s) => s.trim()).filter((s) => s !== ''))
    .option('--step <id>', "run one step of the plan and mark it done (what each Slurm job runs; 'report' builds the report)")
    .action(async (flags: ReproduceFlags, cmd: Command) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const preset = PRESETS[flags.preset];
      const datasets: string[] = flags.dataset === 'all' ? [...DATASET_NAMES] : [flags.dataset];
      if (flags.executor !== 'slurm' && (flags.sbatch !== undefined || flags.dryRun)) {
        throw usageError(`${flags.sbatch !== undefined ? '--sbatch' : '--dry-run'} needs --executor slurm`);
      }
      if ((flags.status || flags.step !== undefined) && flags.executor === 'slurm') throw usageError(`${flags.status ? '--status' : '--step'} reads or runs a reproduction; leave out --executor slurm`);
      if (flags.status && flags.step !== undefined) throw usageError('--status and --step: give one of them');
      if (flags.runs !== undefined && (flags.executor === 'slurm' || flags.status || flags.step !== undefined)) {
        throw usageError('--runs selects a part of the plan to run here; leave out --executor slurm, --status and --step (a Slurm submission already runs every run as its own jobs)');
      }
      if (flags.dataDir !== undefined && datasets.length > 1) throw usageError('--data-dir names one data set\'s files: give one --dataset, and run each data set with its own --data-dir');
      const dataDirs: Record<string, string> = flags.dataDir !== undefined ? { [datasets[0]]: flags.dataDir } : {};
      const outDir = flags.out ?? join('results', `reproduce-${preset.name}`);
      checkDirectoryFlag('--out', outDir, 'choose a directory for the reproduction (runs/, report/, its state)');
      if (flags.status) {
        // Without --preset / --dataset, the ones the reproduction in --out was started with.
        const recorded = recordedReproduction(outDir);
        const statusPreset = cmd.getOptionValueSource('preset') === 'default' && recorded ? PRESETS[recorded.preset as PresetName] ?? preset : preset;
        const statusDatasets = cmd.getOptionValueSource('dataset') === 'default' && recorded ? recorded.datasets : datasets;
        for (const s of slurmStatus({ preset: statusPreset, datasets: statusDatasets, outDir })) {
          console.log([s.state.padEnd(13), s.jobId ? `job ${s.jobId}`.padEnd(14) : ''.padEnd(14), s.stepId, s.detail ? `  ${s.detail}` : ''].join(' ').trimEnd());
        }
        for (const [k, sitting] of (recorded?.sittings ?? []).entries()) log(describeSitting(sitting, k));
        return;
      }
      if (flags.executor === 'slurm') {
        // A missing data set fails here, not in every job.
        if (!flags.dryRun) for (const dataset of datasets) loadDataset({ dataset, dataDir: dataDirs[dataset] });
        const backendGiven = cmd.optsWithGlobals().backend !== 'auto' ? (global.backend as string) : undefined;
        await submitToSlurm({ preset, datasets, dataDirs, outDir, sbatchArgs: splitArgs(flags.sbatch ?? ''), backend: backendGiven, dryRun: Boolean(flags.dryRun), log, print: (line) => console.log(line) });
        return;
      }
      // Fail before any work if a run name is not in the plan or a data set is missing.
      if (flags.runs !== undefined) selectRuns(buildPlan(preset, datasets, dataDirs), flags.runs);
      for (const dataset of datasets) loadDataset({ dataset, dataDir: dataDirs[dataset] });
      const backend = await startBackend(global, log);
      const out = outDir;
      const options = { preset, datasets, dataDirs, outDir: out, workers: workersFor(cmd, backend), backend, command: ['ensdef', ...process.argv.slice(2)].join(' '), log, runs: flags.runs };
      if (flags.step !== undefined) {
        const stepStarted = performance.now();
        const built = await reproduceStep(options, flags.step);
        log(`step ${flags.step} done in ${((performance.now() - stepStarted) / 1000).toFixed(1)} s${built ? `: report written to ${resolve(built.outDir)}` : ''}`);
        return;
      }
      const report = await reproduce(options);
      console.log(`report written to ${resolve(report.outDir)}: ${report.files.length} files (open report.md)`);
    });
}
