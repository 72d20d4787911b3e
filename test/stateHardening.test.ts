/**
 * Issue 14, the state items: out-of-range times in a snapshot or from a clock (2), the time-based
 * rate window's reused buckets (3), shard actors under agent churn (7) and what `failure_count`
 * means once the circuit has tripped (12). Each case goes through the public API.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  type Clock,
  ConfigError,
  createCircuitBreaker,
  createSupervisor,
  type DashboardServer,
  type Supervisor,
  type SupervisorOptions,
  type SupervisorSnapshot,
  serveDashboard,
} from '../src/index.js';

const MAX_DATE_MS = 8.64e15;

/** A clock whose timers are a SimulatedClock's and whose readings are `read()`'s. */
function clockReading(read: () => number): { clock: Clock; sim: SimulatedClock } {
  const sim = new SimulatedClock();
  return {
    sim,
    clock: {
      setTimeout: (fn, ms) => sim.setTimeout(fn, ms),
      clearTimeout: (id) => sim.clearTimeout(id as number),
      now: read,
    },
  };
}

const stopping: Supervisor[] = [];
const servers: DashboardServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  for (const supervisor of stopping.splice(0)) await supervisor.stop();
  vi.restoreAllMocks();
});

function tracked<T extends Supervisor>(supervisor: T): T {
  stopping.push(supervisor);
  return supervisor;
}

const fail = async (): Promise<never> => {
  throw new Error('down');
};

/** A supervisor of one agent `a` that fails until `agent.healthy` is set, one attempt per task. */
function oneSwitchableAgent(clock: SimulatedClock, breaker: NonNullable<SupervisorOptions['breaker']>) {
  const agent = { healthy: false };
  const supervisor = tracked(
    createSupervisor({
      clock,
      routing: { maxAttempts: 1 },
      breaker,
      agents: [{ id: 'a', run: async () => (agent.healthy ? 'ok' : fail()) }],
    }),
  );
  return { supervisor, agent };
}

/** A snapshot of one agent that failed once, taken at 1,000. */
function oneAgentSnapshot(): SupervisorSnapshot {
  return {
    format: 'breakerbox/supervisor-snapshot',
    version: 1,
    takenAt: 1000,
    agents: [
      {
        id: 'a',
        state: 'open',
        failureCount: 5,
        backoffMs: 1000,
        nextProbeAt: 2000,
        lastFailureAt: 1000,
        lastFailureReason: 'down',
        counters: { successCount: 1, totalFailures: 5, totalRejections: 0, timeouts: 0, lastSuccessAt: 900 },
      },
    ],
  };
}

