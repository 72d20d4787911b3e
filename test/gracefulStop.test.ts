/**
 * Graceful stop under load (issue 7): `stop({ drainMs })` with many tasks in flight. New tasks are
 * rejected with a clear error; in-flight tasks finish, or are aborted at the deadline; each settles
 * exactly once; every observable completes; the supervisor leaves no timer behind.
 */
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  type CallContext,
  ConfigError,
  createSupervisor,
  type Supervisor,
  SupervisorStoppedError,
} from '../src/index.js';
import { type ChaosResult, type ChaosTask, FaultInjector, mixSeed, prng, wrongResult } from './support/faults.js';
import { CLEAN_HISTORY, consistencyProblems, History, historyProblems, totalInFlight } from './support/history.js';
import { TrackedClock } from './support/trackedClock.js';

/** What a task asks its agent to do. */
type Behaviour =
  /** Finishes during the drain. */
  | 'quick'
  /** Would finish long after the deadline; rejects when its signal aborts. */
  | 'lateHonours'
  /** Never settles unless its signal aborts. */
  | 'hangHonours'
  /** Never settles, whatever happens (only routed with a deadline or a signal). */
  | 'hangIgnores'
  /** Finishes long after the deadline, ignoring the abort. */
  | 'lateIgnores';

interface Job {
  n: number;
  behaviour: Behaviour;
  /** For quick jobs: ms until done. */
  ms: number;
}

