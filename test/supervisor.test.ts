import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  AllAgentsFailedError,
  BREAKER_DEFAULTS,
  type BreakerState,
  type CallContext,
  ConfigError,
  createSupervisor,
  type RoutingDecision,
  type Supervisor,
  type SupervisorOptions,
  SupervisorStoppedError,
  TaskAbortedError,
  type Transition,
} from '../src/index.js';

/** An agent whose behaviour the test flips, counting its calls. */
function scriptedAgent(id: string) {
  const agent = {
    id,
    calls: 0,
    healthy: true,
    run: async (task: unknown, _ctx?: unknown): Promise<unknown> => {
      agent.calls++;
      if (!agent.healthy) throw new Error(`${id} down`);
      return `${id}:${String(task)}`;
    },
  };
  return agent;
}

function pool(count: number, options: Omit<SupervisorOptions, 'agents' | 'clock'> = {}) {
  const clock = new SimulatedClock();
  const agents = Array.from({ length: count }, (_, i) => scriptedAgent(`agent-${i + 1}`));
  // Specs forward to the scripted agent, so a test can swap `run` mid-way.
  const specs = agents.map((a) => ({ id: a.id, run: (task: unknown, ctx: unknown) => a.run(task, ctx) }));
  const supervisor = createSupervisor({ clock, agents: specs, ...options });
  return { clock, agents, supervisor };
}

type ScriptedAgent = ReturnType<typeof scriptedAgent>;

/** Makes agent-1 fail and routes tasks until its breaker opens: the default threshold, in a row. */
async function tripAgent1(supervisor: Supervisor, agents: readonly ScriptedAgent[]): Promise<ScriptedAgent> {
  const a1 = agents[0] as ScriptedAgent;
  a1.healthy = false;
  for (let i = 0; i < BREAKER_DEFAULTS.failureThreshold; i++) await supervisor.route(i);
  expect(supervisor.getAgent('agent-1')?.state).toBe('open');
  return a1;
}

