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

/** ISO-8601 text for a clock reading, or null. */
export function isoTime(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}
