/**
 * When a healthy call on the default clock is timed. Reading `Date.now()` at both ends of every
 * call added ~60 ns a call, which took the healthy route from 0.58× to 1.38× of cockatiel's overhead
 * (bench case `route-priority`, measured side by side; docs/architecture.md, principle 12). So a call that no decision depends on is
 * timed by sampling: each breaker's first call in every heartbeat (100 ms), and every
 * `SAMPLE_EVERY`th call it starts (its count of started calls, kept anyway, so the check writes
 * nothing). A sampled call reads the clock exactly at both ends; an unsampled one reads nothing. The heartbeat only says *when* to measure, never *what time it is*, so a late or
 * missing beat (a blocked event loop) can only mean fewer samples, never a wrong one.
 *
 * Calls whose outcome depends on time (`slowCallMs`, a deadline, a time-based rate window, a
 * probe) and every call on a custom clock are timed exactly, always.
 */

/** One call in this many is timed within a heartbeat, after each breaker's first (a power of two). */
export const SAMPLE_EVERY = 64;
const SAMPLE_MASK = SAMPLE_EVERY - 1;
/** The heartbeat: each breaker's first call after a beat is timed. */
export const HEARTBEAT_MS = 100;

/** What the sampler keeps per breaker. */
export interface SampledBreaker {
  /** The heartbeat epoch of the breaker's last sample. */
  sampledEpoch: number;
}

let epoch = 0;
let heartbeat: ReturnType<typeof setTimeout> | undefined;

function beat(): void {
  epoch++;
  heartbeat = undefined; // re-armed by the next sample: an idle process has no timer at all
}

/** Whether call number `callNumber` (any running count) on `breaker` should be timed. */
export function sampleDue(breaker: SampledBreaker, callNumber: number): boolean {
  if ((callNumber & SAMPLE_MASK) !== 0 && breaker.sampledEpoch === epoch) return false;
  breaker.sampledEpoch = epoch;
  if (heartbeat === undefined) {
    heartbeat = setTimeout(beat, HEARTBEAT_MS);
    heartbeat.unref();
  }
  return true;
}