describe("the original design's flows through the supervisor", () => {
  it('routes to the first agent in priority order while it is healthy', async () => {
    const { supervisor, agents } = pool(3);
    for (let i = 0; i < 5; i++) expect(await supervisor.route(i)).toBe(`agent-1:${i}`);
    expect(agents.map((a) => a.calls)).toEqual([5, 0, 0]);
    expect(supervisor.getHealthStatus()).toEqual({
      totalAgents: 3,
      healthyAgents: 3,
      openCircuits: 0,
      halfOpenCircuits: 0,
      isolatedCircuits: 0,
      routingEvents: 5,
    });
    await supervisor.stop();
  });

  it('agent-1 fails 5 times, its circuit opens, and the next task goes to agent-2 without touching agent-1', async () => {
    const { supervisor, agents } = pool(3);
    const [a1, a2] = agents as [ReturnType<typeof scriptedAgent>, ReturnType<typeof scriptedAgent>];
    a1.healthy = false;
    for (let i = 0; i < 5; i++) expect(await supervisor.route(i)).toBe(`agent-2:${i}`); // failover each time
    expect(supervisor.getAgent('agent-1')?.state).toBe('open');
    expect(a1.calls).toBe(5);
    expect(await supervisor.route('next')).toBe('agent-2:next');
    expect(a1.calls).toBe(5);
    expect(a2.calls).toBe(6);
    expect(supervisor.getHealthStatus()).toMatchObject({ healthyAgents: 2, openCircuits: 1 });
    const failures = supervisor.getRecentFailures(3);
    expect(failures).toHaveLength(3);
    expect(failures[0]).toMatchObject({
      taskId: 'task-5',
      agentId: 'agent-1',
      status: 'FAILED',
      reason: 'agent-1 down',
    });
    await supervisor.stop();
  });

  it('after the backoff, probes recover agent-1 and it takes traffic again', async () => {
    const { supervisor, agents, clock } = pool(2);
    const a1 = await tripAgent1(supervisor, agents);
    a1.healthy = true;
    clock.increment(999);
    expect(await supervisor.route('still open')).toBe('agent-2:still open');
    clock.increment(1);
    expect(supervisor.getAgent('agent-1')?.state).toBe('half_open');
    for (let i = 0; i < 3; i++) expect(await supervisor.route(`probe ${i}`)).toBe(`agent-1:probe ${i}`);
    expect(supervisor.getAgent('agent-1')?.state).toBe('closed');
    expect(await supervisor.route('back')).toBe('agent-1:back');
    await supervisor.stop();
  });

  it('half-open admits three concurrent probes; the fourth task goes to the next agent', async () => {
    const { supervisor, agents, clock } = pool(2);
    const a1 = await tripAgent1(supervisor, agents);
    clock.increment(1000);
    const releases: Array<() => void> = [];
    supervisor.addAgent({ id: 'spare', run: async () => 'spare', priority: 99 });
    a1.run = () => new Promise((resolve) => releases.push(() => resolve('probe ok')));
    const probes = [supervisor.route('p1'), supervisor.route('p2'), supervisor.route('p3')];
    expect(await supervisor.route('p4')).toBe('agent-2:p4');
    expect(releases).toHaveLength(3);
    for (const release of releases) release();
    expect(await Promise.all(probes)).toEqual(['probe ok', 'probe ok', 'probe ok']);
    expect(supervisor.getAgent('agent-1')?.state).toBe('closed');
    await supervisor.stop();
  });

  it('all agents failing → AllAgentsFailedError listing every attempt and reason', async () => {
    const { supervisor, agents } = pool(3);
    for (const a of agents) a.healthy = false;
    const error = (await supervisor.route('t', { taskId: 'task-42' }).catch((e) => e)) as AllAgentsFailedError;
    expect(error).toBeInstanceOf(AllAgentsFailedError);
    expect(error.taskId).toBe('task-42');
    expect(error.attempts.map((a) => [a.agentId, a.kind, a.reason])).toEqual([
      ['agent-1', 'failed', 'agent-1 down'],
      ['agent-2', 'failed', 'agent-2 down'],
      ['agent-3', 'failed', 'agent-3 down'],
    ]);
    await supervisor.stop();
  });

  it('stops after maxAttempts even with more agents', async () => {
    const { supervisor, agents } = pool(5, { routing: { maxAttempts: 2 } });
    for (const a of agents) a.healthy = false;
    const error = (await supervisor.route('t').catch((e) => e)) as AllAgentsFailedError;
    expect(error.attempts).toHaveLength(2);
    expect(agents.map((a) => a.calls)).toEqual([1, 1, 0, 0, 0]);
    await supervisor.stop();
  });

  it('with every circuit open, rejects at once: no attempt, each open agent named', async () => {
    const { supervisor, agents } = pool(2);
    supervisor.isolate('agent-1');
    supervisor.isolate('agent-2');
    const error = (await supervisor.route('t').catch((e) => e)) as AllAgentsFailedError;
    expect(error).toBeInstanceOf(AllAgentsFailedError);
    expect(error.attempts).toEqual([
      { agentId: 'agent-1', kind: 'rejected', reason: 'circuit isolated', durationMs: 0 },
      { agentId: 'agent-2', kind: 'rejected', reason: 'circuit isolated', durationMs: 0 },
    ]);
    expect(agents.map((a) => a.calls)).toEqual([0, 0]);
    expect(error.stack ?? '').not.toContain('taskRun'); // built without a stack capture
    await supervisor.stop();
  });

  it('with every circuit open, each rejection names the agents as they are now and counts on each', async () => {
    const { supervisor, agents } = pool(2, { breaker: { failureThreshold: 1 } });
    supervisor.isolate('agent-1');
    supervisor.isolate('agent-2');
    const reasons = async () =>
      ((await supervisor.route('t').catch((e) => e)) as AllAgentsFailedError).attempts.map((a) => a.reason);
    expect(await reasons()).toEqual(['circuit isolated', 'circuit isolated']);
    expect(await reasons()).toEqual(['circuit isolated', 'circuit isolated']);
    // agent-1 leaves isolation and trips on its next call: the list must follow (it is reused
    // between rejections only while no agent changes).
    supervisor.reset('agent-1');
    (agents[0] as ReturnType<typeof scriptedAgent>).healthy = false;
    await supervisor.route('t').catch(() => undefined);
    expect(await reasons()).toEqual(['circuit open', 'circuit isolated']);
    const rejections = supervisor.getAllMetrics().map((m) => m.metrics.totalRejections);
    // agent-1: twice isolated, once open (the task that tripped it ran on it); agent-2: all four tasks
    expect(rejections).toEqual([3, 4]);
    await supervisor.stop();
  });

  it('retries a tried agent when no untried one is left (the original design’s max_retries)', async () => {
    const { supervisor, agents } = pool(1);
    const a1 = agents[0] as ReturnType<typeof scriptedAgent>;
    let failuresLeft = 2;
    a1.run = async () => {
      a1.calls++;
      if (failuresLeft-- > 0) throw new Error('flaky');
      return 'third time';
    };
    expect(await supervisor.route('t')).toBe('third time');
    expect(a1.calls).toBe(3);
    await supervisor.stop();
  });
});

