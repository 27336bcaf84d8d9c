/** Placeholder for commands later issues build: says so clearly and exits non-zero. */
import { Command } from 'commander';
import { UserError } from '../errors.ts';

export function notBuiltCommand(name: string, description: string): Command {
  return new Command(name)
    .description(`${description} (not built yet)`)
    .allowUnknownOption()
    .action(() => {
      throw new UserError(`'ensdef ${name}' is not built yet`);
    });
}
