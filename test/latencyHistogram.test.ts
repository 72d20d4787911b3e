/**
 * The breaker's call-duration histogram (src/breaker/latencyHistogram.ts): fixed buckets with
 * Prometheus `le` semantics, read by /metrics as cumulative counts against
 * `LATENCY_BUCKETS_SECONDS`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_SECONDS, LatencyHistogram } from '../src/breaker/latencyHistogram.js';

const BOUNDS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** The slot a duration must land in: the first bound it does not exceed, else +Inf. */
function slotOf(ms: number): number {
  const i = BOUNDS_MS.findIndex((bound) => ms <= bound);
  return i < 0 ? BOUNDS_MS.length : i;
}

describe('LatencyHistogram', () => {
  it('exports the Prometheus default buckets, in seconds, matching the millisecond bounds', () => {
    expect([...LATENCY_BUCKETS_SECONDS]).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    expect(LATENCY_BUCKETS_SECONDS.map((s) => s * 1000)).toEqual(BOUNDS_MS);
    // One slot per bound plus +Inf.
    expect(new LatencyHistogram().counts).toHaveLength(LATENCY_BUCKETS_SECONDS.length + 1);
  });

  it('starts empty', () => {
    const h = new LatencyHistogram();
    expect([...h.counts]).toEqual(new Array(12).fill(0));
    expect(h.cumulative()).toEqual(new Array(12).fill(0));
    expect(h.sumMs).toBe(0);
    expect(h.count).toBe(0);
  });

  it('puts a value exactly on a bound in that bound’s bucket', () => {
    LATENCY_BUCKETS_SECONDS.forEach((seconds, i) => {
      const h = new LatencyHistogram();
      h.record(seconds * 1000);
      const expected = new Array(12).fill(0);
      expected[i] = 1;
      expect([...h.counts], `${seconds * 1000} ms`).toEqual(expected);
    });
  });

  it('puts a value just above a bound in the next bucket', () => {
    BOUNDS_MS.forEach((bound, i) => {
      const h = new LatencyHistogram();
      h.record(bound + 0.001);
      expect(h.counts[i], `${bound} + 0.001 ms`).toBe(0);
      expect(h.counts[i + 1], `${bound} + 0.001 ms`).toBe(1);
    });
  });

  it('puts zero in the first bucket and anything above 10 s in +Inf', () => {
    const h = new LatencyHistogram();
    h.record(0);
    h.record(10_000.5);
    h.record(3_600_000);
    expect(h.counts[0]).toBe(1);
    expect(h.counts[11]).toBe(2);
    expect(h.counts.slice(1, 11).every((c) => c === 0)).toBe(true);
  });

  it('cumulative() gives running totals per bound, +Inf last and equal to count', () => {
    const h = new LatencyHistogram();
    for (const ms of [1, 5, 7, 30, 30, 600, 20_000]) h.record(ms);
    // slots:          0  0  1  3   3   6    11
    expect([...h.counts]).toEqual([2, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(h.cumulative()).toEqual([2, 3, 3, 5, 5, 5, 5, 6, 6, 6, 6, 7]);
    expect(h.count).toBe(7);
    expect(h.sumMs).toBe(1 + 5 + 7 + 30 + 30 + 600 + 20_000);
  });

  it('cumulative() returns a fresh array and leaves the counts alone', () => {
    const h = new LatencyHistogram();
    h.record(42);
    const first = h.cumulative();
    first[0] = 99;
    expect(h.cumulative()).not.toBe(first);
    expect(h.cumulative()[4]).toBe(1);
    expect([...h.counts]).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('matches a model for any durations', () => {
    const durationArb = fc.oneof(
      fc.constantFrom(...BOUNDS_MS),
      fc.integer({ min: 0, max: 20_000 }),
      fc.double({ min: 0, max: 1e6, noNaN: true }),
    );
    fc.assert(
      fc.property(fc.array(durationArb, { maxLength: 60 }), (durations) => {
        const h = new LatencyHistogram();
        const model = new Array(12).fill(0);
        for (const ms of durations) {
          h.record(ms);
          model[slotOf(ms)]++;
        }
        expect([...h.counts]).toEqual(model);
        let running = 0;
        expect(h.cumulative()).toEqual(model.map((c) => (running += c)));
        expect(h.count).toBe(durations.length);
        // Same additions in the same order: exactly equal.
        expect(h.sumMs).toBe(durations.reduce((a, b) => a + b, 0));
      }),
    );
  });
});
