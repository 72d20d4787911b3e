/**
 * How a model check tells two breaker snapshots apart: by state value and the context the guards
 * (and the runtime's call path) read. Everything else (timestamps, reasons, the jitter's random
 * state, the absolute generation) is left out, which keeps the explored space finite and small.
 */
import type { BreakerContext, BreakerState } from '../../machines/circuitBreaker.js';

export interface KeyedSnapshot {
  value: BreakerState;
  context: BreakerContext;
}

/**
 * The abstract state of a breaker snapshot:
 * - the failure count only while closed (every way into `closed` but a restore resets it, and a
 *   restore lands in closed), and only as far as the guards can tell it apart: up to the
 *   consecutive threshold, or zero/non-zero under a rate policy (the runtime sends a success only
 *   while it is non-zero);
 * - whether a closed breaker never moved (generation 0): only such a breaker accepts `RESTORE`;
 * - the probe permits and successes of the half-open window, and its lease (pending, granted,
 *   denied);
 * - the backoff level (bounded: it grows to `backoff.maxMs` and stops).
 *
 * The generation is otherwise left out: results are explored with the current generation and an
 * older one, and the guards only compare generations for equality.
 */
export function breakerStateKey(snapshot: KeyedSnapshot): string {
  const { value, context } = snapshot;
  const trip = context.policy.trip;
  const failures =
    value !== 'closed'
      ? null
      : trip.kind === 'consecutive'
        ? Math.min(context.failureCount, trip.threshold)
        : Math.min(context.failureCount, 1);
  const pristine = value === 'closed' ? context.generation === 0 : null;
  const lease = value === 'half_open' ? context.probeLease : null;
  return JSON.stringify([
    value,
    failures,
    context.probesAdmitted,
    context.probeSuccesses,
    context.backoffMs,
    lease,
    pristine,
  ]);
}
