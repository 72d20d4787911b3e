/**
 * What any wrapper of the same shape as `supervisor.route` pays before doing any bookkeeping, so
 * the healthy-route target can be read against it in the same run:
 *
 * - `thenFloor`: the least a wrapper that acts on the outcome can do: one `then` with a
 *   fulfilment and a rejection handler (a new promise, and one more microtask before the caller's
 *   `await` resumes);
 * - `timedFloor`: handlers made per call, as recording each call's latency needs (they must know
 *   when their call started; a shared handler only sees the value). The start is a counter here,
 *   not a clock reading, and nothing else is recorded.
 */
import { noop } from './work.js';

const settled = (value) => value;
const rethrow = (error) => {
  throw error;
};

export function thenFloor() {
  return noop().then(settled, rethrow);
}

/** Module state the handlers read and write, as a wrapper's counters would be. */
const state = { started: 0, latencySum: 0 };

export function timedFloor() {
  const startedAt = ++state.started;
  return noop().then(
    (value) => {
      state.latencySum += state.started - startedAt;
      return value;
    },
    (error) => {
      state.latencySum += state.started - startedAt;
      throw error;
    },
  );
}
