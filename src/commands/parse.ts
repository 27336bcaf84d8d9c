/** Option parsers for commander: each turns a bad value into a one-line usage error (exit 2). */
import { usageError } from '../errors.ts';

export function integerOption(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw usageError(`${flag}: '${value}' is not an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}]`);
    }
    return n;
  };
}

export function numberOption(flag: string, min: number, max = Infinity, exclusiveMin = false) {
  return (value: string): number => {
    const n = Number(value);
    const tooLow = exclusiveMin ? n <= min : n < min;
    if (value.trim() === '' || !Number.isFinite(n) || tooLow || n > max) {
      throw usageError(`${flag}: '${value}' is not a number in ${exclusiveMin ? '(' : '['}${min}, ${max === Infinity ? '∞' : max}]`);
    }
    return n;
  };
}

export function enumOption<T extends string>(flag: string, allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) throw usageError(`${flag}: unknown value '${value}' (allowed: ${allowed.join(', ')})`);
    return value as T;
  };
}

function listOption<T>(flag: string, one: (value: string) => T) {
  return (value: string): T[] => {
    const items = value.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) throw usageError(`${flag}: '${value}' is not a comma-separated list of numbers`);
    return items.map(one);
  };
}

export function numberListOption(flag: string, min: number, max = Infinity) {
  return listOption(flag, numberOption(flag, min, max));
}

export function integerListOption(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return listOption(flag, integerOption(flag, min, max));
}
