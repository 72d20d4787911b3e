/**
 * Clocks. The default is real time read through a millisecond cache: `Date.now()` costs ~116 ns on
 * our CI machines (more than a whole routed call's bookkeeping), and every call needs two readings
 * for its duration. One shared interval refreshes the cache each millisecond while calls are being
 * timed and stops itself after a quiet millisecond; it is unref'd, so it never keeps Node alive.
 */
import type { Clock } from '../../machines/breakerOptions.js';

export type { Clock };

let cachedNow = 0;
let ticker: ReturnType<typeof setInterval> | undefined;
let readSinceTick = false;

function tick(): void {
  cachedNow = Date.now();
  if (!readSinceTick) stopTicker();
  readSinceTick = false;
}

function stopTicker(): void {
  if (ticker !== undefined) clearInterval(ticker);
  ticker = undefined;
}

/** Real time at millisecond resolution: the default clock. */
export const realClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
  now: () => {
    if (ticker === undefined) {
      cachedNow = Date.now();
      ticker = setInterval(tick, 1);
      ticker.unref();
    }
    readSinceTick = true;
    return cachedNow;
  },
};

/** Stops the cache's interval now (it restarts on the next reading): for `stop()`. */
export function pauseRealClock(): void {
  stopTicker();
}

/** ISO-8601 text for a clock reading, or null. */
export function isoTime(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}
