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

/**
 * A core function's refusal of one of its parameters (`param` as the core names it, e.g. 'alpha' or
 * 'atEps'). The command line reports it under the flag that set it (--alpha, --at-eps).
 */
export class ParamError extends UserError {
  constructor(
    readonly param: string,
    detail: string,
  ) {
    super(detail, USAGE_EXIT);
    this.name = 'ParamError';
  }
}

/** What the user reads: a core function's refusal of a parameter is reported under its flag. */
export function userMessage(error: UserError): string {
  return error instanceof ParamError ? `${flagOf(error.param)}: ${error.message}` : error.message;
}

/** The command-line flag of a core parameter: camelCase → --kebab-case. */
export function flagOf(param: string): string {
  return `--${param.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
