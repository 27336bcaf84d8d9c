/**
 * A mistake the user can fix (bad flag, missing or corrupt file, refused run directory).
 * The CLI prints its message on one line and exits with `exitCode`; no stack trace unless --debug.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Exit code for invalid command-line usage (bad flag value, unknown enum value). */
export const USAGE_EXIT = 2;

export function usageError(message: string): UserError {
  return new UserError(message, USAGE_EXIT);
}
