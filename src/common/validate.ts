/** Small checks that throw `ConfigError` naming the field and the value. */
import { ConfigError } from './errors.js';

export function checkPlainObject(value: unknown, field: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(field, value, 'an object');
  }
}

/** Any non-null object, class instances included (a clock, an adapter). */
export function checkObject(value: unknown, field: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) throw new ConfigError(field, value, 'an object');
}

/** Rejects keys not in `allowed` (a misspelt option silently ignored is a bug waiting). */
export function checkKnownKeys(value: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new ConfigError(field ? `${field}.${key}` : key, value[key], `a known option (${allowed.join(', ')})`);
    }
  }
}

export interface NumberRule {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
  /** The value must be above `min`, not equal to it. */
  minExclusive?: boolean;
  integer?: boolean;
}

export function checkNumber(value: unknown, field: string, rule: NumberRule = {}): asserts value is number {
  const { min, max, minExclusive = false, integer = false } = rule;
  const expected = [
    integer ? 'an integer' : 'a finite number',
    min !== undefined ? `${minExclusive ? '>' : '≥'} ${min}` : '',
    max !== undefined ? `≤ ${max}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    (min === undefined || (minExclusive ? value > min : value >= min)) &&
    (max === undefined || value <= max);
  if (!ok) throw new ConfigError(field, value, expected);
}

export function checkOneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): asserts value is T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(field, value, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
}

export function checkFunction(value: unknown, field: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw new ConfigError(field, value, 'a function');
}

export function checkId(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new ConfigError(field, value, 'a non-empty string');
  if (value.length > 200) throw new ConfigError(field, value, 'a string of at most 200 characters');
}

/**
 * The longest delay a timer can take: Node's and browsers' `setTimeout` fire a longer one after
 * 1 ms (a 2^31 ms backoff would half-open at once, a 2^31 ms deadline poll every millisecond).
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** Calls `check` when the value is present (not undefined). */
export function optional<T>(value: T | undefined, check: (value: T) => void): void {
  if (value !== undefined) check(value);
}
