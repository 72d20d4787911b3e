/**
 * The sliding window of a rate trip policy (resilience4j's count- and time-based windows): plain
 * counters bumped on the call path. The machine decides on its figures, which arrive on FAILURE.
 */
import type { RateTripPolicy } from '../../machines/breakerOptions.js';

const TIME_BUCKETS = 10;

export class FailureWindow {
  calls = 0;
  failures = 0;
  private readonly outcomes: Uint8Array;
  private readonly bucketStart: Float64Array;
  private readonly bucketCalls: Uint32Array;
  private readonly bucketFailures: Uint32Array;
  private next = 0;
  private readonly bucketMs: number;

  constructor(private readonly policy: RateTripPolicy) {
    const count = policy.window === 'count';
    this.outcomes = new Uint8Array(count ? policy.size : 0);
    this.bucketStart = new Float64Array(count ? 0 : TIME_BUCKETS).fill(Number.NEGATIVE_INFINITY);
    this.bucketCalls = new Uint32Array(count ? 0 : TIME_BUCKETS);
    this.bucketFailures = new Uint32Array(count ? 0 : TIME_BUCKETS);
    this.bucketMs = count ? 0 : policy.size / TIME_BUCKETS;
  }

  /** Adds one outcome at `now` (1 = failed) and drops what fell out of the window. */
  record(failed: boolean, now: number): void {
    if (this.policy.window === 'count') this.recordCount(failed ? 1 : 2);
    else this.recordTime(failed, now);
  }

  reset(): void {
    this.calls = 0;
    this.failures = 0;
    this.next = 0;
    this.outcomes.fill(0);
    this.bucketStart.fill(Number.NEGATIVE_INFINITY);
    this.bucketCalls.fill(0);
    this.bucketFailures.fill(0);
  }

  // Each slot holds 0 (empty), 1 (failure) or 2 (success).
  private recordCount(outcome: 1 | 2): void {
    const old = this.outcomes[this.next];
    if (old !== 0) {
      this.calls--;
      if (old === 1) this.failures--;
    }
    this.outcomes[this.next] = outcome;
    this.calls++;
    if (outcome === 1) this.failures++;
    this.next = (this.next + 1) % this.outcomes.length;
  }

  private recordTime(failed: boolean, now: number): void {
    const start = Math.floor(now / this.bucketMs) * this.bucketMs;
    const index = Math.floor(now / this.bucketMs) % TIME_BUCKETS;
    this.expire(now);
    if (this.bucketStart[index] !== start) {
      // The slot still holds an older bucket that `expire` kept (it ends after now - size, yet it is
      // ten buckets back): it leaves the window now, and its counts leave the totals with it.
      this.calls -= this.bucketCalls[index] as number;
      this.failures -= this.bucketFailures[index] as number;
      this.bucketStart[index] = start;
      this.bucketCalls[index] = 0;
      this.bucketFailures[index] = 0;
    }
    (this.bucketCalls[index] as number)++;
    if (failed) (this.bucketFailures[index] as number)++;
    this.calls++;
    if (failed) this.failures++;
  }

  /** Drops buckets older than the window. */
  private expire(now: number): void {
    const oldest = now - this.policy.size;
    for (let i = 0; i < TIME_BUCKETS; i++) {
      const bucketStart = this.bucketStart[i] as number;
      if (bucketStart !== Number.NEGATIVE_INFINITY && bucketStart + this.bucketMs <= oldest) {
        this.calls -= this.bucketCalls[i] as number;
        this.failures -= this.bucketFailures[i] as number;
        this.bucketStart[i] = Number.NEGATIVE_INFINITY;
        this.bucketCalls[i] = 0;
        this.bucketFailures[i] = 0;
      }
    }
  }
}
