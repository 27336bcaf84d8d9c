/** Options every command shares, and the start-up every tensor command does. */
import { Command, Option } from 'commander';
import { BACKEND_CHOICES, initBackend, type BackendChoice, type BackendInfo } from '../backend/select.ts';
import { DEFAULT_RUNS_ROOT } from '../run/run-dir.ts';
import { enumOption } from './parse.ts';

export interface GlobalOptions {
  backend: BackendChoice;
  runsDir: string;
  debug: boolean;
}

export function addGlobalOptions(program: Command): Command {
  return program
    .addOption(
      new Option('--backend <name>', `tensor backend (auto = tfjs-node-gpu, tfjs-node, native oneDNN kernels, wasm, cpu: first that loads)`)
        .choices(BACKEND_CHOICES)
        .default('auto')
        .argParser(enumOption('--backend', BACKEND_CHOICES)),
    )
    .option('--runs-dir <dir>', 'where run directories live', DEFAULT_RUNS_ROOT)
    .option('--debug', 'show stack traces for errors', false);
}

export async function startBackend(options: GlobalOptions, log: (line: string) => void): Promise<BackendInfo> {
  const info = await initBackend(options.backend);
  log(`backend ${info.name} (${info.package} ${info.version}), ${info.threads || 'native'} thread${info.threads === 1 ? '' : 's'}${info.trainingKernels ? ', ensdef training kernels' : ''}`);
  if (info.hint) log(info.hint);
  return info;
}

export const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
