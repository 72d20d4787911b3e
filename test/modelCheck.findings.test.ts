/**
 * Regression tests for what the model checking found (issue 4), written as plain user scenarios.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createCircuitBreaker } from '../src/index.js';

const ok = () => Promise.resolve('ok');
const boom = () => Promise.reject(new Error('boom'));

describe('findings of the model check', () => {
  it('a rate policy trips at exactly its failure rate, even when rate × calls is inexact in binary', async () => {
    // 0.55 × 100 is 55.00000000000001 in floating point, so "failures ≥ rate × calls" missed 55 of 100.
    const breaker = createCircuitBreaker({
      clock: new SimulatedClock(),
      trip: { kind: 'rate', window: 'count', size: 100, minimumCalls: 100, failureRate: 0.55 },
    });
    for (let i = 0; i < 45; i++) await breaker.execute(ok);
    for (let i = 0; i < 54; i++) await breaker.execute(boom).catch(() => {});
    expect(breaker.state).toBe('closed'); // 99 calls < minimumCalls
    await breaker.execute(boom).catch(() => {});
    expect(breaker.state).toBe('open'); // 55 of 100 failed: a 0.55 share
  });

  it('reset() of a closed breaker empties its rate window: a fresh circuit', async () => {
    // Found by the differential test: success → reset → failure tripped a rate policy of
    // minimumCalls 2, counting the success from before the reset.
    const breaker = createCircuitBreaker({
      clock: new SimulatedClock(),
      trip: { kind: 'rate', window: 'count', size: 4, minimumCalls: 2, failureRate: 0.25 },
    });
    await breaker.execute(ok);
    breaker.reset();
    await breaker.execute(boom).catch(() => {});
    expect(breaker.state).toBe('closed'); // one call since the reset < minimumCalls
    await breaker.execute(boom).catch(() => {});
    expect(breaker.state).toBe('open');
  });
});

/**
 * Regression tests for a bug found by the replay's clock check on issue 8's events
 * (`modelCheck.replay.test.ts`, "dates every change by the simulated clock"): an open circuit whose
 * `nextProbeAt` has already passed when it opens (a peer's trip delivered late, a snapshot restored
 * after a restart longer than its backoff) lets probes in at once, as it should, but dated the
 * half-open window at that past `nextProbeAt`. Every time derived from the window was then early by
 * the delay: a timed-out probe's failure, the reopened circuit's `nextProbeAt`, hence `retryAfterMs`
 * (0 while still open), the transition's `at` (before the trip that caused it), and what a snapshot
 * or a peer would be told. Fixed in `startHalfOpenWindow`, which now starts the window at
 * `Math.max(nextProbeAt, changedAt)`: when the circuit opened, never before.
 */
describe('an open circuit whose nextProbeAt has passed (issue 8)', () => {
  const options = { halfOpenMaxCalls: 1, halfOpenTimeoutMs: 30_000 } as const;

  /** Holds a probe until the half-open window times out; returns the breaker's state then. */
  async function probeTimesOut(breaker: ReturnType<typeof createCircuitBreaker>, clock: SimulatedClock) {
    const opened = clock.now();
    clock.increment(0); // the open period is over already
    expect(breaker.state).toBe('half_open');
    const context = () => (breaker.actor.getSnapshot() as { context: Record<string, unknown> }).context;
    expect(context()).toMatchObject({ halfOpenAt: opened, changedAt: opened });
    breaker.execute(() => new Promise(() => {})).catch(() => {}); // a probe that never returns
    await Promise.resolve();
    clock.increment(30_000);
    expect(breaker.state).toBe('open');
    const now = clock.now();
    // The stuck probe failed now, and the circuit is open for one backoff (1.5 s) from now.
    expect(context()).toMatchObject({ changedAt: now, lastFailureAt: now, nextProbeAt: now + 1500 });
    const rejection = await breaker.execute(ok).catch((e: unknown) => e);
    expect(rejection).toMatchObject({ state: 'open', retryAfterMs: 1500 });
  }

  it("a peer's trip delivered after the peer's nextProbeAt", async () => {
    const clock = new SimulatedClock();
    clock.set(10_000);
    const breaker = createCircuitBreaker({ clock, ...options });
    // The peer tripped the agent and probes at 5000; its message arrives at 10000.
    breaker.actor.send({ type: 'PEER_TRIPPED', at: clock.now(), nextProbeAt: 5_000 });
    await probeTimesOut(breaker, clock);
    breaker.stop();
  });

  it('an open snapshot restored after a restart longer than its backoff', async () => {
    const clock = new SimulatedClock();
    clock.set(10_000);
    const breaker = createCircuitBreaker({ clock, ...options });
    breaker.actor.send({
      type: 'RESTORE',
      at: clock.now(),
      state: 'open',
      failureCount: 5,
      backoffMs: 1000,
      nextProbeAt: 5_000,
      lastFailureAt: 4_000,
      lastFailureReason: 'boom',
    });
    await probeTimesOut(breaker, clock);
    breaker.stop();
  });
});
