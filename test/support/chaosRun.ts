/**
 * One chaos run: a supervisor over seeded faulty agents, a stream of tasks routed every way the
 * API allows (whole pool, named agents, `routeTask`, with a caller signal that may abort), time
 * driven by a `SimulatedClock`, manual isolate/reset while it runs, observers on every stream.
 * Returns the history's report and every cross-check, for the test to assert on.
 */
import { setImmediate as flushMicrotasks } from 'node:timers/promises';
import { config as rxjsConfig } from 'rxjs';
import { SimulatedClock } from 'xstate';
import {
  type BreakerState,
  createSupervisor,
  type RoutingPolicyName,
  type SupervisorStats,
  SupervisorStoppedError,
  TaskAbortedError,
} from '../../src/index.js';
import {
  type CallRecord,
  type ChaosResult,
  type ChaosTask,
  FaultInjector,
  mixSeed,
  prng,
  wrongResult,
} from './faults.js';
import {
  consistencyProblems,
  History,
  type HistoryReport,
  healthProblems,
  type TaskEntry,
  totalInFlight,
} from './history.js';
import { TrackedClock } from './trackedClock.js';

export interface ChaosOptions {
  seed: number;
  agents: number;
  tasks: number;
  /** Share of faulty agents, 0..1. */
  faultyShare: number;
  /** Tasks in flight at once. */
  concurrency: number;
  /** Share of tasks routed with a caller signal (default 0.2), and of those aborted mid-flight (default 0.4). */
  signalShare?: number;
  abortShare?: number;
}

export interface ChaosOutcome {
  options: ChaosOptions;
  policy: RoutingPolicyName;
  report: HistoryReport;
  stats: SupervisorStats;
  /** Calls the agents saw (attempts, including those abandoned by a caller abort). */
  calls: number;
  injected: Record<string, number>;
  /** Tasks whose caller aborted while they were pending. */
  aborted: number;
  /** Aborted tasks that were not settled right after the abort, or whose agent did not see it. */
  abortProblems: string[];
  /** Consistency problems seen during the run (health figures, transitions, decisions). */
  problems: string[];
  /** Tasks still pending when the driver gave up waiting (no progress for a long while), before stop(). */
  pendingBeforeStop: number;
  /** Attempts in flight once every task settled, before stop(). */
  inFlightBeforeStop: number;
  failureRecords: number;
  totalFailures: number;
  attemptOutcomes: number;
  /** Errors the supervisor contained and reported through `onError`. */
  contained: string[];
  /** Reported by RxJS (a subscriber or operator threw): none expected. */
  rxjsUnhandled: unknown[];
  unhandledRejections: unknown[];
  uncaughtExceptions: unknown[];
  /** Supervisor timers still pending after `stop()` resolved. */
  timersLeft: number;
  /** Streams that completed on stop, of those subscribed. */
  completed: number;
  subscribed: number;
  afterStopRejected: boolean;
  simulatedMs: number;
  iterations: number;
  transitions: number;
  wallMs: number;
}

const JITTERS = ['none', 'full', 'equal', 'decorrelated'] as const;
const POLICIES: readonly RoutingPolicyName[] = ['priority', 'round-robin', 'least-outstanding'];
const TIMEOUT_MS = 250;
/** Iterations without progress after which the remaining tasks count as lost. */
const STALL_LIMIT = 2000;
/** Simulated ms per driver iteration. */
const STEP_MS = 10;

