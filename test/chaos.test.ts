/**
 * Chaos (issue 7): seeded faulty agents, hundreds of thousands of tasks, a history checker.
 * What goes in must come out: no task lost, none settled twice or with a wrong value, no unhandled
 * rejection or uncaught exception, health figures that add up, and no timer left after stop().
 *
 * CI runs a smaller size; `BREAKERBOX_CHAOS_FULL=1` runs the issue's: 20 seeds × 200,000 tasks
 * over 1,000 agents, 30% faulty.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createSupervisor, realClock } from '../src/index.js';
import { type ChaosOutcome, runChaos, summarize } from './support/chaosRun.js';
import { type ChaosResult, type ChaosTask, FaultInjector } from './support/faults.js';
import { CLEAN_HISTORY, historyProblems } from './support/history.js';
import { TrackedClock } from './support/trackedClock.js';

const root = fileURLToPath(new URL('..', import.meta.url));

const FULL = process.env.BREAKERBOX_CHAOS_FULL === '1';
const SIZE = FULL
  ? { seeds: 20, agents: 1000, tasks: 200_000, concurrency: 2000 }
  : { seeds: 3, agents: 1000, tasks: 20_000, concurrency: 1000 };

function expectClean(outcome: ChaosOutcome): void {
  const r = outcome.report;
  const figures = {
    history: historyProblems(r),
    pendingBeforeStop: outcome.pendingBeforeStop,
    abortProblems: outcome.abortProblems,
    problems: outcome.problems,
    unhandledRejections: outcome.unhandledRejections.map(String),
    uncaughtExceptions: outcome.uncaughtExceptions.map(String),
    rxjsUnhandled: outcome.rxjsUnhandled.map(String),
    contained: outcome.contained,
    inFlightBeforeStop: outcome.inFlightBeforeStop,
    timersLeft: outcome.timersLeft,
    streamsCompleted: outcome.completed,
    afterStopRejected: outcome.afterStopRejected,
  };
  expect(figures, r.problems.join('\n')).toEqual({
    history: CLEAN_HISTORY,
    pendingBeforeStop: 0,
    abortProblems: [],
    problems: [],
    unhandledRejections: [],
    uncaughtExceptions: [],
    rxjsUnhandled: [],
    contained: [],
    inFlightBeforeStop: 0,
    timersLeft: 0,
    streamsCompleted: outcome.subscribed,
    afterStopRejected: true,
  });
  // Every task accounted for once: succeeded tasks are the resolved ones; failed and rejected
  // tasks are the rejected ones except those the caller aborted (counted by neither).
  expect(r.resolved + r.rejected).toBe(SIZE.tasks);
  expect(outcome.stats.tasks.succeeded).toBe(r.resolved);
  expect(outcome.stats.tasks.failed + outcome.stats.tasks.rejected).toBe(r.rejected - outcome.aborted);
  // Every attempt outcome is counted once, on its agent and in the routing log.
  expect(outcome.stats.routingEvents).toBe(outcome.attemptOutcomes);
  expect(outcome.failureRecords).toBe(outcome.totalFailures);
  // Agents saw every counted attempt, plus those abandoned by an abort (at most one per abort).
  expect(outcome.calls - outcome.stats.routingEvents).toBeGreaterThanOrEqual(0);
  expect(outcome.calls - outcome.stats.routingEvents).toBeLessThanOrEqual(outcome.aborted);
  // The run was chaotic: every fault kind fired, circuits moved, some tasks failed and some aborted.
  expect(Object.keys(outcome.injected).sort()).toEqual([
    'flap',
    'hang',
    'nonPromise',
    'recover',
    'rejectError',
    'rejectNonError',
    'slow',
    'throwSync',
  ]);
  expect(outcome.transitions).toBeGreaterThan(100);
  expect(r.errors.AllAgentsFailedError ?? 0).toBeGreaterThan(0);
  expect(outcome.aborted).toBeGreaterThan(0);
  expect(r.resolved).toBeGreaterThan(SIZE.tasks * 0.5);
}

describe(`chaos: ${SIZE.agents} agents, 30% faulty, ${SIZE.tasks} tasks × ${SIZE.seeds} seeds${FULL ? ' (full)' : ''}`, () => {
  for (let seed = 1; seed <= SIZE.seeds; seed++) {
    it(`seed ${seed}: nothing lost, nothing twice, nothing wrong`, async () => {
      const outcome = await runChaos({
        seed,
        agents: SIZE.agents,
        tasks: SIZE.tasks,
        faultyShare: 0.3,
        concurrency: SIZE.concurrency,
      });
      if (FULL || process.env.BREAKERBOX_CHAOS_LOG === '1') console.log(summarize(outcome), outcome.report.errors);
      expectClean(outcome);
    }, 600_000);
  }
});

describe('caller aborts under chaos', () => {
  it('every task has a signal, half are aborted mid-flight: each settles at once, its agent sees the abort', async () => {
    const tasks = 5000;
    const outcome = await runChaos({
      seed: 101,
      agents: 300,
      tasks,
      faultyShare: 0.3,
      concurrency: 500,
      signalShare: 1,
      abortShare: 0.5,
    });
    const r = outcome.report;
    expect(historyProblems(r)).toEqual(CLEAN_HISTORY);
    // Checked right after each abort, before the clock moved: settled with TaskAbortedError, and
    // the attempt's signal (read by the agent, or on first read) aborted.
    expect(outcome.abortProblems).toEqual([]);
    expect(outcome.problems).toEqual([]); // includes: no abort counted as an agent failure
    expect(outcome.aborted).toBeGreaterThan(tasks * 0.04); // aborted while pending (most tasks finish first)
    expect(r.errors.TaskAbortedError).toBe(outcome.aborted);
    expect(outcome.pendingBeforeStop).toBe(0);
    expect(outcome.inFlightBeforeStop).toBe(0);
    expect(outcome.calls - outcome.stats.routingEvents).toBeLessThanOrEqual(outcome.aborted);
    expect(outcome.calls - outcome.stats.routingEvents).toBeGreaterThan(0); // attempts abandoned by aborts
  });
});

describe('routing stays fair under mixed traffic', () => {
  it('round-robin: tasks naming their own agents do not reset the pool rotation', async () => {
    const calls = new Map<string, number>();
    const agents = Array.from({ length: 10 }, (_, i) => ({
      id: `a${i}`,
      run: () => {
        calls.set(`a${i}`, (calls.get(`a${i}`) ?? 0) + 1);
        return i;
      },
    }));
    const supervisor = createSupervisor({ clock: new SimulatedClock(), agents, routing: { policy: 'round-robin' } });
    for (let i = 0; i < 1000; i++) {
      await supervisor.route(i);
      await supervisor.route(i, { agents: ['a9', 'a8'] });
      await supervisor.routeTask(`t${i}`, ['a7', 'a6'], (agentId) => calls.set(agentId, (calls.get(agentId) ?? 0) + 1));
    }
    // Pool tasks: 100 each; the named pairs share their tasks (about 500 each).
    for (let i = 0; i < 6; i++) expect(calls.get(`a${i}`)).toBe(100);
    for (const id of ['a6', 'a7', 'a8', 'a9']) {
      expect(calls.get(id)).toBeGreaterThan(100 + 450);
      expect(calls.get(id)).toBeLessThan(100 + 550);
    }
    await supervisor.stop();
  });
});

/** Counts of the resources keeping Node's event loop alive, by type. */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

