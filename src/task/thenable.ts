/**
 * What an agent's `run` returned, told apart without ever throwing: a value, a native promise, or
 * a thenable. A hostile value (a revoked `Proxy`, a `then` getter that throws) must fail the attempt
 * like any other error, never escape the attempt's bookkeeping as a synchronous throw.
 */

/** Whether `value` must be awaited. True for a value whose `then` cannot even be read. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  try {
    return typeof (value as { then?: unknown }).then === 'function';
  } catch {
    // A `then` getter that throws, a revoked Proxy: `Promise.resolve()` reads it again and
    // rejects with its error, so the attempt fails like any other.
    return true;
  }
}

const intrinsicThen = Promise.prototype.then;

/**
 * Chains `onValue` / `onError` on what `run` returned, or returns undefined for a plain value.
 *
 * A native promise is chained with the built-in `then`, called directly: no `then` of the agent's
 * runs (an own `then`, or a getter that answers differently on each read, is never consulted), so
 * each handler is called at most once, later, with no extra tick (the common case). A subclass's
 * species constructor still shapes the promise returned to the caller, not the bookkeeping. Anything
 * else that is thenable is adopted by a new promise's resolve function, which never throws and
 * settles once. Chaining a fake promise (a Proxy, or an object made from `Promise.prototype`) throws
 * a TypeError: callers catch that as the attempt's failure.
 */
export function chain(
  value: unknown,
  onValue: (value: unknown) => unknown,
  onError: (error: unknown) => unknown,
): Promise<unknown> | undefined {
  let native: boolean;
  try {
    native = value instanceof Promise;
  } catch {
    // `instanceof` on a revoked Proxy: adopt it, which rejects with the reason.
    return adopt(value).then(onValue, onError);
  }
  if (native) return intrinsicThen.call(value as Promise<unknown>, onValue, onError);
  return isThenable(value) ? adopt(value).then(onValue, onError) : undefined;
}

function adopt(value: unknown): Promise<unknown> {
  return new Promise((resolve) => resolve(value));
}