describe('routing policies', () => {
  it('round-robin spreads tasks evenly', async () => {
    const { supervisor, agents } = pool(4, { routing: { policy: 'round-robin' } });
    for (let i = 0; i < 400; i++) await supervisor.route(i);
    expect(agents.map((a) => a.calls)).toEqual([100, 100, 100, 100]);
    await supervisor.stop();
  });

  it('round-robin spreads tasks evenly while decisions$ is watched (one pick per task)', async () => {
    const { supervisor, agents } = pool(2, { routing: { policy: 'round-robin' } });
    const decisions: (string | null)[] = [];
    const subscription = supervisor.decisions$.subscribe((d) => decisions.push(d.chosen));
    for (let i = 0; i < 10; i++) await supervisor.route(i);
    subscription.unsubscribe();
    expect(agents.map((a) => a.calls)).toEqual([5, 5]);
    expect(decisions).toEqual(Array.from({ length: 10 }, (_, i) => `agent-${(i % 2) + 1}`));
    await supervisor.stop();
  });

  it('a signal first read after its attempt ended is not tracked: stop() leaves it alone', async () => {
    let saved: CallContext | undefined;
    const supervisor = createSupervisor({
      clock: new SimulatedClock(),
      agents: [
        {
          id: 'a',
          run: (_task: unknown, ctx: CallContext) => {
            saved = ctx;
            return 'ok';
          },
        },
      ],
    });
    expect(await supervisor.route(1)).toBe('ok');
    const late = (saved as CallContext).signal; // read after the attempt ended
    await supervisor.stop();
    expect(late.aborted).toBe(false);
  });

  it('with attemptTimeoutMs, a task nothing can take is rejected at once, as without it', async () => {
    const rejectAll = async (routing: NonNullable<SupervisorOptions['routing']>) => {
      const { supervisor } = pool(3, { routing });
      for (const id of ['agent-1', 'agent-2', 'agent-3']) supervisor.isolate(id);
      const first = (await supervisor.route(1).catch((e: unknown) => e)) as AllAgentsFailedError;
      const second = (await supervisor.route(2).catch((e: unknown) => e)) as AllAgentsFailedError;
      const rejected = supervisor.getStats().tasks.rejected;
      await supervisor.stop();
      return { first, second, rejected };
    };
    const plain = await rejectAll({});
    const timed = await rejectAll({ attemptTimeoutMs: 1000 });
    expect(timed.first).toBeInstanceOf(AllAgentsFailedError);
    expect(timed.first.attempts).toEqual(plain.first.attempts);
    expect(timed.rejected).toBe(2);
    // The outage path: both rejections share one frozen list (a TaskRun builds its own).
    expect(timed.second.attempts).toBe(timed.first.attempts);
  });

  it('round-robin skips an open agent', async () => {
    const { supervisor, agents } = pool(3, { routing: { policy: 'round-robin' } });
    supervisor.isolate('agent-2');
    for (let i = 0; i < 300; i++) await supervisor.route(i);
    expect(agents.map((a) => a.calls)).toEqual([150, 0, 150]);
    await supervisor.stop();
  });

  it('least-outstanding (P2C) keeps the load tight: 100 agents, 100,000 tasks', async () => {
    const clock = new SimulatedClock();
    const counts = new Map<string, number>();
    const pending: Array<() => void> = [];
    const agents = Array.from({ length: 100 }, (_, i) => ({
      id: `a${i}`,
      run: () =>
        new Promise<string>((resolve) => {
          counts.set(`a${i}`, (counts.get(`a${i}`) ?? 0) + 1);
          pending.push(() => resolve('ok'));
        }),
    }));
    const supervisor = createSupervisor({ clock, agents, routing: { policy: 'least-outstanding' } });
    let peakInFlight = 0;
    for (let batch = 0; batch < 100; batch++) {
      const tasks = Array.from({ length: 1000 }, (_, i) => supervisor.route(i));
      for (const id of supervisor.agentIds())
        peakInFlight = Math.max(peakInFlight, supervisor.getAgent(id)?.inFlight ?? 0);
      // Settle in a scrambled order so in-flight counts vary while tasks arrive.
      for (const release of pending.splice(0).reverse()) release();
      await Promise.all(tasks);
    }
    const loads = [...counts.values()];
    expect(loads.reduce((a, b) => a + b, 0)).toBe(100_000);
    // 1,000 tasks in flight over 100 agents: 10 each on average. A uniform random choice peaks near
    // 10 + 3σ ≈ 20 on some agent; P2C on in-flight keeps every agent within a few of the mean.
    expect(peakInFlight).toBeLessThanOrEqual(13);
    // Totals: uniform random spreads them with σ ≈ 31 (max/min ≈ 1.3); P2C stays far tighter.
    expect(Math.max(...loads) / Math.min(...loads)).toBeLessThan(1.12);
    await supervisor.stop();
  });

  it('least-outstanding honours weight: a weight-3 agent takes about three times the load', async () => {
    const clock = new SimulatedClock();
    const counts = { heavy: 0, light: 0 };
    const pending: Array<() => void> = [];
    const make = (id: 'heavy' | 'light') => () =>
      new Promise<string>((resolve) => {
        counts[id]++;
        pending.push(() => resolve(id));
      });
    const supervisor = createSupervisor({
      clock,
      agents: [
        { id: 'heavy', run: make('heavy'), weight: 3 },
        { id: 'light', run: make('light'), weight: 1 },
      ],
      routing: { policy: 'least-outstanding' },
    });
    for (let batch = 0; batch < 100; batch++) {
      const tasks = Array.from({ length: 40 }, (_, i) => supervisor.route(i));
      for (const release of pending.splice(0)) release();
      await Promise.all(tasks);
    }
    expect(counts.heavy / counts.light).toBeGreaterThan(2.5);
    expect(counts.heavy / counts.light).toBeLessThan(3.5);
    await supervisor.stop();
  });

  it('a route restricted to named agents uses only those, in the given order', async () => {
    const { supervisor, agents } = pool(3);
    expect(await supervisor.route('t', { agents: ['agent-3', 'agent-1'] })).toBe('agent-3:t');
    (agents[2] as ReturnType<typeof scriptedAgent>).healthy = false;
    expect(await supervisor.route('t', { agents: ['agent-3', 'agent-1'] })).toBe('agent-1:t');
    expect((agents[1] as ReturnType<typeof scriptedAgent>).calls).toBe(0);
    await supervisor.stop();
  });
});