describe('item 2: times beyond what Date can represent', () => {
  const outOfRange: [string, (s: SupervisorSnapshot, v: number) => void][] = [
    ['restore.takenAt', (s, v) => (s.takenAt = v)],
    ['restore.agents[0].lastFailureAt', (s, v) => ((s.agents[0] as { lastFailureAt: number }).lastFailureAt = v)],
    ['restore.agents[0].nextProbeAt', (s, v) => ((s.agents[0] as { nextProbeAt: number }).nextProbeAt = v)],
    [
      'restore.agents[0].counters.lastSuccessAt',
      (s, v) => ((s.agents[0] as { counters: { lastSuccessAt: number } }).counters.lastSuccessAt = v),
    ],
  ];
  for (const [field, set] of outOfRange) {
    for (const value of [MAX_DATE_MS + 1, -MAX_DATE_MS - 1, 1e300]) {
      it(`restore refuses ${field} = ${value} with a ConfigError naming the field`, () => {
        const snapshot = oneAgentSnapshot();
        set(snapshot, value);
        const create = () =>
          createSupervisor({ clock: new SimulatedClock(), agents: [{ id: 'a', run: fail }], restore: snapshot });
        expect(create).toThrow(ConfigError);
        expect(create).toThrow(expect.objectContaining({ field }));
      });
    }
  }

  it('restore accepts the ends of the range, and every surface prints them', () => {
    const snapshot = oneAgentSnapshot();
    (snapshot.agents[0] as { lastFailureAt: number }).lastFailureAt = MAX_DATE_MS;
    (snapshot.agents[0] as { counters: { lastSuccessAt: number } }).counters.lastSuccessAt = -MAX_DATE_MS;
    const supervisor = tracked(
      createSupervisor({ clock: new SimulatedClock(), agents: [{ id: 'a', run: fail }], restore: snapshot }),
    );
    expect(supervisor.getAllMetrics()[0]?.metrics).toMatchObject({
      lastFailureTime: '+275760-09-13T00:00:00.000Z',
      lastSuccessTime: '-271821-04-20T00:00:00.000Z',
    });
  });

  for (const [name, reading] of [
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['9e15 (beyond Date)', 9e15],
    ['a string', '1000' as unknown as number],
  ] as const) {
    it(`a supervisor's clock reading ${name} is contained: reported once, time stands still, nothing throws`, async () => {
      let now = 5000;
      const { clock } = clockReading(() => now);
      const onError = vi.fn();
      const supervisor = tracked(
        createSupervisor({
          clock,
          onError,
          routing: { maxAttempts: 1 },
          agents: [
            { id: 'bad', run: fail },
            { id: 'good', run: async () => 'ok' },
          ],
        }),
      );
      await supervisor.route('t0', { agents: ['good'] }); // a good reading: 5000
      now = reading;
      for (let i = 0; i < 3; i++) await supervisor.route(`t${i}`, { agents: ['bad'] }).catch(() => {});
      await supervisor.route('t3', { agents: ['good'] });

      const metrics = supervisor.getAllMetrics();
      const failures = supervisor.getRecentFailures();
      expect(metrics.find((m) => m.agentId === 'bad')?.metrics).toMatchObject({
        failureCount: 3,
        lastFailureTime: '1970-01-01T00:00:05.000Z',
      });
      expect(metrics.find((m) => m.agentId === 'good')?.metrics.lastSuccessTime).toBe('1970-01-01T00:00:05.000Z');
      expect(failures).toHaveLength(3);
      for (const failure of failures) expect(failure.timestamp).toBe('1970-01-01T00:00:05.000Z');
      expect(() => supervisor.getHealthStatus()).not.toThrow();
      const snapshot = supervisor.snapshot();
      expect(snapshot.takenAt).toBe(5000);
      // The snapshot of a supervisor with a bad clock restores.
      expect(() =>
        tracked(
          createSupervisor({ clock: new SimulatedClock(), agents: [{ id: 'bad', run: fail }], restore: snapshot }),
        ),
      ).not.toThrow();

      expect(onError).toHaveBeenCalledTimes(1);
      expect(onError).toHaveBeenCalledWith(expect.objectContaining({ field: 'clock.now()' }), 'clock');
      expect(onError.mock.calls[0]?.[0]).toBeInstanceOf(ConfigError);

      now = 7000; // the clock recovers: time moves again
      await supervisor.route('t4', { agents: ['good'] });
      expect(supervisor.getAllMetrics().find((m) => m.agentId === 'good')?.metrics.lastSuccessTime).toBe(
        '1970-01-01T00:00:07.000Z',
      );
      expect(onError).toHaveBeenCalledTimes(1);
    });
  }

  it('a clock that is bad from the start reads 0, and a throwing now() is reported once', async () => {
    const { clock } = clockReading(() => {
      throw new Error('clock broke');
    });
    const onError = vi.fn();
    const supervisor = tracked(
      createSupervisor({ clock, onError, routing: { maxAttempts: 1 }, agents: [{ id: 'a', run: fail }] }),
    );
    for (let i = 0; i < 2; i++) await supervisor.route(i).catch(() => {});
    expect(supervisor.getRecentFailures()[0]?.timestamp).toBe('1970-01-01T00:00:00.000Z');
    expect(supervisor.getAllMetrics()[0]?.metrics.lastFailureTime).toBe('1970-01-01T00:00:00.000Z');
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'clock broke' }), 'clock');
  });

  it("a standalone breaker's NaN clock is contained: getMetrics never throws, one console report", async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { clock } = clockReading(() => Number.NaN);
    const breaker = createCircuitBreaker({ clock, failureThreshold: 2 });
    await breaker.execute(fail).catch(() => {});
    await breaker.execute(async () => 'ok');
    await breaker.execute(fail).catch(() => {});
    expect(breaker.getMetrics().metrics).toMatchObject({
      lastFailureTime: '1970-01-01T00:00:00.000Z',
      lastSuccessTime: '1970-01-01T00:00:00.000Z',
    });
    expect(error).toHaveBeenCalledTimes(1);
    breaker.stop();
  });
});

