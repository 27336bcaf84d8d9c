/** ensdef's command line: wires commands only; each command validates its options and calls the core. */
import chalk from 'chalk';
import { Command, CommanderError } from 'commander';
import { UserError, USAGE_EXIT, userMessage } from './errors.ts';
import { attackCommand } from './commands/attack.ts';
import { alignmentCommand, choicesCommand } from './commands/choices.ts';
import { dataCommand } from './commands/data.ts';
import { evalCommand } from './commands/eval.ts';
import { addGlobalOptions } from './commands/global.ts';
import { reportCommand } from './commands/report.ts';
import { reproduceCommand, speedProbeCommand } from './commands/reproduce.ts';
import { trainCommand, trainMemberCommand } from './commands/train.ts';

const program = addGlobalOptions(
  new Command('ensdef')
    .description('Ensemble methods as a defense to adversarial perturbations (2017): train, attack, report')
    .configureHelp({ showGlobalOptions: true }),
);

program.addCommand(trainCommand());
program.addCommand(evalCommand());
program.addCommand(attackCommand());
program.addCommand(reportCommand());
program.addCommand(choicesCommand());
program.addCommand(alignmentCommand());
program.addCommand(reproduceCommand());
program.addCommand(dataCommand());
program.addCommand(trainMemberCommand(), { hidden: true });
program.addCommand(speedProbeCommand(), { hidden: true });

/** The words that run `command`, e.g. "ensdef data info". */
function commandPath(command: Command): string {
  return command.parent ? `${commandPath(command.parent)} ${command.name()}` : command.name();
}

/**
 * Commander's own usage errors (unknown option or command, missing value, extra argument) print as one
 * `ensdef:` line like every other user error, ending with where to look (commander would add a
 * "Did you mean" line or the whole help).
 */
function configureErrors(command: Command): void {
  command.exitOverride();
  command.configureOutput({
    outputError: (message, write) => {
      const oneLine = message.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ');
      write(`${chalk.red(`ensdef: ${oneLine}`)} (see '${commandPath(command)} --help')\n`);
    },
  });
  command.commands.forEach(configureErrors);
}
configureErrors(program);

const debug = process.argv.includes('--debug');

// A reader that stops early (`ensdef reproduce --status | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // help and version exit 0; usage mistakes exit 2 (commander already printed the message)
    process.exitCode = error.exitCode === 0 ? 0 : USAGE_EXIT;
  } else if (error instanceof UserError) {
    console.error(chalk.red(`ensdef: ${userMessage(error)}`));
    if (debug) console.error(error.stack);
    process.exitCode = error.exitCode;
  } else {
    const message = error instanceof Error ? error.message : String(error);
    console.error(chalk.red(`ensdef: internal error: ${message.split('\n')[0]}${debug ? '' : ' (rerun with --debug for the stack trace)'}`));
    if (debug && error instanceof Error) console.error(error.stack);
    process.exitCode = 1;
  }
}
