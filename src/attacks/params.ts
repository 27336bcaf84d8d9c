/**
 * The parameters attacks share, declared once: an attack lists the ones it takes, and the `attack`
 * command offers one flag per key (the same flag means the same thing for every attack).
 */
import type { ParamDef } from './definition.ts';

export const EPS: ParamDef = { key: 'eps', symbol: 'ε', short: 'e', help: 'L∞ budget, in pixel units of [0, 1]', integer: false, min: 0, max: 1 };
export const ALPHA: ParamDef = { key: 'alpha', symbol: 'α', short: 'a', help: 'step size, 0 < α ≤ ε', integer: false, min: 0, max: 1, exclusiveMin: true };
export const STEPS: ParamDef = { key: 'steps', symbol: 'n', short: 'n', help: 'iterations', integer: true, min: 1, max: 100000 };
export const RESTARTS: ParamDef = { key: 'restarts', symbol: 'R', short: 'r', help: 'random restarts, worst case per example kept', integer: true, min: 1, max: 10000 };
export const SEED: ParamDef = { key: 'seed', symbol: 'seed', short: 's', help: 'seed of the random starts', integer: true, min: 0, max: 2 ** 32 - 1 };
export const QUERIES: ParamDef = { key: 'queries', symbol: 'q', short: 'q', help: 'query budget per image of a score-based attack', integer: true, min: 1, max: 1000000 };
