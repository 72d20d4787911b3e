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
