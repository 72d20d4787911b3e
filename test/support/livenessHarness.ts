/**
 * Helpers for the attempt-lifecycle regressions and the liveness properties: waiting on the event
 * loop without moving a `SimulatedClock`, asking whether a promise settled, deferred agent results,
 * a seeded random sequence, and a real busy-wait (only for the default clock's tests).
 */
import { setImmediate as immediate } from 'node:timers/promises';
import type { SimulatedClock } from 'xstate';

/** Lets promise chains and `setImmediate` callbacks run; the simulated clock does not move. */
export async function flush(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await immediate();
}

/** What a promise settled with, or `pending` when it had not settled within `rounds` turns of the event loop. */
export type Settlement<T = unknown> =
  | { status: 'resolved'; value: T }
  | { status: 'rejected'; error: unknown }
  | { status: 'pending' };

/**
 * Waits up to `rounds` turns of the event loop (no simulated time passes) for `promise` to settle.
 * A rejection is captured, never left unhandled.
 */
export async function settleWithin<T>(promise: Promise<T>, rounds = 30): Promise<Settlement<T>> {
  let settlement: Settlement<T> = { status: 'pending' };
  promise.then(
    (value) => {
      settlement = { status: 'resolved', value };
    },
    (error: unknown) => {
      settlement = { status: 'rejected', error };
    },
  );
  for (let i = 0; i < rounds && settlement.status === 'pending'; i++) await immediate();
  return settlement;
}

/** A settlement in words, for a problem list. */
export function describeSettlement(settlement: Settlement): string {
  if (settlement.status === 'pending') return 'still pending';
  if (settlement.status === 'resolved') return `resolved with ${JSON.stringify(settlement.value)}`;
  const error = settlement.error;
  return error instanceof Error ? `rejected with ${error.name}: ${error.message}` : `rejected with ${String(error)}`;
}

/** Moves the simulated clock `ms` forward in steps of `step`, letting promise chains run after each. */
export async function advance(clock: SimulatedClock, ms: number, step = 1): Promise<void> {
  for (let done = 0; done < ms; ) {
    const by = Math.min(step, ms - done);
    clock.increment(by);
    done += by;
    await flush(2);
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** mulberry32: a small seeded generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An equidistributed sequence in [0, 1): golden-ratio steps from a start derived from `seed`. As
 * `Math.random` for least-outstanding, every agent is among the draws at regular intervals, so a
 * bound on routes tests the router, not the luck of the draw.
 */
export function goldenSequence(seed: number): () => number {
  let x = seededRandom(seed)();
  return () => {
    x = (x + 0.6180339887498949) % 1;
    return x;
  };
}

/** Blocks the thread for `ms` of real time (the default clock's tests only). */
export function busyWait(ms: number): void {
  const until = performance.now() + ms;
  let spins = 0;
  while (performance.now() < until) spins++;
  if (spins < 0) throw new Error('unreachable');
}

/** An error the tests' `isFailure` says is not the agent's fault. */
export class NotTheAgentsFault extends Error {
  override name = 'NotTheAgentsFault';
}

/** `routing.isFailure` that spares `NotTheAgentsFault`. */
export const countsAgainstAgent = (error: unknown): boolean => !(error instanceof NotTheAgentsFault);