describe('timeouts, aborts and errors', () => {
  it('a hung agent is cut off at attemptTimeoutMs: its signal aborts and the task fails over', async () => {
    const clock = new SimulatedClock();
    let seenSignal: AbortSignal | undefined;
    const supervisor = createSupervisor({
      clock,
      routing: { attemptTimeoutMs: 100 },
      agents: [
        {
          id: 'hung',
          run: (_task, ctx) => {
            seenSignal = ctx.signal;
            return new Promise(() => {});
          },
        },
        { id: 'ok', run: async () => 'fallback' },
      ],
    });
    const result = supervisor.route('t');
    await tick();
    expect(seenSignal?.aborted).toBe(false);
    clock.increment(100);
    expect(await result).toBe('fallback');
    expect(seenSignal?.aborted).toBe(true);
    expect(supervisor.getRecentFailures(1)[0]).toMatchObject({ agentId: 'hung', kind: 'timeout' });
    expect(supervisor.getStats().agents[0]).toMatchObject({ agentId: 'hung', timeout: 1, inFlight: 0 });
    await supervisor.stop();
  });

  it('a per-task timeoutMs overrides the supervisor default', async () => {
    const clock = new SimulatedClock();
    const supervisor = createSupervisor({ clock, agents: [{ id: 'slow', run: () => new Promise(() => {}) }] });
    const result = supervisor.route('t', { timeoutMs: 50 }).catch((e) => e);
    for (let attempt = 0; attempt < 3; attempt++) {
      await tick();
      clock.increment(50);
    }
    const error = (await result) as AllAgentsFailedError;
    expect(error.attempts.map((a) => a.kind)).toEqual(['timeout', 'timeout', 'timeout']);
    await supervisor.stop();
  });

  it('a caller abort settles the task at once and the agent sees the abort', async () => {
    const { supervisor } = pool(0);
    let agentSignal: AbortSignal | undefined;
    supervisor.addAgent({
      id: 'slow',
      run: (_t, ctx) => {
        agentSignal = ctx.signal;
        return new Promise(() => {});
      },
    });
    const controller = new AbortController();
    const result = supervisor.route('t', { signal: controller.signal }).catch((e) => e);
    await tick();
    controller.abort('user cancelled');
    const error = await result;
    expect(error).toBeInstanceOf(TaskAbortedError);
    expect((error as TaskAbortedError).reason).toBe('user cancelled');
    expect(agentSignal?.aborted).toBe(true);
    expect(supervisor.getAgent('slow')).toMatchObject({ state: 'closed', inFlight: 0 });
    await supervisor.stop();
  });

  it('isFailure: errors it rejects go back to the caller without failover or a counted failure', async () => {
    class NotFound extends Error {}
    const { supervisor, agents } = pool(2, { routing: { isFailure: (e) => !(e instanceof NotFound) } });
    const a1 = agents[0] as ReturnType<typeof scriptedAgent>;
    a1.run = async () => {
      a1.calls++;
      throw new NotFound('no such item');
    };
    await expect(supervisor.route('t')).rejects.toBeInstanceOf(NotFound);
    expect((agents[1] as ReturnType<typeof scriptedAgent>).calls).toBe(0);
    expect(supervisor.getAllMetrics()[0]?.metrics.totalFailures).toBe(0);
    await supervisor.stop();
  });

  it('a throwing isFailure is contained: the error counts as a failure and is reported', async () => {
    const reported: string[] = [];
    const { supervisor, agents } = pool(2, {
      routing: {
        isFailure: () => {
          throw new Error('hook bug');
        },
      },
      onError: (_e, where) => reported.push(where),
    });
    (agents[0] as ReturnType<typeof scriptedAgent>).healthy = false;
    expect(await supervisor.route('t')).toBe('agent-2:t');
    expect(reported).toEqual(['routing.isFailure']);
    await supervisor.stop();
  });

  it('a synchronous throw and a non-Error rejection are counted failures with readable reasons', async () => {
    const { supervisor } = pool(0);
    supervisor.addAgent({
      id: 'sync',
      run: () => {
        throw new Error('sync boom');
      },
    });
    supervisor.addAgent({ id: 'undef', run: () => Promise.reject(undefined) });
    supervisor.addAgent({ id: 'plain', run: () => 'not a promise' });
    expect(await supervisor.route('t')).toBe('not a promise');
    expect(supervisor.getRecentFailures().map((f) => f.reason)).toEqual(['rejected with undefined', 'sync boom']);
    await supervisor.stop();
  });
});