describe('item 3: the time-based rate window forgets a reused bucket', () => {
  const trip = { kind: 'rate', window: 'time', size: 1000, minimumCalls: 5, failureRate: 0.5 } as const;

  it('a standalone breaker: 4 failures at 10, a success at 1010, a failure at 60000 stays closed', async () => {
    const clock = new SimulatedClock();
    const breaker = createCircuitBreaker({ clock, trip });
    clock.set(10);
    for (let i = 0; i < 4; i++) await breaker.execute(fail).catch(() => {});
    clock.set(1010);
    await breaker.execute(async () => 'ok');
    clock.set(60_000);
    await breaker.execute(fail).catch(() => {});
    // The 1 s window holds one call, against minimumCalls 5.
    expect(breaker.state).toBe('closed');
    breaker.stop();
  });

  it('a supervisor agent with the same policy stays closed and routable', async () => {
    const clock = new SimulatedClock();
    const { supervisor, agent } = oneSwitchableAgent(clock, { trip });
    clock.set(10);
    for (let i = 0; i < 4; i++) await supervisor.route(i).catch(() => {});
    clock.set(1010);
    agent.healthy = true;
    await supervisor.route('ok');
    clock.set(60_000);
    agent.healthy = false;
    await supervisor.route('late').catch(() => {});
    expect(supervisor.getAgent('a')?.state).toBe('closed');
    expect(supervisor.getHealthStatus().openCircuits).toBe(0);
  });
});

describe('item 7: shard actors stay bounded under agent churn', () => {
  const shardCount = (supervisor: Supervisor) =>
    Object.keys((supervisor.actor.getSnapshot() as { children: Record<string, unknown> }).children).length;

  it('1,000 add/isolate/remove cycles at shardSize 2 leave one shard actor', async () => {
    const supervisor = tracked(createSupervisor({ clock: new SimulatedClock(), shardSize: 2 }));
    for (let i = 0; i < 1000; i++) {
      const id = `churn-${i}`;
      supervisor.addAgent({ id, run: async () => 'ok' });
      supervisor.isolate(id); // activates its actor
      await supervisor.removeAgent(id);
    }
    expect(shardCount(supervisor)).toBeLessThanOrEqual(1);
  });

  it('freed places are reused around long-lived actors, and reused places hold working breakers', async () => {
    const supervisor = tracked(
      createSupervisor({
        clock: new SimulatedClock(),
        shardSize: 3,
        eagerActors: true,
        agents: ['s1', 's2', 's3', 's4'].map((id) => ({ id, run: async () => 'ok' })),
      }),
    );
    expect(shardCount(supervisor)).toBe(2);
    for (let i = 0; i < 300; i++) {
      const id = `churn-${i % 7}`; // ids come back: a re-added agent may land where its old actor was
      supervisor.addAgent({ id, run: async () => 'ok' });
      supervisor.addAgent({ id: `${id}-b`, run: async () => 'ok' });
      supervisor.isolate(id);
      expect(supervisor.getAgent(id)?.state).toBe('isolated');
      expect(supervisor.actor.system.get(id)).toBeDefined();
      await supervisor.removeAgent(`${id}-b`);
      await supervisor.removeAgent(id);
      expect(supervisor.actor.system.get(id)).toBeUndefined();
    }
    // 4 long-lived + at most 2 churning actors at once: ⌈6 / 3⌉ = 2 shards.
    expect(shardCount(supervisor)).toBe(2);
    // The long-lived breakers still work.
    supervisor.isolate('s4');
    expect(supervisor.getAgent('s4')?.state).toBe('isolated');
    supervisor.reset('s4');
    expect(await supervisor.route('t', { agents: ['s4'] })).toBe('ok');
  });
});

