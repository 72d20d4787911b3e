/**
 * The work every subject wraps, identical for all: an async no-op, so a case's cost is the
 * wrapper's, and `raw` (awaiting the no-op itself) is the floor. Failures throw one prebuilt error,
 * so no case pays for a stack trace the library did not capture itself.
 */
export const noop = async () => {};

export const boom = new Error('boom');

export const failAsync = async () => {
  throw boom;
};

export const failSync = () => {
  throw boom;
};

/** Ends a rejected promise quietly: every rejection case pays this same reaction. */
export const swallow = () => {};

/** An open period that outlasts any run: circuits opened for a case stay open. */
export const HOUR_MS = 3_600_000;
export const STAYS_OPEN = { failureThreshold: 1, backoff: { initialMs: HOUR_MS, maxMs: HOUR_MS } };
