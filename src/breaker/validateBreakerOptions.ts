/** Validation of the breaker's options (the machine's input, `createCircuitBreaker`, `breaker`). */
import { BREAKER_DEFAULTS, type BreakerOptions, type JitterMode } from '../../machines/breakerOptions.js';
import { ConfigError } from '../common/errors.js';
import {
  checkFunction,
  checkId,
  checkKnownKeys,
  checkNumber,
  checkObject,
  checkOneOf,
  checkPlainObject,
  MAX_TIMER_MS,
  optional,
} from '../common/validate.js';

const BREAKER_KEYS = [
  'id',
  'failureThreshold',
  'trip',
  'halfOpenMaxCalls',
  'halfOpenTimeoutMs',
  'backoff',
  'slowCallMs',
  'jitterSeed',
  'clock',
] as const;
const BACKOFF_KEYS = ['initialMs', 'multiplier', 'maxMs', 'jitter'] as const;
const JITTER_MODES: readonly JitterMode[] = ['none', 'full', 'equal', 'decorrelated'];

/** Throws `ConfigError` for the first invalid option; `field` prefixes the names (e.g. `breaker`). */
export function validateBreakerOptions(options: unknown, field = ''): asserts options is BreakerOptions {
  const at = (name: string) => (field ? `${field}.${name}` : name);
  checkPlainObject(options, field || 'options');
  checkKnownKeys(options, field, BREAKER_KEYS);
  optional(options.id, (v) => checkId(v, at('id')));
  optional(options.failureThreshold, (v) => checkNumber(v, at('failureThreshold'), { min: 1, integer: true }));
  optional(options.halfOpenMaxCalls, (v) => checkNumber(v, at('halfOpenMaxCalls'), { min: 1, integer: true }));
  optional(options.halfOpenTimeoutMs, (v) =>
    checkNumber(v, at('halfOpenTimeoutMs'), { min: 0, minExclusive: true, max: MAX_TIMER_MS }),
  );
  optional(options.slowCallMs, (v) => checkNumber(v, at('slowCallMs'), { min: 0, minExclusive: true }));
  optional(options.jitterSeed, (v) => checkNumber(v, at('jitterSeed'), { integer: true }));
  optional(options.trip, (trip) => validateTrip(trip, at('trip')));
  optional(options.backoff, (backoff) => {
    checkPlainObject(backoff, at('backoff'));
    checkKnownKeys(backoff, at('backoff'), BACKOFF_KEYS);
    optional(backoff.initialMs, (v) => checkNumber(v, at('backoff.initialMs'), { min: 0, max: MAX_TIMER_MS }));
    optional(backoff.multiplier, (v) => checkNumber(v, at('backoff.multiplier'), { min: 1 }));
    optional(backoff.maxMs, (v) => checkNumber(v, at('backoff.maxMs'), { min: 0, max: MAX_TIMER_MS }));
    optional(backoff.jitter, (v) => checkOneOf(v, at('backoff.jitter'), JITTER_MODES));
    const initialMs = (backoff.initialMs as number | undefined) ?? BREAKER_DEFAULTS.backoff.initialMs;
    const maxMs = (backoff.maxMs as number | undefined) ?? BREAKER_DEFAULTS.backoff.maxMs;
    if (maxMs < initialMs)
      throw new ConfigError(at('backoff.maxMs'), maxMs, `a number ≥ backoff.initialMs (${initialMs})`);
  });
  optional(options.clock, (clock) => validateClock(clock, at('clock')));
}

/** A clock (`setTimeout`, `clearTimeout`, `now`): the breaker's option and the supervisor's. */
export function validateClock(clock: unknown, field: string): void {
  checkObject(clock, field);
  checkFunction(clock.setTimeout, `${field}.setTimeout`);
  checkFunction(clock.clearTimeout, `${field}.clearTimeout`);
  checkFunction(clock.now, `${field}.now`);
}

function validateTrip(trip: unknown, field: string): void {
  checkPlainObject(trip, field);
  checkOneOf(trip.kind, `${field}.kind`, ['consecutive', 'rate'] as const);
  if (trip.kind === 'consecutive') {
    checkKnownKeys(trip, field, ['kind', 'threshold']);
    checkNumber(trip.threshold, `${field}.threshold`, { min: 1, integer: true });
    return;
  }
  checkKnownKeys(trip, field, ['kind', 'window', 'size', 'minimumCalls', 'failureRate']);
  checkOneOf(trip.window, `${field}.window`, ['count', 'time'] as const);
  checkNumber(trip.size, `${field}.size`, { min: 1, integer: trip.window === 'count' });
  checkNumber(trip.minimumCalls, `${field}.minimumCalls`, { min: 1, integer: true });
  checkNumber(trip.failureRate, `${field}.failureRate`, { min: 0, max: 1, minExclusive: true });
  if (trip.window === 'count' && (trip.minimumCalls as number) > (trip.size as number)) {
    throw new ConfigError(`${field}.minimumCalls`, trip.minimumCalls, `an integer ≤ ${field}.size (${trip.size})`);
  }
}