export async function runChaos(options: ChaosOptions): Promise<ChaosOutcome> {
  const started = performance.now();
  const { seed, tasks: taskCount, concurrency } = options;
  const signalShare = options.signalShare ?? 0.2;
  const abortShare = options.abortShare ?? 0.4;

  const unhandledRejections: unknown[] = [];
  const uncaughtExceptions: unknown[] = [];
  const rxjsUnhandled: unknown[] = [];
  const onRejection = (reason: unknown) => unhandledRejections.push(reason);
  const onException = (error: unknown) => uncaughtExceptions.push(error);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  const previousRxjsHandler = rxjsConfig.onUnhandledError;
  rxjsConfig.onUnhandledError = (error) => rxjsUnhandled.push(error);

  try {
    const sim = new SimulatedClock();
    const clock = new TrackedClock(sim);
    const injector = new FaultInjector({
      seed,
      agents: options.agents,
      faultyShare: options.faultyShare,
      clock: sim,
    });
    const rng = prng(mixSeed(seed, 0xc0ffee));
    const policy = POLICIES[seed % POLICIES.length] as RoutingPolicyName;
    const globalTimeout = seed % 2 === 0;
    const contained: string[] = [];
    const supervisor = createSupervisor<ChaosTask, ChaosResult>({
      clock,
      agents: injector.specs(),
      breaker: {
        failureThreshold: 3 + (seed % 3),
        halfOpenMaxCalls: 2,
        halfOpenTimeoutMs: 2000,
        backoff: { initialMs: 200, multiplier: 1.5, maxMs: 5000, jitter: JITTERS[seed % JITTERS.length] ?? 'none' },
        jitterSeed: seed,
      },
      routing: {
        policy,
        maxAttempts: 3,
        ...(globalTimeout ? { attemptTimeoutMs: TIMEOUT_MS } : {}),
        ...(seed % 5 === 4 ? { maxEjectionPercent: 50, panicThreshold: 10 } : {}),
      },
      failureLogSize: 500,
      onError: (error, where) => contained.push(`${where}: ${String(error)}`),
    });

    const taskList: ChaosTask[] = [];
    const history = new History({
      value: (entry, value) => wrongResult(taskList[entry.n] as ChaosTask, value, injector.lastCall.get(entry.n)),
      settled: (entry) => injector.lastCall.delete(entry.n),
    });

    // ─── observers ───────────────────────────────────────────────────────────────────────────
    const problems: string[] = [];
    const problem = (text: string) => {
      if (problems.length < 20) problems.push(text);
    };
    let completed = 0;
    let subscribed = 0;
    const complete = () => completed++;
    const lastState = new Map<string, BreakerState>();
    let transitions = 0;
    let failureRecords = 0;
    const subscriptions = [
      supervisor.health$.subscribe({
        next: (health) => {
          for (const p of healthProblems(health)) problem(`health$: ${p}`);
        },
        complete,
      }),
      supervisor.transitions$.subscribe({
        next: (t) => {
          transitions++;
          const before = lastState.get(t.agentId) ?? 'closed';
          if (t.from !== before || t.from === t.to)
            problem(`transition ${t.agentId} ${t.from}→${t.to} after ${before}`);
          lastState.set(t.agentId, t.to);
        },
        complete,
      }),
      supervisor.failures$.subscribe({
        next: (f) => {
          failureRecords++;
          // A caller's abort is not the agent's failure.
          if (f.reason.includes('caller gave up') || f.reason.includes('gave up before routing'))
            problem(`an abort was counted against ${f.agentId}: ${f.reason}`);
        },
        complete,
      }),
      supervisor.states$.subscribe({ complete }),
    ];
    subscribed += subscriptions.length;
    let decisions: { unsubscribe(): void } | undefined;

    // ─── tasks ───────────────────────────────────────────────────────────────────────────────
    const settleIds = injector.idsThatSettle();
    const allIds = injector.profiles.map((p) => p.id);
    /** 3 to 6 distinct ids (a named list may not repeat an id). */
    const subset = (ids: readonly string[]) => {
      const picked = new Set<string>();
      for (let size = 3 + Math.floor(rng() * 4); picked.size < size; ) {
        picked.add(ids[Math.floor(rng() * ids.length)] as string);
      }
      return [...picked];
    };
    interface PendingAbort {
      at: number;
      entry: TaskEntry;
      controller: AbortController;
    }
    const abortsDue: PendingAbort[] = [];
    const abortChecks: Array<{ entry: TaskEntry; call: CallRecord | undefined }> = [];
    const abortProblems: string[] = [];
    let aborted = 0;
    let iteration = 0;

    const start = (n: number): void => {
      const task: ChaosTask = { n, salt: Math.floor(rng() * 2 ** 32) };
      taskList[n] = task;
      // Signal tasks first (share `signalShare`), the rest split 75 / 18.75 / 6.25.
      const s = rng();
      const r = s < signalShare ? 1 : 0.8 * ((s - signalShare) / (1 - signalShare));
      if (r < 0.6) {
        const promise = globalTimeout ? supervisor.route(task) : supervisor.route(task, { timeoutMs: TIMEOUT_MS });
        history.track(n, 'route', promise);
      } else if (r < 0.75) {
        // Named agents that always settle: without a global timeout this is the untimed fast path.
        history.track(n, 'route+agents', supervisor.route(task, { agents: subset(settleIds), taskId: `sub-${n}` }));
      } else if (r < 0.8) {
        const promise = supervisor.routeTask(`rt-${n}`, subset(settleIds), (agentId, ctx) =>
          injector.call(agentId, task, ctx),
        );
        history.track(n, 'routeTask', promise);
      } else {
        const controller = new AbortController();
        const preAborted = rng() < 0.05;
        if (preAborted) controller.abort('gave up before routing');
        const callsBefore = injector.calls;
        const entry = history.track(
          n,
          preAborted ? 'route+signal(aborted)' : 'route+signal',
          // Timed, so it may name any agent, hanging ones included (they are reached under every policy).
          rng() < 0.5
            ? supervisor.route(task, { signal: controller.signal, timeoutMs: TIMEOUT_MS })
            : supervisor.route(task, { signal: controller.signal, timeoutMs: TIMEOUT_MS, agents: subset(allIds) }),
        );
        if (preAborted) {
          entry.aborted = true;
          aborted++;
          abortChecks.push({ entry, call: undefined });
          // An agent is called synchronously inside route() if at all: none may be for this task.
          if (injector.calls !== callsBefore)
            abortProblems.push(`task ${n}: an agent ran it though it was pre-aborted`);
        } else if (rng() < abortShare) {
          abortsDue.push({ at: iteration + 1 + Math.floor(rng() * 8), entry, controller });
        }
      }
    };

    const chaosOps = (): void => {
      const r = rng();
      const id = allIds[Math.floor(rng() * allIds.length)] as string;
      if (r < 0.01) supervisor.isolate(id);
      else if (r < 0.03) supervisor.reset(id);
      if (decisions === undefined && rng() < 0.02) {
        subscribed++;
        decisions = supervisor.decisions$.subscribe({
          next: (d) => {
            if (d.chosen !== null && !d.considered.includes(d.chosen) && d.considered.length < 20)
              problem(`decision chose ${d.chosen} outside ${d.considered.join(',')}`);
          },
          complete,
        });
      } else if (decisions !== undefined && rng() < 0.3) {
        decisions.unsubscribe();
        subscribed--;
        decisions = undefined;
      }
    };

    let next = 0;
    let stalled = 0;
    let lastPending = -1;
    while (next < taskCount || history.pending > 0) {
      while (next < taskCount && history.pending < concurrency) start(next++);
      chaosOps();
      await flushMicrotasks();

      // Caller aborts: the task must settle at once (no clock advance) and its agent see the abort.
      const due = abortsDue.filter((a) => a.at <= iteration);
      if (due.length > 0) {
        for (const a of due) {
          abortsDue.splice(abortsDue.indexOf(a), 1);
          if (a.entry.outcome !== 'pending') continue;
          a.entry.aborted = true;
          aborted++;
          abortChecks.push({ entry: a.entry, call: injector.lastCall.get(a.entry.n) });
          a.controller.abort(rng() < 0.5 ? new Error('caller gave up') : 'caller gave up');
        }
        await flushMicrotasks();
      }
      for (const { entry, call } of abortChecks.splice(0)) {
        if (entry.outcome !== 'rejected' || entry.errorName !== TaskAbortedError.name)
          abortProblems.push(`task ${entry.n}: ${entry.outcome} ${entry.errorName ?? ''} right after its abort`);
        if (call !== undefined && !call.ctx.signal.aborted)
          abortProblems.push(`task ${entry.n}: agent ${call.agentId} did not see the abort`);
      }

      sim.increment(STEP_MS);
      iteration++;
      if (history.pending === lastPending && next >= taskCount) {
        if (++stalled > STALL_LIMIT) break;
      } else stalled = 0;
      lastPending = history.pending;
    }
    await flushMicrotasks();

    // ─── cross-checks before stop ─────────────────────────────────────────────────────────────
    for (const p of consistencyProblems(supervisor)) problem(`before stop: ${p}`);
    const pendingBeforeStop = history.pending;
    const inFlightBeforeStop = totalInFlight(supervisor);
    const stats = supervisor.getStats();
    let totalFailures = 0;
    let attemptOutcomes = 0;
    for (const agent of supervisor.getAllMetrics()) {
      totalFailures += agent.metrics.totalFailures;
      attemptOutcomes += agent.metrics.totalFailures + agent.metrics.successCount;
    }

    // ─── stop ─────────────────────────────────────────────────────────────────────────────────
    decisions?.unsubscribe();
    if (decisions !== undefined) subscribed--;
    const stopping = supervisor.stop({ drainMs: 100 });
    sim.increment(100);
    await stopping;
    await flushMicrotasks();
    const late = await supervisor.route({ n: -1, salt: 0 }).then(
      () => false,
      (error) => error instanceof SupervisorStoppedError,
    );
    for (const s of subscriptions) s.unsubscribe();

    return {
      options,
      policy,
      report: history.report(),
      stats,
      calls: injector.calls,
      injected: injector.injected,
      aborted,
      abortProblems: abortProblems.slice(0, 20),
      problems,
      pendingBeforeStop,
      inFlightBeforeStop,
      failureRecords,
      totalFailures,
      attemptOutcomes,
      contained,
      rxjsUnhandled,
      unhandledRejections,
      uncaughtExceptions,
      timersLeft: clock.live.size,
      completed,
      subscribed,
      afterStopRejected: late,
      simulatedMs: sim.now(),
      iterations: iteration,
      transitions,
      wallMs: Math.round(performance.now() - started),
    };
  } finally {
    // Unhandled rejections are reported a macrotask after the fact: let them arrive first.
    await flushMicrotasks();
    await new Promise((resolve) => setTimeout(resolve, 0));
    rxjsConfig.onUnhandledError = previousRxjsHandler;
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  }
}

/** A one-line summary for logs and the issue. */
export function summarize(outcome: ChaosOutcome): string {
  const r = outcome.report;
  return [
    `seed ${outcome.options.seed} (${outcome.policy})`,
    `${outcome.options.agents} agents`,
    `${r.tasks} tasks`,
    `resolved ${r.resolved}`,
    `rejected ${r.rejected}`,
    `lost ${r.lost}`,
    `twice ${r.settledTwice}`,
    `wrong ${r.wrongValues}`,
    `unexpected ${r.unexpectedErrors}`,
    `aborted ${outcome.aborted}`,
    `calls ${outcome.calls}`,
    `transitions ${outcome.transitions}`,
    `sim ${outcome.simulatedMs} ms`,
    `wall ${outcome.wallMs} ms`,
  ].join(', ');
}