describe('item 12: failure_count is the consecutive failures of the current closed period', () => {
  it('stays at the count that tripped the circuit through failed probes, on every surface, and resets on close', async () => {
    const clock = new SimulatedClock();
    const { supervisor, agent } = oneSwitchableAgent(clock, {
      failureThreshold: 3,
      halfOpenMaxCalls: 1,
      backoff: { initialMs: 1000, multiplier: 2 },
    });
    const server = await serveDashboard(supervisor, { port: 0 });
    servers.push(server);
    const surfaces = async () => {
      const metrics = (await (await fetch(`${server.url}api/circuit-breaker/metrics`)).json()) as {
        metrics: { failure_count: number };
      }[];
      const agents = (await (await fetch(`${server.url}api/agents`)).json()) as { failure_count: number }[];
      return {
        getMetrics: supervisor.getAllMetrics()[0]?.metrics.failureCount,
        snapshot: supervisor.snapshot().agents[0]?.failureCount,
        metricsJson: metrics[0]?.metrics.failure_count,
        agentsJson: agents[0]?.failure_count,
      };
    };
    const everywhere = (n: number) => ({ getMetrics: n, snapshot: n, metricsJson: n, agentsJson: n });

    for (let i = 0; i < 3; i++) await supervisor.route(i).catch(() => {});
    expect(supervisor.getAgent('a')?.state).toBe('open');
    expect(await surfaces()).toEqual(everywhere(3));

    let backoff = 1000;
    for (let probe = 0; probe < 2; probe++) {
      clock.increment(backoff);
      expect(supervisor.getAgent('a')?.state).toBe('half_open');
      expect(await surfaces()).toEqual(everywhere(3));
      await supervisor.route(`probe-${probe}`).catch(() => {}); // the probe fails: reopens
      expect(supervisor.getAgent('a')?.state).toBe('open');
      expect(await surfaces()).toEqual(everywhere(3));
      backoff *= 2;
    }

    clock.increment(backoff);
    agent.healthy = true;
    await supervisor.route('recovered');
    expect(supervisor.getAgent('a')?.state).toBe('closed');
    expect(await surfaces()).toEqual(everywhere(0));
    // Totals keep counting every failure.
    expect(supervisor.getAllMetrics()[0]?.metrics.totalFailures).toBe(5);
  });

  it('a standalone breaker with threshold 3 reports 3, not 5, after two failed probes', async () => {
    const clock = new SimulatedClock();
    const breaker = createCircuitBreaker({
      clock,
      failureThreshold: 3,
      halfOpenMaxCalls: 1,
      backoff: { initialMs: 1000, multiplier: 1 },
    });
    for (let i = 0; i < 3; i++) await breaker.execute(fail).catch(() => {});
    for (let probe = 0; probe < 2; probe++) {
      clock.increment(1000);
      expect(breaker.state).toBe('half_open');
      await breaker.execute(fail).catch(() => {});
      expect(breaker.state).toBe('open');
    }
    expect(breaker.getMetrics().metrics).toMatchObject({ failureCount: 3, totalFailures: 5 });
    breaker.stop();
  });
});
