/**
 * Call durations in fixed buckets: a linear scan over a dozen bounds and three additions per call.
 * prom-client reads it at scrape time (`/metrics`); nothing is pushed on the call path.
 *
 * On the default clock healthy calls are timed by sampling (common/latencySampler.ts): a call that
 * was not timed is `skip()`ped, and the next recorded duration stands for it too (it is counted
 * with the weight of the calls it represents), so `count` follows the number of calls and the
 * buckets' shares and `sumMs / count` estimate the whole population's.
 */

/** Upper bounds in seconds, Prometheus' default buckets. */
export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
const BOUNDS_MS = LATENCY_BUCKETS_SECONDS.map((s) => s * 1000);

export class LatencyHistogram {
  /** counts[i]: durations ≤ bound i and above bound i-1; the last slot is +Inf. */
  readonly counts = new Float64Array(BOUNDS_MS.length + 1);
  sumMs = 0;
  count = 0;

  /** Calls not timed since the last recorded duration. */
  private skipped = 0;

  record(durationMs: number): void {
    let i = 0;
    while (i < BOUNDS_MS.length && durationMs > (BOUNDS_MS[i] as number)) i++;
    const weight = 1 + this.skipped;
    this.skipped = 0;
    (this.counts[i] as number) += weight;
    this.sumMs += durationMs * weight;
    this.count += weight;
  }

  /** A call that was not timed: the next recorded duration counts for it. */
  skip(): void {
    this.skipped++;
  }

  /** Cumulative counts per bound (Prometheus `le` semantics), +Inf last. */
  cumulative(): number[] {
    const out: number[] = [];
    let running = 0;
    for (const c of this.counts) {
      running += c;
      out.push(running);
    }
    return out;
  }
}