describe('after stop(), nothing of the supervisor keeps Node alive', () => {
  it('real clock, in process: faulty agents, trips with 60 s backoffs, a stop mid-load → no timer or handle left', async () => {
    const before = activeResources();
    // The agents' own latency timers are unref'd: only the supervisor's may keep Node alive.
    const agentClock = {
      setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms).unref(),
      clearTimeout: (id: unknown) => clearTimeout(id as NodeJS.Timeout),
      now: () => Date.now(),
    };
    const injector = new FaultInjector({
      seed: 7,
      agents: 200,
      faultyShare: 0.3,
      clock: agentClock,
      spikeMs: [20, 80],
    });
    // Real timers, counted: a Timeout in getActiveResourcesInfo() does not say whose it is.
    const clock = new TrackedClock(realClock);
    const supervisor = createSupervisor<ChaosTask, ChaosResult>({
      clock,
      agents: injector.specs(),
      breaker: { failureThreshold: 2, backoff: { initialMs: 60_000 }, halfOpenTimeoutMs: 60_000 },
      // Long timers: one left behind by stop() would still be pending when the test looks.
      routing: { policy: 'round-robin', attemptTimeoutMs: 60_000 },
      onError: (error) => {
        throw new Error(`contained error reported: ${String(error)}`);
      },
    });
    const settle = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: Error) => e.name,
      );
    for (let batch = 0; batch < 5; batch++) {
      const tasks = Array.from({ length: 400 }, (_, i) =>
        settle(supervisor.route({ n: batch * 400 + i, salt: i }, { timeoutMs: 30 })),
      );
      await Promise.all(tasks);
    }
    expect(supervisor.getHealthStatus().openCircuits).toBeGreaterThan(0); // real 60 s backoff timers pending
    // Let the load's 30 ms deadline timer lapse, so the tasks below arm a 60 s one.
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Stop with tasks in flight (hanging agents among them) under 60 s deadlines.
    const inFlight = Array.from({ length: 400 }, (_, i) => settle(supervisor.route({ n: 10_000 + i, salt: i })));
    await supervisor.stop({ drainMs: 20 });
    const outcomes = await Promise.all(inFlight);
    expect(outcomes.every((o) => o === 'ok' || o === 'AllAgentsFailedError' || o === 'SupervisorStoppedError')).toBe(
      true,
    );
    expect(clock.set).toBeGreaterThan(20); // backoffs, deadlines and the drain ran on real timers
    expect(clock.live.size).toBe(0); // and none is left
    const after = activeResources();
    expect(after.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
    for (const [type, count] of Object.entries(after)) expect(count, type).toBeLessThanOrEqual(before[type] ?? 0);
  });

  it('the built package in a child node process routes under chaos, stops, and exits on its own', async () => {
    const script = `
      import { createSupervisor, SupervisorStoppedError, AllAgentsFailedError } from 'breakerbox';
      let unhandled = 0, uncaught = 0;
      process.on('unhandledRejection', () => unhandled++);
      process.on('uncaughtException', () => uncaught++);
      const kinds = ['throw', 'rejectNonError', 'hang', 'hangHonours', 'slow', 'flap'];
      const agents = Array.from({ length: 300 }, (_, i) => {
        const id = 'agent-' + i;
        const kind = i % 10 < 3 ? kinds[i % kinds.length] : 'healthy';
        let calls = 0;
        return { id, run: (task, ctx) => {
          calls++;
          const value = { n: task, by: id };
          if (kind === 'throw' && calls % 2) throw new Error('sync');
          if (kind === 'rejectNonError' && calls % 2) return Promise.reject(calls % 4 === 1 ? undefined : Object.freeze({ code: 1 }));
          if (kind === 'hang' && calls % 3) return new Promise(() => {});
          if (kind === 'hangHonours' && calls % 3) {
            const signal = ctx.signal;
            return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
          }
          if (kind === 'slow') return new Promise((resolve) => setTimeout(() => resolve(value), calls % 5 === 0 ? 100 : 1));
          if (kind === 'flap' && Math.floor(Date.now() / 50) % 2) return Promise.reject(new Error('flap'));
          return calls % 2 ? value : Promise.resolve(value);
        } };
      });
      const supervisor = createSupervisor({
        agents,
        // Long timers: one left behind would hold the process for 20 s or more.
        breaker: { failureThreshold: 2, backoff: { initialMs: 60_000 }, halfOpenTimeoutMs: 60_000 },
        routing: { policy: 'round-robin', attemptTimeoutMs: 20_000 },
      });
      const TASKS = 20_000;
      const outcome = { resolved: 0, wrong: 0, failed: 0, stopped: 0, other: 0 };
      let settled = 0;
      const all = [];
      for (let n = 0; n < TASKS; n++) {
        all.push(supervisor.route(n).then(
          (v) => { settled++; outcome.resolved++; if (v.n !== n) outcome.wrong++; },
          (e) => { settled++; if (e instanceof SupervisorStoppedError) outcome.stopped++; else if (e instanceof AllAgentsFailedError) outcome.failed++; else outcome.other++; },
        ));
        if (n % 1000 === 999) await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 150));
      const health = supervisor.getHealthStatus();
      await supervisor.stop({ drainMs: 200 });
      const stoppedAt = Date.now();
      await Promise.race([Promise.all(all), new Promise((r) => setTimeout(r, 1000).unref())]);
      process.on('exit', () => {
        console.log(JSON.stringify({ ...outcome, tasks: TASKS, lost: TASKS - settled, unhandled, uncaught, health,
          exitDelayMs: Date.now() - stoppedAt, resources: process.getActiveResourcesInfo() }));
      });
    `;
    const started = Date.now();
    const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.stderr.on('data', (chunk) => (err += chunk));
      const killer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the child did not exit within 30 s (a handle keeps it alive)\n${out}\n${err}`));
      }, 30_000);
      child.on('exit', (exitCode) => {
        clearTimeout(killer);
        if (err) console.error(err);
        resolve({ stdout: out, code: exitCode });
      });
    });
    expect(code).toBe(0);
    const result = JSON.parse(stdout.trim().split('\n').pop() as string);
    expect(result).toMatchObject({ tasks: 20_000, lost: 0, wrong: 0, other: 0, unhandled: 0, uncaught: 0 });
    expect(result.resolved).toBeGreaterThan(10_000);
    expect(result.stopped).toBeGreaterThan(0); // hung tasks were cut off by the stop
    expect(result.health.openCircuits).toBeGreaterThan(0); // 60 s backoff timers were pending
    // Exited right after the drain (slow agents take ≤ 100 ms), not after a 20 s or 60 s timer.
    expect(result.exitDelayMs).toBeLessThan(2000);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 40_000);
});