describe('Envoy-style safety valves', () => {
  it('retryBudget: with no budget, a failure is not retried', async () => {
    const { supervisor, agents } = pool(2, { routing: { retryBudget: { ratio: 0, minRetriesPerSecond: 0 } } });
    (agents[0] as ReturnType<typeof scriptedAgent>).healthy = false;
    const error = (await supervisor.route('t').catch((e) => e)) as AllAgentsFailedError;
    expect(error.attempts.map((a) => a.reason)).toEqual(['agent-1 down', 'retry budget spent']);
    expect((agents[1] as ReturnType<typeof scriptedAgent>).calls).toBe(0);
    await supervisor.stop();
  });

  it('retryBudget: retries stay within ratio × tasks + floor', async () => {
    const { supervisor, agents } = pool(2, {
      breaker: { failureThreshold: 1000 }, // agent-1 stays closed: every task fails on it and needs a retry
      routing: { retryBudget: { ratio: 0.1, minRetriesPerSecond: 0 } },
    });
    const [a1, a2] = agents as [ScriptedAgent, ScriptedAgent];
    for (let i = 0; i < 100; i++) await supervisor.route(i); // 100 healthy tasks fund 10 retries
    a1.healthy = false;
    const spent: number[] = [];
    for (let i = 1; i <= 20; i++) {
      const tasks = 100 + i; // the clock stands still: every task is in the window
      const result = await supervisor.route(i).catch((e: unknown) => e);
      if (result instanceof AllAgentsFailedError) {
        expect(result.attempts.map((a) => a.reason)).toEqual(['agent-1 down', 'retry budget spent']);
        spent.push(i);
      } else expect(result).toBe(`agent-2:${i}`);
      // A retry is taken while retries < 0.1 × tasks, so the count passes the budget by less than one.
      expect(a2.calls).toBeLessThanOrEqual(Math.ceil(tasks / 10));
    }
    expect(a1.calls).toBe(120);
    expect(a2.calls).toBe(12); // 0.1 × 120 tasks: the whole budget, and no more
    expect(spent).toEqual([13, 14, 15, 16, 17, 18, 19, 20]); // the 13th retry would pass 0.1 × 113
    await supervisor.stop();
  });

  it('maxEjectionPercent: no more than that share of agents is opened', async () => {
    const { supervisor, agents } = pool(2, { routing: { maxEjectionPercent: 50 } });
    for (const a of agents) a.healthy = false;
    for (let i = 0; i < 10; i++) await supervisor.route(i).catch(() => {});
    const states = supervisor.agentIds().map((id) => supervisor.getAgent(id)?.state);
    expect(states.filter((s) => s === 'open')).toHaveLength(1);
    expect(states.filter((s) => s === 'closed')).toHaveLength(1);
    await supervisor.stop();
  });

  it('panicThreshold: when too few agents are routable, open ones are tried anyway (isolated never)', async () => {
    const { supervisor, agents } = pool(3, { routing: { panicThreshold: 50 } });
    const [a1, a2] = agents as [ReturnType<typeof scriptedAgent>, ReturnType<typeof scriptedAgent>];
    a1.healthy = false;
    a2.healthy = false;
    for (let i = 0; i < 10; i++) await supervisor.route(i); // agent-1 and agent-2 open
    supervisor.isolate('agent-3');
    a1.healthy = true;
    expect(await supervisor.route('panic')).toBe('agent-1:panic');
    await supervisor.stop();
  });
});

