/**
 * A promise that rejects one microtask after it is returned, once the caller has attached its
 * handler (`await`, `.then`, `.catch` run synchronously on the returned promise).
 *
 * Why: Node tracks every promise that rejects while it has no handler (the unhandled-rejection
 * bookkeeping) and untracks it when a handler arrives. `Promise.reject(reason)` handed to an
 * `await` pays both, ~1.5 µs here (bench case `reject-all-open` before and after); a pending promise that rejects after its handler is attached
 * pays ~0.2 µs. In an outage, rejecting is the hot path. A caller that never handles the promise
 * still gets Node's usual unhandled-rejection report, one microtask later.
 */
const settledTick = Promise.resolve();

let capturedReject: (reason: unknown) => void = () => {};
// One executor for every promise: no closure per call just to get hold of `reject`.
const captureReject = (_resolve: unknown, reject: (reason: unknown) => void): void => {
  capturedReject = reject;
};

export function rejectLater(reason: unknown): Promise<never> {
  const promise = new Promise<never>(captureReject);
  const reject = capturedReject;
  settledTick.then(() => reject(reason));
  return promise;
}
