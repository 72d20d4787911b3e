import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { BreakerOptions } from '../src/index.js';
import { CircuitOpenError, createCircuitBreaker } from '../src/index.js';
import { TrackedClock } from './support/trackedClock.js';

const ok = () => Promise.resolve('ok');
const boom = () => Promise.reject(new Error('Agent failed!'));

function setup(options: BreakerOptions = {}) {
  const clock = new SimulatedClock();
  clock.set(1_000_000);
  const breaker = createCircuitBreaker({ id: 'agent-1', clock, ...options });
  const fail = async (times = 1) => {
    for (let i = 0; i < times; i++) await breaker.execute(boom).catch(() => {});
  };
  return { clock, breaker, fail };
}

describe("the original design's flows", () => {
  it('TEST 1: normal operation passes calls through and counts successes', async () => {
    const { breaker } = setup();
    for (let i = 0; i < 3; i++) expect(await breaker.execute(ok)).toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(breaker.getMetrics().metrics.successCount).toBe(3);
  });

  it('TEST 2: opens after the threshold of consecutive failures, then rejects at once', async () => {
    const { breaker, fail } = setup({ failureThreshold: 3 });
    await fail(2);
    expect(breaker.state).toBe('closed');
    await fail(1);
    expect(breaker.state).toBe('open');
    let ran = false;
    const error = await breaker
      .execute(() => {
        ran = true;
        return ok();
      })
      .catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ agentId: 'agent-1', state: 'open', retryAfterMs: 1000 });
    expect(breaker.getMetrics().metrics.totalRejections).toBe(1);
  });

  it('a success between failures resets the consecutive count', async () => {
    const { breaker, fail } = setup();
    await fail(4);
    await breaker.execute(ok);
    await fail(4);
    expect(breaker.state).toBe('closed');
    await fail(1);
    expect(breaker.state).toBe('open');
  });

  it('TEST 3: recovers through three successful half-open probes', async () => {
    const { breaker, clock, fail } = setup({ failureThreshold: 3 });
    await fail(3);
    clock.increment(999);
    expect(breaker.state).toBe('open');
    clock.increment(1);
    expect(breaker.state).toBe('half_open');
    await breaker.execute(ok);
    await breaker.execute(ok);
    expect(breaker.state).toBe('half_open');
    await breaker.execute(ok);
    expect(breaker.state).toBe('closed');
    expect(breaker.getMetrics().backoffSeconds).toBe(1);
  });
});

describe('backoff', () => {
  it('grows 1000, 1500, 2250, … after each failed recovery, capped at 60000, and resets on close', async () => {
    const { breaker, clock, fail } = setup();
    await fail(5);
    const seen: number[] = [];
    for (let i = 0; i < 14; i++) {
      const retryAfter = (await breaker.execute(ok).catch((e: CircuitOpenError) => e)) as CircuitOpenError;
      seen.push(retryAfter.retryAfterMs as number);
      clock.increment(retryAfter.retryAfterMs as number);
      expect(breaker.state).toBe('half_open');
      await fail(1); // the probe fails: reopen with a longer backoff
      expect(breaker.state).toBe('open');
    }
    expect(seen.slice(0, 4)).toEqual([1000, 1500, 2250, 3375]);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] as number);
      expect(seen[i]).toBeLessThanOrEqual(60_000);
    }
    expect(seen.at(-1)).toBe(60_000);
    expect(breaker.getMetrics().backoffSeconds).toBe(60);

    clock.increment(60_000);
    for (let i = 0; i < 3; i++) await breaker.execute(ok);
    expect(breaker.state).toBe('closed');
    expect(breaker.getMetrics().backoffSeconds).toBe(1);
  });

  it.each([
    ['full', 0, 1],
    ['equal', 0.5, 1],
  ] as const)('%s jitter keeps the first open period within [%s, %s] × backoff', async (jitter, lo, hi) => {
    const delays: number[] = [];
    for (let seed = 1; seed <= 300; seed++) {
      const { breaker, fail } = setup({ jitterSeed: seed, backoff: { jitter } });
      await fail(5);
      delays.push(((await breaker.execute(ok).catch((e) => e)) as CircuitOpenError).retryAfterMs as number);
    }
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(lo * 1000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(hi * 1000);
    // Spread, not a constant: at least a hundred distinct delays among 300 seeds.
    expect(new Set(delays).size).toBeGreaterThan(100);
  });

  it('decorrelated jitter stays within [initialMs, maxMs] over repeated failed recoveries', async () => {
    const { breaker, clock, fail } = setup({ backoff: { jitter: 'decorrelated', initialMs: 100, maxMs: 5000 } });
    await fail(5);
    const delays: number[] = [];
    for (let i = 0; i < 200; i++) {
      const delay = ((await breaker.execute(ok).catch((e) => e)) as CircuitOpenError).retryAfterMs as number;
      delays.push(delay);
      clock.increment(delay);
      await fail(1);
    }
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...delays)).toBeLessThanOrEqual(5000);
    expect(new Set(delays).size).toBeGreaterThan(50);
  });
});

