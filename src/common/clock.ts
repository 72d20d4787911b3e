/**
 * The default clock: real time, read when asked, and timers that never hold the process open.
 *
 * `now()` is `Date.now()` itself. An earlier version cached it behind a 1 ms interval: a
 * synchronous agent busy for 30 ms was timed 0 ms, calls after a 300 ms event-loop block were
 * timed 300 ms, and the interval woke the process 1,000 times a second. The call path saves its
 * readings differently: it reads the clock only where a decision depends on it and samples the
 * rest (`latencySampler.ts`; docs/architecture.md, principle 12).
 */
import type { Clock } from '../../machines/breakerOptions.js';
import { ConfigError } from './errors.js';

export type { Clock };

/** Real time in milliseconds; its timers are unref'd, so a pending backoff or deadline never keeps Node alive. */
export const realClock: Clock = {
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

/**
 * Makes a timer of the default clock hold the process open (`true`) or not: for a timer that guards
 * work somebody awaits (a task's deadline, `stop()`'s drain), and only while it does. Timers of
 * other clocks (a `SimulatedClock`'s ids) have no such notion and are left alone.
 */
export function holdProcess(timer: unknown, hold: boolean): void {
  const handle = timer as { ref?: () => unknown; unref?: () => unknown } | undefined;
  if (hold) handle?.ref?.();
  else handle?.unref?.();
}

/** The largest distance from the epoch, in ms, that `Date` can represent (ECMA-262: 100,000,000 days). */
export const MAX_TIME_MS = 8.64e15;

/** Whether `ms` is a time `Date` can represent: a finite number within ±`MAX_TIME_MS`. */
export function isClockTime(ms: unknown): ms is number {
  return typeof ms === 'number' && ms >= -MAX_TIME_MS && ms <= MAX_TIME_MS; // false for NaN
}

/**
 * ISO-8601 text for a clock reading, or null; never throws. Null and undefined give null. A number
 * beyond `Date`'s range (±8.64e15 ms, ±Infinity included) is clamped to the nearest end of it
 * (`+275760-09-13T00:00:00.000Z`, `-271821-04-20T00:00:00.000Z`); NaN names no time and gives null.
 * Times from a supervisor never need either rule: restore refuses out-of-range times and a clock's
 * bad readings are replaced (`guardedClock`); the rule keeps a JSON route or a timer from throwing
 * `RangeError` if one slips through anyway.
 */
export function isoTime(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return null;
  return new Date(Math.min(Math.max(ms, -MAX_TIME_MS), MAX_TIME_MS)).toISOString();
}

/**
 * A custom clock whose readings are checked: `now()` returns the inner clock's reading when it is a
 * time `Date` can represent (`isClockTime`) and not behind the latest reading; otherwise (NaN,
 * ±Infinity, beyond ±8.64e15 ms, not a number, or earlier than the latest) or when it throws, it
 * returns the latest good reading (0 before the first one), so time stands still and never runs
 * backwards, and the first bad reading (not a backwards one) is reported once through `report`: a `ConfigError` (field
 * `clock.now()`) naming the value, or what `now()` threw. Timers go to the inner clock unchanged, called as its methods. The default
 * clock is returned as it is: `Date.now()` is always in range and the call path reads it bare.
 */
export function guardedClock(clock: Clock, report: (error: unknown) => void): Clock {
  if (clock === realClock) return clock;
  let last = Number.NEGATIVE_INFINITY; // no reading yet
  let reported = false;
  const bad = (value: unknown, thrown: boolean): number => {
    if (!reported) {
      reported = true;
      report(thrown ? value : new ConfigError('clock.now()', value, `a finite time within ±${MAX_TIME_MS} ms`));
    }
    return last === Number.NEGATIVE_INFINITY ? 0 : last;
  };
  return {
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (id) => clock.clearTimeout(id),
    now: () => {
      let value: unknown;
      try {
        value = clock.now();
      } catch (error) {
        return bad(error, true);
      }
      if (!isClockTime(value)) return bad(value, false);
      // Never backwards: a reading behind the last one (a stepped wall clock) arms no timer for the
      // distance it jumped back, and a bad reading after it is replaced by the latest time seen.
      if (value < last) return last;
      last = value;
      return value;
    },
  };
}