describe('agents at runtime', () => {
  it('routeTask registers unknown agents on first use, as the original design creates circuits lazily', async () => {
    const { supervisor } = pool(0);
    const result = await supervisor.routeTask('task-1', ['agent-1', 'agent-2'], async (agentId) => {
      if (agentId === 'agent-1') throw new Error('Connection timeout');
      return `done by ${agentId}`;
    });
    expect(result).toBe('done by agent-2');
    expect(supervisor.agentIds()).toEqual(['agent-1', 'agent-2']);
    expect(supervisor.getRecentFailures()[0]).toMatchObject({ taskId: 'task-1', agentId: 'agent-1' });
    // Agents without a run function are not candidates of route().
    await expect(supervisor.route('t')).rejects.toBeInstanceOf(AllAgentsFailedError);
    await supervisor.stop();
  });

  it('removeAgent drains: no new tasks, the in-flight one finishes, then it is gone', async () => {
    const { supervisor, agents } = pool(2);
    let release!: () => void;
    const a1 = agents[0] as ReturnType<typeof scriptedAgent>;
    a1.run = () => new Promise((resolve) => (release = () => resolve('finished')));
    const inFlight = supervisor.route('t');
    let removed = false;
    const removal = supervisor.removeAgent('agent-1').then(() => (removed = true));
    expect(await supervisor.route('next')).toBe('agent-2:next');
    await tick();
    expect(removed).toBe(false);
    expect(supervisor.getAgent('agent-1')?.draining).toBe(true);
    release();
    expect(await inFlight).toBe('finished');
    await removal;
    expect(supervisor.getAgent('agent-1')).toBeUndefined();
    expect(supervisor.getHealthStatus().totalAgents).toBe(1);
    await supervisor.stop();
  });

  it('an agent added at runtime takes tasks by its priority', async () => {
    const { supervisor } = pool(1);
    supervisor.addAgent({ id: 'vip', run: async () => 'vip', priority: -1 });
    expect(await supervisor.route('t')).toBe('vip');
    expect(() => supervisor.addAgent({ id: 'vip', run: async () => 1 })).toThrow(ConfigError);
    await supervisor.stop();
  });

  it('ids such as __proto__ and constructor are ordinary agents', async () => {
    const clock = new SimulatedClock();
    const supervisor = createSupervisor({
      clock,
      agents: [
        { id: '__proto__', run: async () => Promise.reject(new Error('x')) },
        { id: 'constructor', run: async () => 'ok' },
      ],
    });
    for (let i = 0; i < 5; i++) expect(await supervisor.route(i)).toBe('ok');
    expect(supervisor.getAgent('__proto__')?.state).toBe('open');
    expect(supervisor.actor.system.get('__proto__')).toBeDefined();
    await supervisor.stop();
  });
});

