/**
 * A clock that forwards to another (a `SimulatedClock`) and keeps the set of timers set through
 * it and not yet fired or cleared: give it to a supervisor and, after `stop()`, `live.size` is the
 * number of timers the supervisor left behind.
 */
import type { Clock } from '../../src/index.js';

export class TrackedClock implements Clock {
  readonly live = new Set<unknown>();
  set = 0;

  constructor(readonly inner: Clock) {}

  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown {
    this.set++;
    const id: unknown = this.inner.setTimeout(() => {
      this.live.delete(id);
      fn();
    }, ms);
    this.live.add(id);
    return id;
  }

  clearTimeout(id: unknown): void {
    this.live.delete(id);
    this.inner.clearTimeout(id);
  }

  now(): number {
    return this.inner.now();
  }
}
