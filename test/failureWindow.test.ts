/**
 * The sliding window a rate trip policy counts in (src/breaker/failureWindow.ts): the breaker
 * records every outcome with the clock's `now` and reads `calls` and `failures` back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RateTripPolicy } from '../machines/breakerOptions.js';
import { FailureWindow } from '../src/breaker/failureWindow.js';

function policy(window: 'count' | 'time', size: number): RateTripPolicy {
  return { kind: 'rate', window, size, minimumCalls: 1, failureRate: 0.5 };
}

function figures(w: FailureWindow): { calls: number; failures: number } {
  return { calls: w.calls, failures: w.failures };
}

describe('FailureWindow, count-based', () => {
  it('starts empty', () => {
    expect(figures(new FailureWindow(policy('count', 3)))).toEqual({ calls: 0, failures: 0 });
  });

  it('counts calls and failures until the window is full', () => {
    const w = new FailureWindow(policy('count', 3));
    w.record(true, 0);
    expect(figures(w)).toEqual({ calls: 1, failures: 1 });
    w.record(false, 0);
    expect(figures(w)).toEqual({ calls: 2, failures: 1 });
    w.record(true, 0);
    expect(figures(w)).toEqual({ calls: 3, failures: 2 });
  });

  it('evicts the oldest outcome once full, whatever it was', () => {
    const w = new FailureWindow(policy('count', 3));
    w.record(true, 0); // F
    w.record(false, 0); // S
    w.record(true, 0); // F   -> [F S F]
    w.record(false, 0); // evicts F -> [S F S]
    expect(figures(w)).toEqual({ calls: 3, failures: 1 });
    w.record(false, 0); // evicts S -> [F S S]
    expect(figures(w)).toEqual({ calls: 3, failures: 1 });
    w.record(false, 0); // evicts F -> [S S S]
    expect(figures(w)).toEqual({ calls: 3, failures: 0 });
    w.record(true, 0); // evicts S -> [S S F]
    expect(figures(w)).toEqual({ calls: 3, failures: 1 });
  });

  it('ignores time: only the last `size` calls count, however old', () => {
    const w = new FailureWindow(policy('count', 2));
    w.record(true, 0);
    w.record(true, 1e9);
    expect(figures(w)).toEqual({ calls: 2, failures: 2 });
  });

  it('a window of one holds only the last outcome', () => {
    const w = new FailureWindow(policy('count', 1));
    w.record(true, 0);
    expect(figures(w)).toEqual({ calls: 1, failures: 1 });
    w.record(false, 0);
    expect(figures(w)).toEqual({ calls: 1, failures: 0 });
    w.record(true, 0);
    expect(figures(w)).toEqual({ calls: 1, failures: 1 });
  });

  it('reset empties the window, and it then fills again from scratch', () => {
    const w = new FailureWindow(policy('count', 3));
    w.record(true, 0);
    w.record(true, 0);
    w.record(false, 0);
    w.record(true, 0); // wrapped: the next slot is not the first
    w.reset();
    expect(figures(w)).toEqual({ calls: 0, failures: 0 });
    w.record(false, 0);
    w.record(false, 0);
    expect(figures(w)).toEqual({ calls: 2, failures: 0 });
    w.record(true, 0);
    expect(figures(w)).toEqual({ calls: 3, failures: 1 });
    w.record(false, 0); // evicts the first success recorded after the reset
    expect(figures(w)).toEqual({ calls: 3, failures: 1 });
    w.record(false, 0);
    w.record(false, 0); // evicts the failure
    expect(figures(w)).toEqual({ calls: 3, failures: 0 });
  });

  it('matches a model holding the last `size` outcomes (with resets)', () => {
    const stepArb = fc.oneof(
      { weight: 10, arbitrary: fc.boolean().map((failed) => ({ kind: 'record' as const, failed })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(stepArb, { maxLength: 80 }), (size, steps) => {
        const w = new FailureWindow(policy('count', size));
        let model: boolean[] = [];
        for (const step of steps) {
          if (step.kind === 'reset') {
            w.reset();
            model = [];
          } else {
            w.record(step.failed, 0);
            model.push(step.failed);
            if (model.length > size) model.shift();
          }
          expect(figures(w)).toEqual({ calls: model.length, failures: model.filter((f) => f).length });
        }
      }),
    );
  });
});

// A 1 s window is ten buckets of 100 ms; a bucket [s, s + 100) leaves the window once
// `now - 1000 >= s + 100`.
describe('FailureWindow, time-based', () => {
  it('counts calls and failures in the window, several per bucket', () => {
    const w = new FailureWindow(policy('time', 1000));
    w.record(true, 10);
    w.record(true, 20);
    w.record(false, 99);
    expect(figures(w)).toEqual({ calls: 3, failures: 2 });
    w.record(false, 150);
    w.record(true, 950);
    expect(figures(w)).toEqual({ calls: 5, failures: 3 });
  });

  it('keeps outcomes that are still within the window', () => {
    const w = new FailureWindow(policy('time', 1000));
    w.record(true, 150); // bucket [100, 200)
    w.record(true, 1050); // oldest = 50: [100, 200) is still in
    expect(figures(w)).toEqual({ calls: 2, failures: 2 });
  });

  it('evicts a bucket once its end is at or before now - size', () => {
    const w = new FailureWindow(policy('time', 1000));
    w.record(true, 150); // bucket [100, 200)
    w.record(false, 1200); // oldest = 200: [100, 200) is out, exactly on the boundary
    expect(figures(w)).toEqual({ calls: 1, failures: 0 });
  });

  it('evicts old buckets and keeps younger ones', () => {
    const w = new FailureWindow(policy('time', 1000));
    w.record(true, 10); // [0, 100)
    w.record(true, 20); // [0, 100)
    w.record(false, 550); // [500, 600)
    w.record(true, 560); // [500, 600)
    expect(figures(w)).toEqual({ calls: 4, failures: 3 });
    w.record(false, 1120); // oldest = 120: [0, 100) goes
    expect(figures(w)).toEqual({ calls: 3, failures: 1 });
    w.record(false, 1600); // oldest = 600: [500, 600) goes, [1100, 1200) stays
    expect(figures(w)).toEqual({ calls: 2, failures: 0 });
  });

  it('empties entirely after a long quiet spell', () => {
    const w = new FailureWindow(policy('time', 1000));
    for (let t = 0; t < 1000; t += 50) w.record(t % 100 === 0, t);
    expect(figures(w)).toEqual({ calls: 20, failures: 10 });
    w.record(true, 10_000);
    expect(figures(w)).toEqual({ calls: 1, failures: 1 });
  });

  it('works with a window that does not divide into whole-millisecond buckets', () => {
    const w = new FailureWindow(policy('time', 25)); // buckets of 2.5 ms
    w.record(true, 0); // [0, 2.5)
    w.record(false, 6); // [5, 7.5)
    expect(figures(w)).toEqual({ calls: 2, failures: 1 });
    w.record(false, 27.5); // [27.5, 30); oldest = 2.5: [0, 2.5) goes, [5, 7.5) stays
    expect(figures(w)).toEqual({ calls: 2, failures: 0 });
  });

  it('reset empties the window and forgets its buckets', () => {
    const w = new FailureWindow(policy('time', 1000));
    w.record(true, 10);
    w.record(true, 20);
    w.record(false, 300);
    w.reset();
    expect(figures(w)).toEqual({ calls: 0, failures: 0 });
    // Had the buckets survived the reset, expiring them now would subtract them again.
    w.record(true, 5000);
    expect(figures(w)).toEqual({ calls: 1, failures: 1 });
    w.record(false, 5010);
    expect(figures(w)).toEqual({ calls: 2, failures: 1 });
  });

  // t=1010 lands in the slot of [0, 100), which has not expired by `now - size` (its end, 100, is
  // after 10) but is ten buckets back: reusing the slot must take its counts out of the totals.
  it('drops the counts of a bucket whose slot is reused before it expired', () => {
    const w = new FailureWindow(policy('time', 1000));
    for (let i = 0; i < 4; i++) w.record(true, 10);
    w.record(false, 1010);
    w.record(true, 60_000);
    expect(figures(w)).toEqual({ calls: 1, failures: 1 });
  });

  // Right after a record at `now`, the window holds exactly the outcomes of the ten buckets up to
  // now's: older buckets have expired (`now - size` is past their end) or, for the one ten buckets
  // back, given their slot to now's bucket.
  it('matches a model holding the outcomes of the last ten buckets (time never goes back)', () => {
    const stepArb = fc.record({
      dt: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 3000 })),
      failed: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.constantFrom(10, 100, 1000, 2500), fc.array(stepArb, { maxLength: 120 }), (size, steps) => {
        const w = new FailureWindow(policy('time', size));
        const bucketMs = size / 10;
        const model: { bucket: number; failed: boolean }[] = [];
        let now = 0;
        for (const { dt, failed } of steps) {
          now += dt;
          w.record(failed, now);
          const bucket = Math.floor(now / bucketMs);
          model.push({ bucket, failed });
          const held = model.filter((r) => r.bucket > bucket - 10);
          expect(figures(w)).toEqual({ calls: held.length, failures: held.filter((r) => r.failed).length });
        }
      }),
    );
  });
});
