/**
 * Direct unit tests of `Attempt` (src/task/attempt.ts) and `BreakerCallContext`
 * (src/task/callContext.ts): what an attempt takes when it is created (the agent's in-flight slot,
 * a probe permit, its signal's place in the registry) and gives back, once, when it ends, for each
 * of its outcomes (docs/architecture.md, principle 10).
 *
 * The attempts run against a minimal host and a real agent: a supervisor with one agent on XState's
 * `SimulatedClock`, its `Agent` read from the supervisor's pool.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { BreakerContext } from '../machines/circuitBreaker.js';
import { type Clock, createSupervisor } from '../src/index.js';
import type { Agent } from '../src/pool/agent.js';
import type { AgentPool } from '../src/pool/agentPool.js';
import { Attempt, type AttemptHost, type AttemptOutcome, UNTIMED } from '../src/task/attempt.js';
import { type Abortable, BreakerCallContext, type SignalRegistry } from '../src/task/callContext.js';

const OUTCOMES: readonly AttemptOutcome[] = ['succeeded', 'failed', 'timed-out', 'not-counted', 'abandoned'];
const ABORTING: ReadonlySet<AttemptOutcome> = new Set(['timed-out', 'abandoned']);

/** A registry that records what it is told. */
function spyRegistry(abortAllReason: unknown = undefined) {
  const registry = {
    abortAllReason,
    tracked: [] as Abortable[],
    untracked: [] as Abortable[],
    track(ctx: Abortable) {
      registry.tracked.push(ctx);
    },
    untrack(ctx: Abortable) {
      registry.untracked.push(ctx);
    },
  };
  return registry satisfies SignalRegistry;
}

/**
 * One agent `a` under a supervisor on a simulated clock wrapped to count `now()` reads (the
 * supervisor and the host share it). failureThreshold 1 and a 1 s backoff without jitter: one
 * failure opens the circuit, 1 s later it is half-open.
 */
function setup() {
  const sim = new SimulatedClock();
  const counter = { reads: 0 };
  const clock: Clock = {
    now: () => {
      counter.reads++;
      return sim.now();
    },
    setTimeout: (fn, ms) => sim.setTimeout(fn, ms),
    clearTimeout: (id) => sim.clearTimeout(id as number),
  };
  const script = { fail: false };
  const supervisor = createSupervisor({
    clock,
    agents: [
      {
        id: 'a',
        run: (task: unknown) => (script.fail ? Promise.reject(new Error('a down')) : Promise.resolve(`a:${task}`)),
      },
    ],
    breaker: { failureThreshold: 1, backoff: { initialMs: 1_000, jitter: 'none' } },
  });
  const agent = (supervisor as unknown as { pool: AgentPool }).pool.byId.get('a') as Agent;
  expect(agent).toBeDefined();
  const registry = spyRegistry();
  const host = Object.assign(registry, {
    clock,
    ended: [] as Agent[],
    attemptEnded(a: Agent) {
      host.ended.push(a);
    },
  }) satisfies AttemptHost;
  let taskNumber = 0;
  const attempt = (options: { startedAt?: number; probe?: boolean; generation?: number } = {}) =>
    new Attempt(
      host,
      agent,
      options.generation ?? agent.breaker.generation,
      options.probe ?? false,
      options.startedAt ?? UNTIMED,
      1,
      undefined,
      ++taskNumber,
    );

  /** Opens the circuit with one failing task, then lets the backoff pass: half-open. */
  const toHalfOpen = async () => {
    script.fail = true;
    await supervisor.route('trip').catch(() => undefined);
    script.fail = false;
    expect(agent.breaker.state).toBe('open');
    sim.increment(1_000);
    expect(agent.breaker.state).toBe('half_open');
  };
  const machineContext = () => (agent.breaker.actor.getSnapshot() as { context: BreakerContext }).context;

  return { sim, clock, counter, supervisor, agent, host, attempt, toHalfOpen, machineContext };
}