function worker(sim: SimulatedClock, seen: { aborted: number }) {
  return (job: Job, ctx: CallContext): unknown => {
    const value = `${ctx.agentId}:${job.n}`;
    const wait = (ms: number, honours: boolean) =>
      new Promise((resolve, reject) => {
        const timer = ms === Number.POSITIVE_INFINITY ? undefined : sim.setTimeout(() => resolve(value), ms);
        if (!honours) return;
        const signal = ctx.signal;
        signal.addEventListener(
          'abort',
          () => {
            seen.aborted++;
            if (timer !== undefined) sim.clearTimeout(timer);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    switch (job.behaviour) {
      case 'quick':
        return wait(job.ms, true);
      case 'lateHonours':
        return wait(60_000, true);
      case 'hangHonours':
        return wait(Number.POSITIVE_INFINITY, true);
      case 'hangIgnores':
        return new Promise(() => {});
      case 'lateIgnores':
        return wait(2_000, false);
    }
  };
}

/** Advances the simulated clock in steps, letting promise chains run between them. */
async function advance(sim: SimulatedClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    sim.increment(Math.min(step, ms - t));
    await tick();
  }
}

function observeCompletion(supervisor: Supervisor<Job, unknown>) {
  const streams = {
    health$: supervisor.health$,
    states$: supervisor.states$,
    transitions$: supervisor.transitions$,
    failures$: supervisor.failures$,
    decisions$: supervisor.decisions$,
    'agentState$(w0)': supervisor.agentState$('w0'),
  };
  const completed: string[] = [];
  for (const [name, stream] of Object.entries(streams)) {
    (stream as import('rxjs').Observable<unknown>).subscribe({ complete: () => completed.push(name) });
  }
  return { completed, names: Object.keys(streams) };
}

describe('stop({ drainMs }) under load', () => {
  it('1,000 tasks in flight on every path: finish or abort at the deadline, each settles once, no timer left', async () => {
    const sim = new SimulatedClock();
    const clock = new TrackedClock(sim);
    const seen = { aborted: 0 };
    const run = worker(sim, seen);
    const supervisor = createSupervisor<Job, unknown>({
      clock,
      agents: Array.from({ length: 20 }, (_, i) => ({ id: `w${i}`, run })),
      routing: { policy: 'round-robin' },
    });
    const observed = observeCompletion(supervisor);
    const history = new History({
      value: (entry, value) =>
        typeof value === 'string' && value.endsWith(`:${entry.n}`) ? undefined : `task ${entry.n}: ${String(value)}`,
    });
    const rng = prng(mixSeed(42, 7));
    const behaviours: Behaviour[] = ['quick', 'quick', 'lateHonours', 'hangHonours', 'hangIgnores', 'lateIgnores'];
    const jobs: Job[] = [];
    for (let n = 0; n < 1000; n++) {
      const behaviour = behaviours[Math.floor(rng() * behaviours.length)] as Behaviour;
      const job: Job = { n, behaviour, ms: 1 + Math.floor(rng() * 450) };
      jobs.push(job);
      const path = n % 4;
      // A task that hangs ignoring its signal can only be ended by a deadline or the stop: it goes
      // on a raced path (a timeout or a caller signal), never the untimed fast path.
      if (path === 0 && behaviour !== 'hangIgnores') history.track(n, 'route', supervisor.route(job));
      else if (path === 1) history.track(n, 'route+timeout', supervisor.route(job, { timeoutMs: 100_000 }));
      else if (path === 2)
        history.track(n, 'route+signal', supervisor.route(job, { signal: new AbortController().signal }));
      else if (behaviour !== 'hangIgnores')
        history.track(
          n,
          'routeTask',
          supervisor.routeTask(`rt-${n}`, ['w1', 'w2'], (agentId, ctx) =>
            run(job, { ...ctx, agentId, signal: ctx.signal }),
          ),
        );
      else history.track(n, 'route+timeout', supervisor.route(job, { timeoutMs: 100_000 }));
    }
    await tick();
    expect(history.pending).toBe(1000);

    const stopping = supervisor.stop({ drainMs: 500 });
    for (const entry of history.entries) entry.afterStop = true; // in flight at the stop: may be stopped
    expect(supervisor.phase).toBe('draining');
    expect(supervisor.stop()).toBe(stopping); // a second stop() is the same stop
    // New work is refused, with a clear error.
    const refused = await supervisor.route({ n: -1, behaviour: 'quick', ms: 1 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SupervisorStoppedError);
    expect((refused as Error).message).toMatch(/^Task task-\d+ rejected: the supervisor is stopping$/);
    await expect(supervisor.routeTask('late', ['w0'], () => 1)).rejects.toThrow('the supervisor is stopping');
    expect(() => supervisor.addAgent({ id: 'late', run })).toThrow(SupervisorStoppedError);

    // During the drain, quick tasks finish with their values; stop() waits.
    let stopped = false;
    stopping.then(() => (stopped = true));
    await advance(sim, 490);
    expect(stopped).toBe(false);
    const quick = jobs.filter((j) => j.behaviour === 'quick').length;
    expect(history.report().resolved).toBe(quick);
    expect(seen.aborted).toBe(0);

    // At the deadline: everything still running is aborted, stop() resolves, no timer is left.
    await advance(sim, 10);
    await tick();
    expect(stopped).toBe(true);
    expect(supervisor.phase).toBe('stopped');
    expect(clock.live.size).toBe(0);
    expect(observed.completed.sort()).toEqual(observed.names.sort());
    // Only tasks whose agents ignore the abort on the untimed path can still be running; they
    // settle once, when their agents finish.
    const stillRunning = history.entries.filter((e) => e.outcome === 'pending');
    expect(
      stillRunning.every((e) => jobs[e.n]?.behaviour === 'lateIgnores' && (e.via === 'route' || e.via === 'routeTask')),
    ).toBe(true);
    await advance(sim, 2_000, 100);

    const report = history.report();
    expect(historyProblems(report)).toEqual(CLEAN_HISTORY);
    expect(Object.keys(report.errors)).toEqual(['SupervisorStoppedError']);
    expect(report.errors.SupervisorStoppedError).toBeGreaterThan(300);
    expect(seen.aborted).toBeGreaterThan(100); // agents that listen saw the abort
    expect(totalInFlight(supervisor)).toBe(0);
    expect(consistencyProblems(supervisor)).toEqual([]);
    await expect(supervisor.route({ n: -2, behaviour: 'quick', ms: 1 })).rejects.toThrow('the supervisor is stopped');
  });

  it('when every task finishes early, stop() resolves at once and clears its drain timer', async () => {
    const sim = new SimulatedClock();
    const clock = new TrackedClock(sim);
    const run = worker(sim, { aborted: 0 });
    const supervisor = createSupervisor<Job, unknown>({ clock, agents: [{ id: 'w0', run }] });
    const observed = observeCompletion(supervisor);
    const tasks = Array.from({ length: 100 }, (_, n) => supervisor.route({ n, behaviour: 'quick', ms: 1 + n }));
    await tick();
    let stopped = false;
    const stopping = supervisor.stop({ drainMs: 60_000 }).then(() => (stopped = true));
    await advance(sim, 100, 1);
    expect(await Promise.all(tasks)).toEqual(Array.from({ length: 100 }, (_, n) => `w0:${n}`));
    await stopping;
    expect(stopped).toBe(true);
    expect(sim.now()).toBe(100); // long before the 60 s deadline
    expect(clock.live.size).toBe(0);
    expect(observed.completed).toHaveLength(observed.names.length);
  });

  it('with nothing in flight, stop() resolves without the clock moving; drainMs 0 aborts at once', async () => {
    const sim = new SimulatedClock();
    const clock = new TrackedClock(sim);
    const idle = createSupervisor({ clock, agents: [{ id: 'w0', run: () => 1 }] });
    await idle.stop({ drainMs: 60_000 });
    expect(idle.phase).toBe('stopped');

    const busy = createSupervisor<Job, unknown>({ clock, agents: [{ id: 'w0', run: worker(sim, { aborted: 0 }) }] });
    const task = busy.route({ n: 1, behaviour: 'hangHonours', ms: 0 }).catch((e: unknown) => e);
    await tick();
    await busy.stop({ drainMs: 0 });
    expect(await task).toBeInstanceOf(SupervisorStoppedError);
    expect(clock.live.size).toBe(0);
  });

  // Known gap (reported on issue 7): on the untimed fast path the task's promise is the agent's own
  // chain, so stop() can only abort the agent's signal; an agent that ignores it and never settles
  // keeps its task pending. Closing it needs an owned promise per call on the hot path.
  it.todo('a task on the untimed fast path whose agent ignores the abort and never settles is ended by stop()');

  it('a rejected stop() (bad options) leaves the supervisor running', async () => {
    const supervisor = createSupervisor({ clock: new SimulatedClock(), agents: [{ id: 'w0', run: () => 'ok' }] });
    await expect(supervisor.stop({ drainMs: -1 })).rejects.toBeInstanceOf(ConfigError);
    expect(supervisor.phase).toBe('running');
    expect(await supervisor.route('t')).toBe('ok');
    await supervisor.stop();
  });
});

describe('stop under chaos', () => {
  it('300 faulty agents, 5,000 tasks in flight, stop mid-way: nothing lost, nothing twice, nothing wrong', async () => {
    const sim = new SimulatedClock();
    const clock = new TrackedClock(sim);
    const injector = new FaultInjector({ seed: 11, agents: 300, faultyShare: 0.3, clock: sim });
    const supervisor = createSupervisor<ChaosTask, ChaosResult>({
      clock,
      agents: injector.specs(),
      breaker: { failureThreshold: 3, backoff: { initialMs: 200 } },
      routing: { policy: 'least-outstanding' },
    });
    const tasks: ChaosTask[] = [];
    const history = new History({
      value: (entry, value) => wrongResult(tasks[entry.n] as ChaosTask, value, injector.lastCall.get(entry.n)),
    });
    const settleIds = injector.idsThatSettle();
    const rng = prng(99);
    const controllers: AbortController[] = [];
    for (let n = 0; n < 5000; n++) {
      const task = { n, salt: Math.floor(rng() * 2 ** 32) };
      tasks.push(task);
      const r = rng();
      if (r < 0.5) history.track(n, 'route+timeout', supervisor.route(task, { timeoutMs: 250 }));
      else if (r < 0.8) {
        const agents = new Set<string>();
        while (agents.size < 3) agents.add(settleIds[Math.floor(rng() * settleIds.length)] as string);
        history.track(n, 'route+agents', supervisor.route(task, { agents: [...agents] }));
      } else {
        const controller = new AbortController();
        controllers.push(controller);
        history.track(n, 'route+signal', supervisor.route(task, { signal: controller.signal, timeoutMs: 250 }));
      }
    }
    await advance(sim, 150);
    const stopping = supervisor.stop({ drainMs: 300 });
    for (const e of history.entries) if (e.outcome === 'pending') e.afterStop = true; // may be stopped
    await advance(sim, 300);
    await stopping;
    expect(clock.live.size).toBe(0);
    // Aborting after the stop changes nothing: those tasks are settled already.
    for (const c of controllers) c.abort('too late');
    await advance(sim, 5_000, 50); // fast-path agents with latency spikes finish on their own
    const report = history.report();
    expect(historyProblems(report)).toEqual(CLEAN_HISTORY);
    expect(report.errors.SupervisorStoppedError).toBeGreaterThan(0);
    expect(report.resolved).toBeGreaterThan(2500);
    expect(totalInFlight(supervisor)).toBe(0);
    expect(consistencyProblems(supervisor)).toEqual([]);
  });
});