describe('half-open permits and late results', () => {
  it('admits exactly halfOpenMaxCalls concurrent probes and rejects the next', async () => {
    const { breaker, clock, fail } = setup();
    await fail(5);
    clock.increment(1000);
    const releases: Array<() => void> = [];
    const probe = () => new Promise<string>((resolve) => releases.push(() => resolve('probe')));
    const inFlight = [breaker.execute(probe), breaker.execute(probe), breaker.execute(probe)];
    await expect(breaker.execute(ok)).rejects.toMatchObject({ state: 'half_open' });
    expect(releases).toHaveLength(3);
    for (const release of releases) release();
    await Promise.all(inFlight);
    expect(breaker.state).toBe('closed');
  });

  it('one failed probe reopens the circuit with the next backoff', async () => {
    const { breaker, clock, fail } = setup();
    await fail(5);
    clock.increment(1000);
    await breaker.execute(ok);
    await fail(1);
    expect(breaker.state).toBe('open');
    expect(breaker.getMetrics().backoffSeconds).toBe(1.5);
  });

  it('a success admitted before the trip never counts as a probe or closes the circuit', async () => {
    const { breaker, clock, fail } = setup();
    let releaseLate!: () => void;
    const late = breaker.execute(() => new Promise<string>((resolve) => (releaseLate = () => resolve('late'))));
    await fail(5);
    expect(breaker.state).toBe('open');
    // The late success arrives while open: no state change.
    releaseLate();
    await late;
    expect(breaker.state).toBe('open');

    // Another call admitted before the trip, arriving during the next half-open window.
    const { breaker: b2, clock: c2, fail: fail2 } = setup({ halfOpenMaxCalls: 1 });
    let releaseLate2!: () => void;
    const late2 = b2.execute(() => new Promise<string>((resolve) => (releaseLate2 = () => resolve('late'))));
    await fail2(5);
    c2.increment(1000);
    expect(b2.state).toBe('half_open');
    releaseLate2();
    await late2;
    expect(b2.state).toBe('half_open'); // not closed by a result from the older generation
    clock.increment(1000);
    expect(breaker.state).toBe('half_open');
  });

  it('a probe that never returns cannot wedge the breaker: the window times out and reopens', async () => {
    const { breaker, clock, fail } = setup({ halfOpenMaxCalls: 1, halfOpenTimeoutMs: 5000 });
    await fail(5);
    clock.increment(1000);
    void breaker.execute(() => new Promise(() => {}));
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    clock.increment(5000);
    expect(breaker.state).toBe('open');
    expect(breaker.getMetrics().backoffSeconds).toBe(1.5);
    clock.increment(1500);
    expect(await breaker.execute(ok)).toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('a half-open window with no traffic restarts instead of reopening', async () => {
    const { breaker, clock, fail } = setup({ halfOpenTimeoutMs: 5000 });
    await fail(5);
    clock.increment(1000);
    clock.increment(20_000);
    expect(breaker.state).toBe('half_open');
    expect(breaker.getMetrics().backoffSeconds).toBe(1);
  });

  it('a probe from an earlier half-open window does not count in the next one', async () => {
    const { breaker, clock, fail } = setup({ halfOpenMaxCalls: 2, halfOpenTimeoutMs: 5000 });
    await fail(5);
    clock.increment(1000);
    let releaseOld!: () => void;
    const old = breaker.execute(() => new Promise<string>((r) => (releaseOld = () => r('old'))));
    clock.increment(5000); // stuck probe: reopen
    clock.increment(1500); // next window
    expect(breaker.state).toBe('half_open');
    await breaker.execute(ok);
    releaseOld();
    await old;
    expect(breaker.state).toBe('half_open'); // one current probe, not two
    await breaker.execute(ok);
    expect(breaker.state).toBe('closed');
  });
});

describe('isolate and reset', () => {
  it('isolated rejects everything and never recovers on its own; reset closes it', async () => {
    const { breaker, clock } = setup();
    breaker.isolate();
    expect(breaker.state).toBe('isolated');
    await expect(breaker.execute(ok)).rejects.toMatchObject({ state: 'isolated', retryAfterMs: null });
    clock.increment(10 * 60_000);
    expect(breaker.state).toBe('isolated');
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(await breaker.execute(ok)).toBe('ok');
  });

  it('reset from open restores the initial backoff and clears failures', async () => {
    const { breaker, fail } = setup();
    await fail(5);
    breaker.reset();
    expect(breaker.getMetrics()).toMatchObject({ state: 'closed', backoffSeconds: 1, metrics: { failureCount: 0 } });
    await fail(4);
    expect(breaker.state).toBe('closed');
  });
});

describe('failures of any shape', () => {
  it.each([
    [
      'a synchronous throw',
      () => {
        throw new Error('sync boom');
      },
      'sync boom',
    ],
    ['a rejection with undefined', () => Promise.reject(undefined), 'rejected with undefined'],
    ['a rejection with a string', () => Promise.reject('nope'), 'nope'],
    ['a rejection with a frozen object', () => Promise.reject(Object.freeze({ code: 7 })), 'rejected with {"code":7}'],
  ])('%s counts as a failure with a readable reason and is rethrown as it was', async (_name, fn, reason) => {
    const { breaker } = setup({ failureThreshold: 1 });
    const seen = await breaker.execute(fn).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    expect(seen).not.toBe('resolved');
    expect(breaker.state).toBe('open');
    expect(breaker.getMetrics().metrics.totalFailures).toBe(1);
    expect(breaker.getMetrics().metrics.lastFailureTime).toBe(new Date(1_000_000).toISOString());
    expect((breaker.actor.getSnapshot() as { context: { lastFailureReason: string } }).context.lastFailureReason).toBe(
      reason,
    );
  });

  it('a 1 MB error message is kept readable and bounded', async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    await breaker.execute(() => Promise.reject(new Error('x'.repeat(1 << 20)))).catch(() => {});
    const reason = (breaker.actor.getSnapshot() as { context: { lastFailureReason: string } }).context
      .lastFailureReason;
    expect(reason.length).toBeLessThan(1000);
    expect(reason).toContain('1048576 chars');
  });

  it('a slow call counts as a failure but its result is still returned', async () => {
    const { breaker, clock } = setup({ failureThreshold: 1, slowCallMs: 100 });
    const value = await breaker.execute(async () => {
      clock.increment(150);
      return 'slow but fine';
    });
    expect(value).toBe('slow but fine');
    expect(breaker.state).toBe('open');
  });
});

describe('rate trip policy', () => {
  it('count window: trips when the failure rate over the last calls reaches the threshold', async () => {
    const { breaker, fail } = setup({
      trip: { kind: 'rate', window: 'count', size: 10, minimumCalls: 10, failureRate: 0.5 },
    });
    for (let i = 0; i < 5; i++) await breaker.execute(ok);
    await fail(4);
    expect(breaker.state).toBe('closed'); // 9 calls < minimumCalls
    await fail(1);
    expect(breaker.state).toBe('open'); // 5 of 10 failed
  });

  it('count window: old outcomes slide out', async () => {
    const { breaker, fail } = setup({
      trip: { kind: 'rate', window: 'count', size: 4, minimumCalls: 4, failureRate: 0.75 },
    });
    await fail(2);
    for (let i = 0; i < 4; i++) await breaker.execute(ok); // the failures slide out
    await fail(2);
    expect(breaker.state).toBe('closed'); // 2 of 4
    await fail(1);
    expect(breaker.state).toBe('open'); // 3 of 4
  });

  it('time window: failures older than the window do not count', async () => {
    const { breaker, clock, fail } = setup({
      trip: { kind: 'rate', window: 'time', size: 10_000, minimumCalls: 3, failureRate: 1 },
    });
    await fail(2);
    clock.increment(11_000);
    await fail(1);
    expect(breaker.state).toBe('closed');
    await fail(2);
    expect(breaker.state).toBe('open');
  });
});

describe('observables and the actor', () => {
  it('state$ starts with the current state, emits only changes, and completes on stop', async () => {
    const { breaker, clock, fail } = setup();
    const seen: string[] = [];
    let completed = false;
    breaker.state$.subscribe({ next: (s) => seen.push(s), complete: () => (completed = true) });
    await fail(5);
    await fail(1);
    clock.increment(1000);
    for (let i = 0; i < 3; i++) await breaker.execute(ok);
    breaker.stop();
    expect(seen).toEqual(['closed', 'open', 'half_open', 'closed']);
    expect(completed).toBe(true);
  });

  it('a healthy success sends no event to the actor', async () => {
    const { breaker } = setup();
    const actor = breaker.actor; // activate so sends could be observed
    const before = actor.getSnapshot();
    for (let i = 0; i < 10; i++) await breaker.execute(ok);
    expect(actor.getSnapshot()).toBe(before);
  });

  it('half-open holds its probe lease at once, with no lease actor (no shared-state adapter)', async () => {
    const { breaker, clock, fail } = setup();
    await fail(5);
    clock.increment(1000);
    const snapshot = breaker.actor.getSnapshot();
    expect(snapshot.value).toBe('half_open');
    expect(snapshot.context.probeLease).toBe('granted');
    expect(Object.keys(snapshot.children)).toEqual([]); // an actor per window cost half the transition
    await breaker.execute(ok); // a probe is admitted at once
    expect(breaker.actor.getSnapshot().context.probesAdmitted).toBe(1);
  });

  it('stop() clears the pending backoff timer', async () => {
    // `breaker.state` stops following the actor at stop(), so ask the clock for what is left behind.
    const sim = new SimulatedClock();
    sim.set(1_000_000);
    const clock = new TrackedClock(sim);
    const breaker = createCircuitBreaker({ id: 'agent-1', clock });
    for (let i = 0; i < 5; i++) await breaker.execute(boom).catch(() => {});
    expect(breaker.state).toBe('open');
    expect(clock.live.size).toBeGreaterThan(0); // the backoff timer is pending
    breaker.stop();
    expect(clock.live.size).toBe(0);
  });
});

describe('jitter across agents', () => {
  it('agents with the same jitterSeed still draw different delays (they must not probe together)', async () => {
    const delays = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const clock = new SimulatedClock();
      const breaker = createCircuitBreaker({
        id: `agent-${i}`,
        clock,
        failureThreshold: 1,
        backoff: { jitter: 'full' },
      });
      await breaker.execute(boom).catch(() => {});
      delays.add(((await breaker.execute(ok).catch((e) => e)) as CircuitOpenError).retryAfterMs as number);
      breaker.stop();
    }
    expect(delays.size).toBeGreaterThan(40);
  });
});