describe('Attempt: what it takes and gives back', () => {
  it.each(OUTCOMES)('%s: inFlight goes up by one on creation and down by exactly one on end', (outcome) => {
    const { agent, attempt } = setup();
    expect(agent.breaker.inFlight).toBe(0);
    const first = attempt();
    expect(agent.breaker.inFlight).toBe(1);
    const second = attempt();
    expect(agent.breaker.inFlight).toBe(2);
    expect(first.isEnded).toBe(false);
    expect(first.end(outcome, 'reason')).toBe(true);
    expect(first.isEnded).toBe(true);
    expect(agent.breaker.inFlight).toBe(1);
    second.end('succeeded');
    expect(agent.breaker.inFlight).toBe(0);
  });

  it.each(OUTCOMES)('%s: a second end() releases nothing and returns false', (outcome) => {
    const { agent, host, attempt } = setup();
    agent.draining = true;
    const a = attempt({ startedAt: 0 });
    void a.signal;
    expect(a.end(outcome, 'first')).toBe(true);
    const verdicts = agent.breaker.successCount + agent.breaker.totalFailures;
    for (const again of OUTCOMES) expect(a.end(again, 'again')).toBe(false);
    expect(agent.breaker.inFlight).toBe(0);
    expect(agent.breaker.successCount + agent.breaker.totalFailures).toBe(verdicts);
    expect(host.untracked).toEqual([a]);
    expect(host.ended).toEqual([agent]);
  });

  it('records the verdict each outcome stands for', () => {
    const counts = (outcome: AttemptOutcome) => {
      const { agent, attempt } = setup();
      attempt({ startedAt: 0 }).end(outcome, 'why');
      const b = agent.breaker;
      return { successes: b.successCount, failures: b.totalFailures, timeouts: b.timeouts };
    };
    expect(counts('succeeded')).toEqual({ successes: 1, failures: 0, timeouts: 0 });
    expect(counts('failed')).toEqual({ successes: 0, failures: 1, timeouts: 0 });
    expect(counts('timed-out')).toEqual({ successes: 0, failures: 1, timeouts: 1 });
    expect(counts('not-counted')).toEqual({ successes: 0, failures: 0, timeouts: 0 });
    expect(counts('abandoned')).toEqual({ successes: 0, failures: 0, timeouts: 0 });
  });

  describe('the signal', () => {
    it.each(OUTCOMES)(
      '%s: aborted with the given reason only for a timeout or an abandon (read before the end)',
      (outcome) => {
        const { attempt } = setup();
        const a = attempt();
        const signal = a.signal;
        expect(signal.aborted).toBe(false);
        const reason = new Error(`reason for ${outcome}`);
        a.end(outcome, 'why', reason);
        expect(signal.aborted).toBe(ABORTING.has(outcome));
        if (ABORTING.has(outcome)) expect(signal.reason).toBe(reason);
        expect(a.signal).toBe(signal);
      },
    );

    it.each(OUTCOMES)('%s: the same when the signal is first read after the end', (outcome) => {
      const { attempt, host } = setup();
      const a = attempt();
      const reason = new Error(`late reason for ${outcome}`);
      a.end(outcome, 'why', reason);
      const signal = a.signal;
      expect(signal.aborted).toBe(ABORTING.has(outcome));
      if (ABORTING.has(outcome)) expect(signal.reason).toBe(reason);
      // The attempt is over: its registry never hears of a signal read afterwards.
      expect(host.tracked).toEqual([]);
      expect(host.untracked).toEqual([]);
    });

    it('a late end after a timeout does not change the abort reason', () => {
      const { attempt } = setup();
      const a = attempt();
      const timeout = new Error('timed out');
      a.end('timed-out', 'deadline', timeout);
      a.end('abandoned', '', new Error('abandoned later'));
      expect(a.signal.reason).toBe(timeout);
    });
  });

  describe('the clock', () => {
    it('an untimed attempt that succeeds reads no clock, and has no duration', () => {
      const { attempt, counter, sim } = setup();
      const a = attempt({ startedAt: UNTIMED });
      sim.increment(500);
      counter.reads = 0;
      expect(a.end('succeeded')).toBe(true);
      expect(counter.reads).toBe(0);
      expect(a.durationMs).toBeNull();
      expect(a.endedAt).toBeNaN();
    });

    it.each(OUTCOMES.filter((o) => o !== 'succeeded'))(
      '%s: an untimed attempt has no duration but records when it ended',
      (outcome) => {
        const { attempt, sim } = setup();
        const a = attempt({ startedAt: UNTIMED });
        sim.increment(300);
        a.end(outcome, 'why', new Error('x'));
        expect(a.durationMs).toBeNull();
        expect(a.endedAt).toBe(300);
      },
    );

    it.each(OUTCOMES)('%s: a timed attempt lasts from its start to its end on the clock', (outcome) => {
      const { attempt, sim } = setup();
      sim.increment(100);
      const a = attempt({ startedAt: sim.now() });
      sim.increment(250);
      a.end(outcome, 'why', new Error('x'));
      expect(a.endedAt).toBe(350);
      expect(a.durationMs).toBe(250);
    });
  });

  describe('the host', () => {
    it.each(OUTCOMES)('%s: a draining agent’s host hears that an attempt on it ended', (outcome) => {
      const { agent, attempt, host } = setup();
      const a = attempt();
      agent.draining = true;
      a.end(outcome, 'why');
      expect(host.ended).toEqual([agent]);
    });

    it.each(OUTCOMES)('%s: the host of an agent that is not draining hears nothing', (outcome) => {
      const { attempt, host } = setup();
      attempt().end(outcome, 'why');
      expect(host.ended).toEqual([]);
    });

    it.each(OUTCOMES)('%s: the registry is told untrack for an attempt whose signal was read', (outcome) => {
      const { attempt, host } = setup();
      const read = attempt();
      const unread = attempt();
      void read.signal;
      expect(host.tracked).toEqual([read]);
      read.end(outcome, 'why');
      unread.end(outcome, 'why');
      expect(host.untracked).toEqual([read]);
      expect(host.tracked).toEqual([read]);
    });
  });

  describe('a probe in half_open', () => {
    it.each(['not-counted', 'abandoned'] as const)('%s gives its permit back', async (outcome) => {
      const { agent, attempt, toHalfOpen, machineContext, sim } = setup();
      await toHalfOpen();
      const generation = agent.breaker.admit(sim.now());
      expect(generation).toBe(machineContext().generation);
      expect(machineContext().probesAdmitted).toBe(1);
      const probe = attempt({ probe: true, generation, startedAt: sim.now() });
      sim.increment(10);
      probe.end(outcome, 'not its fault', new Error('x'));
      expect(machineContext().probesAdmitted).toBe(0);
      expect(agent.breaker.state).toBe('half_open');
      // The permit is usable again at once.
      expect(agent.breaker.admit(sim.now())).toBe(generation);
      expect(machineContext().probesAdmitted).toBe(1);
    });

    it.each(['not-counted', 'abandoned'] as const)('%s twice gives back one permit, not two', async (outcome) => {
      const { agent, attempt, toHalfOpen, machineContext, sim } = setup();
      await toHalfOpen();
      const generation = agent.breaker.admit(sim.now());
      expect(agent.breaker.admit(sim.now())).toBe(generation);
      expect(machineContext().probesAdmitted).toBe(2);
      const probe = attempt({ probe: true, generation, startedAt: sim.now() });
      probe.end(outcome, 'once');
      probe.end(outcome, 'twice');
      expect(machineContext().probesAdmitted).toBe(1);
    });

    it.each(['not-counted', 'abandoned'] as const)(
      '%s of an attempt that holds no permit leaves the probes’ permits alone',
      async (outcome) => {
        const { agent, attempt, toHalfOpen, machineContext, sim } = setup();
        await toHalfOpen();
        const generation = agent.breaker.admit(sim.now());
        expect(machineContext().probesAdmitted).toBe(1);
        attempt({ probe: false, generation, startedAt: sim.now() }).end(outcome, 'no permit');
        expect(machineContext().probesAdmitted).toBe(1);
      },
    );

    it('succeeded keeps its permit (it counts as a probe success)', async () => {
      const { agent, attempt, toHalfOpen, machineContext, sim } = setup();
      await toHalfOpen();
      const generation = agent.breaker.admit(sim.now());
      expect(machineContext().probesAdmitted).toBe(1);
      const probe = attempt({ probe: true, generation, startedAt: sim.now() });
      sim.increment(5);
      probe.end('succeeded');
      expect(machineContext().probesAdmitted).toBe(1);
      expect(machineContext().probeSuccesses).toBe(1);
      expect(agent.breaker.state).toBe('half_open'); // halfOpenMaxCalls 3: two more probes to go
    });
  });
});

