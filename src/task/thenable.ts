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

/**
 * What `run` returned as a native promise to chain on, or undefined for a plain value: the promise
 * itself (no extra tick; tested first, it is the common case), or a thenable adopted.
 */
export function promiseOf(value: unknown): Promise<unknown> | undefined {
  try {
    if (value instanceof Promise) return value;
  } catch {
    // `instanceof` on a revoked Proxy throws: adopt it, which rejects with the reason.
    return Promise.resolve(value);
  }
  return isThenable(value) ? Promise.resolve(value) : undefined;
}