describe('observables', () => {
  it('transitions$, states$, health$ and agentState$ emit the changes, and complete on stop', async () => {
    const { supervisor, agents, clock } = pool(2);
    const transitions: Transition[] = [];
    const states: Array<ReadonlyMap<string, BreakerState>> = [];
    const health: string[] = [];
    const agent1: BreakerState[] = [];
    let completed = 0;
    const complete = () => completed++;
    supervisor.transitions$.subscribe({ next: (t) => transitions.push(t), complete });
    supervisor.states$.subscribe({ next: (s) => states.push(s), complete });
    supervisor.health$.subscribe({ next: (h) => health.push(`${h.openCircuits}/${h.halfOpenCircuits}`), complete });
    supervisor.agentState$('agent-1').subscribe({ next: (s) => agent1.push(s), complete });

    const a1 = await tripAgent1(supervisor, agents);
    a1.healthy = true;
    clock.increment(1000);
    for (let i = 0; i < 3; i++) await supervisor.route(i);

    expect(transitions.map((t) => `${t.from}→${t.to}@${t.at}`)).toEqual([
      'closed→open@0',
      'open→half_open@1000',
      'half_open→closed@1000',
    ]);
    expect(transitions[0]?.reason).toBe('failure threshold reached: agent-1 down');
    expect(states.map((s) => s.get('agent-1'))).toEqual(['closed', 'open', 'half_open', 'closed']);
    expect(health).toEqual(['0/0', '1/0', '0/1', '0/0']);
    expect(agent1).toEqual(['closed', 'open', 'half_open', 'closed']);

    // A late subscriber gets the current value first.
    const late: number[] = [];
    supervisor.health$.subscribe((h) => late.push(h.totalAgents));
    expect(late).toEqual([2]);

    await supervisor.stop();
    expect(completed).toBe(4);
  });

  it('failures$ emits each failure record; decisions$ explains skips and choices', async () => {
    const { supervisor, agents } = pool(3);
    supervisor.isolate('agent-1');
    (agents[1] as ReturnType<typeof scriptedAgent>).healthy = false;
    const failures: string[] = [];
    const decisions: RoutingDecision[] = [];
    supervisor.failures$.subscribe((f) => failures.push(`${f.taskId}/${f.agentId}: ${f.reason}`));
    supervisor.decisions$.subscribe((d) => decisions.push(d));
    expect(await supervisor.route('t', { taskId: 'job-7' })).toBe('agent-3:t');
    expect(failures).toEqual(['job-7/agent-2: agent-2 down']);
    expect(decisions.map((d) => [d.attempt, d.chosen, d.skipped.map((s) => `${s.agentId}:${s.reason}`)])).toEqual([
      [1, 'agent-2', ['agent-1:circuit isolated']],
      [2, 'agent-3', ['agent-1:circuit isolated', 'agent-2:tried']],
    ]);
    await supervisor.stop();
  });

  it('a healthy routed call sends no XState event (counted through the inspection API)', async () => {
    const { supervisor } = pool(3);
    await supervisor.route('warm-up');
    supervisor.getAgent('agent-1')?.breaker.actor; // activate, so an event to it would be seen
    const events: string[] = [];
    const subscription = supervisor.actor.system.inspect((e) => {
      if (e.type === '@xstate.event') events.push((e as { event: { type: string } }).event.type);
    });
    for (let i = 0; i < 100; i++) await supervisor.route(i);
    subscription.unsubscribe();
    expect(events).toEqual([]);
    await supervisor.stop();
  });
});