describe("Attempt's signal and the stop registry", () => {
  const controllerOf = (attempt: Attempt) =>
    (attempt as unknown as { controller: AbortController | undefined }).controller;

  it('names its task and agent', () => {
    const { attempt } = setup();
    const a = attempt();
    expect(a.taskId).toMatch(/^task-\d+$/);
    expect(a.attempt).toBe(1);
    expect(a.agentId).toBe('a');
  });

  it('creates its signal on first read, once, and is tracked then', () => {
    const { attempt, host } = setup();
    const a = attempt();
    expect(controllerOf(a)).toBeUndefined();
    expect(host.tracked).toEqual([]);
    const signal = a.signal;
    expect(controllerOf(a)).toBeDefined();
    expect(signal.aborted).toBe(false);
    expect(a.signal).toBe(signal);
    expect(host.tracked).toEqual([a]);
  });

  it('abort(reason) aborts an existing signal now; a second abort keeps the first reason', () => {
    const { attempt } = setup();
    const a = attempt();
    const signal = a.signal;
    const first = new Error('first');
    a.abort(first);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(first);
    a.abort(new Error('second'));
    expect(signal.reason).toBe(first);
  });

  it('abort(reason) before the first read: the signal starts aborted and is not tracked', () => {
    const { attempt, host } = setup();
    const a = attempt();
    const reason = new Error('early');
    a.abort(reason);
    expect(controllerOf(a)).toBeUndefined(); // still lazy
    a.abort(new Error('later'));
    expect(a.signal.aborted).toBe(true);
    expect(a.signal.reason).toBe(reason);
    expect(host.tracked).toEqual([]);
  });

  it('a registry that aborts everything: a signal read now starts aborted with its reason, untracked', () => {
    const { attempt, host } = setup();
    const reason = new Error('stopping');
    (host as { abortAllReason: unknown }).abortAllReason = reason;
    const a = attempt();
    expect(a.signal.aborted).toBe(true);
    expect(a.signal.reason).toBe(reason);
    expect(host.tracked).toEqual([]);
  });

  it('a signal first read after the attempt ended is not tracked, and the registry hears nothing', () => {
    const { attempt, host } = setup();
    const a = attempt();
    a.end('succeeded');
    expect(host.untracked).toEqual([]);
    expect(a.signal.aborted).toBe(false);
    expect(host.tracked).toEqual([]);
    expect(host.untracked).toEqual([]);
  });
});

describe('BreakerCallContext (a standalone breaker call)', () => {
  it('is the first attempt of no task, with a signal created on first read, once', () => {
    const ctx = new BreakerCallContext('payments');
    expect(ctx.attempt).toBe(1);
    expect(ctx.taskId).toBe('');
    expect(ctx.agentId).toBe('payments');
    const signal = ctx.signal;
    expect(signal.aborted).toBe(false);
    expect(ctx.signal).toBe(signal);
  });
});
