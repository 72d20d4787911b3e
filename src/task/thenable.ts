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
 * What `run` returned as a promise to chain on, or undefined for a plain value. A native promise
 * with the intrinsic `then` and constructor is used as it is (no extra tick: the common case), so
 * chaining on it runs no user code; anything else that is thenable — a promise with its own `then`,
 * a subclass, a thenable — is adopted by a new promise's resolve function, which never throws and
 * settles once (`Promise.resolve` would hand back a native promise as it is, own `then` and all).
 * Chaining on a fake promise (an object made from `Promise.prototype`) can still throw: callers
 * catch that as the attempt's failure.
 */
export function promiseOf(value: unknown): Promise<unknown> | undefined {
  try {
    if (
      value instanceof Promise &&
      (value as { then: unknown }).then === intrinsicThen &&
      (value as { constructor: unknown }).constructor === Promise
    ) {
      return value;
    }
  } catch {
    // `instanceof` on a revoked Proxy, a throwing getter: adopt it, which rejects with the reason.
    return adopt(value);
  }
  return isThenable(value) ? adopt(value) : undefined;
}

function adopt(value: unknown): Promise<unknown> {
  return new Promise((resolve) => resolve(value));
}