describe('eager actors', () => {
  it('activates every breaker actor at creation, in shards, each wired to its breaker', async () => {
    const { supervisor, agents } = pool(7, { eagerActors: true, shardSize: 3, breaker: { failureThreshold: 1 } });
    const shards = Object.keys(supervisor.actor.getSnapshot().children);
    expect(shards).toEqual(['shard-0', 'shard-1', 'shard-2']);
    for (const { id } of agents) {
      const actor = supervisor.actor.system.get(id);
      expect(actor?.getSnapshot().value).toBe('closed');
      expect(supervisor.getAgent(id)?.breaker.actor).toBe(actor); // the breaker reads this actor
    }
    // A failure goes through the spawned actor and the pool follows it.
    (agents[6] as ReturnType<typeof scriptedAgent>).healthy = false;
    await supervisor.route('t', { agents: ['agent-7'] }).catch(() => undefined);
    expect(supervisor.actor.system.get('agent-7')?.getSnapshot().value).toBe('open');
    expect(supervisor.getHealthStatus().openCircuits).toBe(1);
    // An agent added later is activated on its own, in the next free shard slot.
    supervisor.addAgent({ id: 'late', run: async () => 'ok' });
    expect(supervisor.actor.system.get('late')?.getSnapshot().value).toBe('closed');
    expect(Object.keys(supervisor.actor.getSnapshot().children)).toEqual(['shard-0', 'shard-1', 'shard-2']);
    await supervisor.stop();
    expect(supervisor.actor.system.get('agent-1')).toBeUndefined(); // stopped and unregistered
  });
});

describe('stop', () => {
  it('rejects new tasks with SupervisorStoppedError and leaves no timer behind', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const supervisor = createSupervisor({
      agents: [{ id: 'a', run: () => Promise.reject(new Error('down')) }],
      breaker: { backoff: { initialMs: 60_000 } },
      routing: { attemptTimeoutMs: 30_000 },
    });
    for (let i = 0; i < 5; i++) await supervisor.route(i).catch(() => {});
    expect(supervisor.getAgent('a')?.state).toBe('open'); // a real 60 s backoff timer is pending
    await supervisor.stop();
    expect(supervisor.phase).toBe('stopped');
    await expect(supervisor.route('late')).rejects.toBeInstanceOf(SupervisorStoppedError);
    const timersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(timersAfter).toBeLessThanOrEqual(timersBefore);
  });

  it('in-flight tasks finish during the drain; those still running at drainMs are aborted and settle once', async () => {
    const clock = new SimulatedClock();
    let releaseQuick!: () => void;
    const supervisor = createSupervisor({
      clock,
      routing: { attemptTimeoutMs: 60_000 },
      agents: [
        {
          id: 'worker',
          run: (task) =>
            task === 'quick'
              ? new Promise((resolve) => (releaseQuick = () => resolve('quick done')))
              : new Promise(() => {}),
        },
      ],
    });
    const quick = supervisor.route('quick');
    const stuck = supervisor.route('stuck').catch((e) => e);
    await tick();
    const stopped = supervisor.stop({ drainMs: 1000 });
    await expect(supervisor.route('new')).rejects.toThrow('the supervisor is stopping');
    releaseQuick();
    expect(await quick).toBe('quick done');
    clock.increment(1000);
    await stopped;
    expect(await stuck).toBeInstanceOf(SupervisorStoppedError);
    expect(supervisor.phase).toBe('stopped');
  });
});

describe('validation', () => {
  it.each<[string, unknown, string]>([
    [
      'duplicate ids',
      {
        agents: [
          { id: 'a', run: () => 1 },
          { id: 'a', run: () => 1 },
        ],
      },
      'agents[1].id',
    ],
    ['an empty id', { agents: [{ id: '', run: () => 1 }] }, 'agents[0].id'],
    ['an agent without run', { agents: [{ id: 'a' }] }, 'agents[0].run'],
    ['maxAttempts: 0', { routing: { maxAttempts: 0 } }, 'routing.maxAttempts'],
    ['an unknown policy', { routing: { policy: 'random' } }, 'routing.policy'],
    ['an unknown option', { agnets: [] }, 'agnets'],
    ['a bad breaker default', { breaker: { backoff: { multiplier: 0.9 } } }, 'breaker.backoff.multiplier'],
    ['a negative weight', { agents: [{ id: 'a', run: () => 1, weight: -1 }] }, 'agents[0].weight'],
  ])('%s → ConfigError naming the field', (_name, options, field) => {
    expect(() => createSupervisor(options as never)).toThrow(ConfigError);
    try {
      createSupervisor(options as never);
    } catch (error) {
      expect((error as ConfigError).field).toBe(field);
    }
  });

  it('route with an unknown or repeated agent rejects with ConfigError', async () => {
    const { supervisor } = pool(2);
    await expect(supervisor.route('t', { agents: ['nope'] })).rejects.toMatchObject({ field: 'agents[0]' });
    await expect(supervisor.route('t', { agents: ['agent-1', 'agent-2', 'agent-1'] })).rejects.toMatchObject({
      field: 'agents[2]',
    });
    await supervisor.stop();
  });
});
