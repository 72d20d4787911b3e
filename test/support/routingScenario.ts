/**
 * One generated routing scenario (issue 4, part 4), run against a real supervisor on a
 * `SimulatedClock`: a pool of scripted agents (some tripped open, half-open or isolated
 * beforehand), routing options, and a sequence of commands — route a task, let the scheduler
 * release one pending agent call, let time pass, abort a task, isolate or reset an agent — with
 * the tasks running concurrently. Every attempt is observed from inside the agent's `run` (which
 * agent, the breaker state at call time, the pool around it); every task's settlement and the
 * supervisor's counters are checked at the end. `runRoutingScenario` throws a `RoutingViolation`
 * naming the first property broken and the trace that led there.
 */
import type fc from 'fast-check';
import { SimulatedClock } from 'xstate';
import { seededRandom } from '../../machines/backoff.js';
import type { Breaker } from '../../src/breaker/breaker.js';
import {
  AllAgentsFailedError,
  AttemptTimeoutError,
  type BreakerState,
  type CallContext,
  createSupervisor,
  type RoutingDecision,
  type RoutingPolicyName,
  type Supervisor,
  SupervisorStoppedError,
  TaskAbortedError,
  type Transition,
} from '../../src/index.js';

const START = 1_700_000_000_000;

/** What an agent does on one call; its script is cycled call after call. */
export type Behaviour =
  /** Returns a value synchronously. */
  | 'ok'
  /** Returns a thenable that is not a Promise, resolving at once. */
  | 'okThenable'
  /** Resolves when the scheduler releases it. */
  | 'okAsync'
  /** Rejects with an Error when released. */
  | 'fail'
  /** Throws an Error synchronously. */
  | 'throw'
  /** Throws a non-Error (a string, a number, undefined, null, an object) synchronously. */
  | 'throwValue'
  /** Rejects with a non-Error when released. */
  | 'rejectValue'
  /** Rejects, when released, with an error `isFailure` may say is not the agent's fault. */
  | 'benign'
  /** Never settles by itself; rejects with the signal's reason once the attempt is aborted. */
  | 'hang';

export interface AgentGen {
  priority: number | undefined;
  weight: number | undefined;
  /** Overrides the pool's failure threshold for this agent. */
  failureThreshold: number | undefined;
  script: Behaviour[];
  /** Where the agent is put before the first task. */
  initial: 'closed' | 'open' | 'half_open' | 'isolated';
}

export interface ScenarioConfig {
  policy: RoutingPolicyName;
  maxAttempts: number;
  attemptTimeoutMs: number | undefined;
  panicThreshold: number | undefined;
  maxEjectionPercent: number | undefined;
  /** `all`: no hook; `benign`: benign errors are not failures; `throwing`: the hook throws on them. */
  isFailure: 'all' | 'benign' | 'throwing';
  failureThreshold: number;
  halfOpenMaxCalls: number;
  halfOpenTimeoutMs: number;
  backoffMs: number;
  /** Subscribe to `decisions$` (which also turns the supervisor's fast path off). */
  observeDecisions: boolean;
  /** Seeds `Math.random` for the run (least-outstanding draws with it), so runs replay and shrink. */
  randomSeed: number;
}

export interface RouteCommand {
  kind: 'route';
  /** Undefined: `route(task)`, the path a plain call takes. */
  options:
    | {
        /** Indices into the pool (modulo its size): the task's own candidate list, in this order. */
        agents: number[] | undefined;
        timeoutMs: number | undefined;
        signal: boolean;
      }
    | undefined;
}

export type Command =
  | RouteCommand
  /** The scheduler releases one pending agent call of its choosing. */
  | { kind: 'settle' }
  /** Time passes; every timer due fires at its own time. */
  | { kind: 'advance'; ms: number }
  /** The caller aborts one of the tasks routed with a signal. */
  | { kind: 'abort'; which: number }
  | { kind: 'isolate'; agent: number }
  | { kind: 'reset'; agent: number };

/** The property a violation breaks; tests can ignore some (to show another one failing). */
export type PropertyName =
  | 'never an open or isolated agent'
  | 'at most maxAttempts'
  | 'no retry while an untried healthy agent exists'
  | 'settles exactly once'
  | 'gives up only when no candidate is left'
  | 'AllAgentsFailedError lists the attempts'
  | 'counters add up'
  | 'decisions match the attempts'
  | 'nothing contained';

export class RoutingViolation extends Error {
  override name = 'RoutingViolation';
  constructor(
    readonly property: PropertyName,
    detail: string,
    trace: readonly string[],
  ) {
    super(`${property}: ${detail}\n  trace: ${trace.slice(-60).join(' | ')}`);
  }
}

type Outcome = 'pending' | 'success' | 'failed' | 'notCounted' | 'timeout' | 'abandoned';

interface AttemptObs {
  task: TaskObs;
  agentId: string;
  index: number;
  state: BreakerState;
  behaviour: Behaviour;
  outcome: Outcome;
  /**
   * Transitions seen and timers fired when the supervisor logged this attempt's failure: the
   * moment right before it picks the next agent or gives up.
   */
  failureMark: { transitions: number; timers: number } | undefined;
  value?: unknown;
  error?: unknown;
}

interface TaskObs {
  n: number;
  /** The candidates, unique, in the order given (the whole pool for a pool task). */
  candidates: string[];
  taskId: string | undefined;
  attempts: AttemptObs[];
  settlements: number;
  result: { value: unknown } | { error: unknown } | undefined;
  controller: AbortController | undefined;
  abortedWhilePending: boolean;
  /** Some candidate could take the task when it was routed. */
  eligibleAtRoute: boolean;
  pendingAtStop: boolean;
}

export interface Task {
  n: number;
}

/** What the generated scenarios reached, so a generator that stops reaching a corner shows. */
export interface Coverage {
  runs: number;
  tasks: number;
  attempts: number;
  attemptsByState: Record<BreakerState, number>;
  panicAttempts: number;
  retriesOfTriedAgent: number;
  outcomes: Record<string, number>;
  allAttemptsUsed: number;
  rejectedAtOnce: number;
  /** Tasks that gave up with attempts left, checked to have had no candidate. */
  gaveUpEarly: number;
  /** The most tasks in flight at once in one scenario. */
  maxConcurrent: number;
  largestPool: number;
}

export function emptyCoverage(): Coverage {
  return {
    runs: 0,
    tasks: 0,
    attempts: 0,
    attemptsByState: { closed: 0, open: 0, half_open: 0, isolated: 0 },
    panicAttempts: 0,
    retriesOfTriedAgent: 0,
    outcomes: {},
    allAttemptsUsed: 0,
    rejectedAtOnce: 0,
    gaveUpEarly: 0,
    maxConcurrent: 0,
    largestPool: 0,
  };
}

const NON_ERRORS: readonly unknown[] = ['boom', 42, undefined, null, { reason: 'a plain object' }, ''];

const isBenign = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { benign?: unknown }).benign === true;

/** Lets every promise continuation run (one macrotask turn drains the microtask queue). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface ScenarioOptions {
  /** Properties whose violations are not reported (to show that another one catches a bug). */
  ignore?: ReadonlySet<PropertyName>;
  coverage?: Coverage;
  /** Breaks the supervisor on purpose, to show that a property catches it. */
  sabotage?: (supervisor: Supervisor<Task, unknown>) => void;
}

export async function runRoutingScenario(
  config: ScenarioConfig,
  pool: readonly AgentGen[],
  commands: readonly Command[],
  s: fc.Scheduler,
  options: ScenarioOptions = {},
): Promise<void> {
  const realRandom = Math.random;
  Math.random = seededRandom(config.randomSeed);
  try {
    await run(config, pool, commands, s, options);
  } finally {
    Math.random = realRandom;
  }
}

async function run(
  config: ScenarioConfig,
  pool: readonly AgentGen[],
  commands: readonly Command[],
  s: fc.Scheduler,
  options: ScenarioOptions,
): Promise<void> {
  const coverage = options.coverage;
  const ignore = options.ignore;
  const clock = new SimulatedClock();
  clock.set(START);
  // The supervisor's clock: the simulated one, counting the timers that fire (a half-open window
  // that restarts changes no state, so only a timer count says whether the pool may have moved).
  let timersFired = 0;
  const countingClock = {
    now: () => clock.now(),
    setTimeout: (fn: (...args: unknown[]) => void, ms: number) =>
      clock.setTimeout(() => {
        timersFired++;
        fn();
      }, ms),
    clearTimeout: (id: unknown) => clock.clearTimeout(id as number),
  };
  const ids = pool.map((_, i) => `a${i}`);
  const size = ids.length;
  if (coverage && size > coverage.largestPool) coverage.largestPool = size;
  const trace: string[] = [];
  const violations: RoutingViolation[] = [];
  const violate = (property: PropertyName, detail: string) => {
    if (ignore?.has(property)) return;
    violations.push(new RoutingViolation(property, detail, trace));
  };
  const tasks: TaskObs[] = [];
  const calls = new Map<string, number>();
  const contained: string[] = [];
  const decisions: RoutingDecision[] = [];
  const transitions: Transition[] = [];

  const counts = (error: unknown) => config.isFailure !== 'benign' || !isBenign(error);
  const routing = {
    policy: config.policy,
    maxAttempts: config.maxAttempts,
    ...(config.attemptTimeoutMs === undefined ? {} : { attemptTimeoutMs: config.attemptTimeoutMs }),
    ...(config.panicThreshold === undefined ? {} : { panicThreshold: config.panicThreshold }),
    ...(config.maxEjectionPercent === undefined ? {} : { maxEjectionPercent: config.maxEjectionPercent }),
    ...(config.isFailure === 'benign' ? { isFailure: (error: unknown) => !isBenign(error) } : {}),
    ...(config.isFailure === 'throwing'
      ? {
          isFailure: (error: unknown) => {
            if (isBenign(error)) throw new Error('isFailure threw');
            return true;
          },
        }
      : {}),
  };

  // Assigned before any agent runs.
  let supervisor: Supervisor<Task, unknown>;
  const state = (id: string) => (supervisor.getAgent(id) as { state: BreakerState }).state;
  const breakerOf = (id: string) => (supervisor.getAgent(id) as { breaker: unknown }).breaker as Breaker;
  /** The pool is below its panic threshold now (every agent has a run function; none drains). */
  const poolInPanic = () => {
    if (config.panicThreshold === undefined) return false;
    let routable = 0;
    for (const id of ids) {
      const st = state(id);
      if (st === 'closed' || st === 'half_open') routable++;
    }
    return routable * 100 < config.panicThreshold * size;
  };
  /** Whether `id` could take an attempt now: closed, half-open with a permit, or open in panic. */
  const eligible = (id: string, panic: boolean) => {
    const st = state(id);
    if (st === 'closed') return true;
    if (st === 'open') return panic;
    if (st === 'isolated') return false;
    const context = breakerOf(id).context;
    return context.probeLease === 'granted' && context.probesAdmitted < context.policy.halfOpenMaxCalls;
  };

  const makeRun = (id: string, script: readonly Behaviour[]) => (task: Task, ctx: CallContext) => {
    const t = tasks[task.n] as TaskObs;
    const st = state(id);
    const call = calls.get(id) ?? 0;
    calls.set(id, call + 1);
    const behaviour = script[call % script.length] as Behaviour;
    const attempt: AttemptObs = {
      task: t,
      agentId: id,
      index: t.attempts.length + 1,
      state: st,
      behaviour,
      outcome: 'pending',
      failureMark: undefined,
    };
    const panic = poolInPanic();
    trace.push(`@${clock.now() - START} t${t.n}#${attempt.index}→${id}(${st}${panic ? ',panic' : ''}):${behaviour}`);
    if (coverage) {
      coverage.attempts++;
      coverage.attemptsByState[st]++;
      if (panic) coverage.panicAttempts++;
    }

    // Property 1: never an open or isolated agent, unless the pool is in panic (open only).
    if (st === 'isolated') violate('never an open or isolated agent', `task ${t.n} sent to isolated ${id}`);
    if (st === 'open' && !panic)
      violate('never an open or isolated agent', `task ${t.n} sent to open ${id} while the pool is not in panic`);
    // Property 2: at most maxAttempts, numbered in order, none after the task settled.
    if (attempt.index > config.maxAttempts)
      violate('at most maxAttempts', `task ${t.n}: attempt ${attempt.index} > maxAttempts ${config.maxAttempts}`);
    if (ctx.attempt !== attempt.index || ctx.agentId !== id)
      violate(
        'at most maxAttempts',
        `task ${t.n}: ctx says attempt ${ctx.attempt} on ${ctx.agentId}, observed ${attempt.index} on ${id}`,
      );
    if (t.settlements > 0) violate('settles exactly once', `task ${t.n}: an attempt on ${id} after it settled`);
    if (!t.candidates.includes(id))
      violate('never an open or isolated agent', `task ${t.n} sent to ${id}, not a candidate`);
    if (t.taskId === undefined) t.taskId = ctx.taskId;
    else if (t.taskId !== ctx.taskId)
      violate('settles exactly once', `task ${t.n} is ${t.taskId}, ctx says ${ctx.taskId}`);
    // Property 3: a tried agent again only when no untried candidate could take the attempt.
    const tried = new Set(t.attempts.map((a) => a.agentId));
    if (tried.has(id)) {
      if (coverage) coverage.retriesOfTriedAgent++;
      const untried = t.candidates.filter((c) => !tried.has(c) && eligible(c, panic));
      if (untried.length > 0)
        violate(
          'no retry while an untried healthy agent exists',
          `task ${t.n} retried ${id} while untried ${untried.map((c) => `${c}(${state(c)})`).join(', ')} could take it`,
        );
    }
    if (config.observeDecisions) {
      const d = decisions.at(-1);
      if (
        d === undefined ||
        d.chosen !== id ||
        d.attempt !== attempt.index ||
        d.taskId !== ctx.taskId ||
        d.panic !== panic
      )
        violate(
          'decisions match the attempts',
          `task ${t.n} attempt ${attempt.index} on ${id} (panic ${panic}), last decision ${JSON.stringify(d)}`,
        );
    }
    t.attempts.push(attempt);

    const value = { agentId: id, task: t.n, attempt: attempt.index };
    const nonError = NON_ERRORS[call % NON_ERRORS.length];
    const settleAs = (ok: boolean, result: unknown) => {
      if (attempt.outcome !== 'pending') return; // aborted first: the supervisor already moved on
      if (ok) {
        attempt.outcome = 'success';
        attempt.value = result;
      } else {
        attempt.outcome = counts(result) ? 'failed' : 'notCounted';
        attempt.error = result;
      }
    };
    const watchAbort = () => {
      const signal = ctx.signal;
      signal.addEventListener(
        'abort',
        () => {
          if (attempt.outcome !== 'pending') return;
          attempt.outcome = signal.reason instanceof AttemptTimeoutError ? 'timeout' : 'abandoned';
        },
        { once: true },
      );
      return signal;
    };
    const later = (ok: boolean, result: unknown) => {
      watchAbort();
      return s.schedule(Promise.resolve(), `t${t.n}#${attempt.index} ${id} ${behaviour}`).then(() => {
        settleAs(ok, result);
        if (ok) return result;
        throw result;
      });
    };
    switch (behaviour) {
      case 'ok':
        settleAs(true, value);
        return value;
      case 'okThenable':
        settleAs(true, value);
        // biome-ignore lint/suspicious/noThenProperty: a thenable that is not a Promise is the behaviour
        return { then: (resolve: (v: unknown) => void) => resolve(value) };
      case 'throw': {
        const error = new Error(`${id} threw on task ${t.n}`);
        settleAs(false, error);
        throw error;
      }
      case 'throwValue':
        settleAs(false, nonError);
        throw nonError;
      case 'okAsync':
        return later(true, value);
      case 'fail':
        return later(false, new Error(`${id} failed task ${t.n}`));
      case 'rejectValue':
        return later(false, nonError);
      case 'benign':
        return later(false, { benign: true, message: `${id}: not the agent's fault` });
      case 'hang': {
        const signal = watchAbort();
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        );
      }
    }
  };

  supervisor = createSupervisor<Task, unknown>({
    clock: countingClock,
    agents: pool.map((agent, i) => ({
      id: ids[i] as string,
      run: makeRun(ids[i] as string, agent.script),
      ...(agent.priority === undefined ? {} : { priority: agent.priority }),
      ...(agent.weight === undefined ? {} : { weight: agent.weight }),
      ...(agent.failureThreshold === undefined ? {} : { breaker: { failureThreshold: agent.failureThreshold } }),
    })),
    breaker: {
      failureThreshold: config.failureThreshold,
      halfOpenMaxCalls: config.halfOpenMaxCalls,
      halfOpenTimeoutMs: config.halfOpenTimeoutMs,
      backoff: { initialMs: config.backoffMs, multiplier: 1.5, maxMs: config.backoffMs * 4 },
    },
    routing,
    onError: (error, where) => contained.push(`${where}: ${String(error)}`),
  });
  options.sabotage?.(supervisor);

  /** Moves the clock to `target`, firing each timer at its own time with continuations between. */
  const timeouts = (clock as unknown as { timeouts: Map<number, { start: number; timeout: number }> }).timeouts;
  const advanceTo = async (target: number) => {
    for (let i = 0; i < 10_000; i++) {
      let next = Number.POSITIVE_INFINITY;
      for (const t of timeouts.values()) next = Math.min(next, t.start + t.timeout);
      if (next > target) {
        clock.set(target);
        await flush();
        return;
      }
      clock.set(Math.max(next, clock.now()));
      await flush();
    }
    throw new Error('timers keep re-arming at the same instant');
  };

  // ─── the pool's starting states ─────────────────────────────────────────────────────────────
  const trip = async (id: string) => {
    const breaker = breakerOf(id);
    for (let i = 0; i < 6 && breaker.state === 'closed'; i++) {
      await breaker
        .execute(() => {
          throw new Error('tripped beforehand');
        })
        .catch(() => {});
    }
  };
  const wanted = (state: AgentGen['initial']) => ids.filter((_, i) => pool[i]?.initial === state);
  if (wanted('half_open').length > 0) {
    for (const id of wanted('half_open')) await trip(id);
    await advanceTo(clock.now() + config.backoffMs);
  }
  for (const id of wanted('open')) await trip(id);
  for (const id of wanted('isolated')) supervisor.isolate(id);
  trace.push(`pool: ${ids.map((id) => `${id}=${state(id)}`).join(' ')}`);
  const baseline = new Map(supervisor.getStats().agents.map((a) => [a.agentId, a]));
  const transitionSubscription = supervisor.transitions$.subscribe((t) => {
    transitions.push(t);
    trace.push(`${t.agentId} ${t.from}→${t.to}`);
  });
  let failureRecords = 0;
  const failureSubscription = supervisor.failures$.subscribe((record) => {
    failureRecords++;
    const attempt = tasks.find((t) => t.taskId === record.taskId)?.attempts[record.attempt - 1];
    if (attempt === undefined || attempt.agentId !== record.agentId || attempt.outcome !== record.kind) {
      violate('counters add up', `a failure record that no attempt matches: ${JSON.stringify(record)}`);
      return;
    }
    attempt.failureMark = { transitions: transitions.length, timers: timersFired };
  });
  const subscription = config.observeDecisions
    ? supervisor.decisions$.subscribe((d) => {
        decisions.push(d);
      })
    : undefined;

  // ─── the commands ───────────────────────────────────────────────────────────────────────────
  const route = (command: RouteCommand) => {
    const n = tasks.length;
    const given = command.options?.agents?.map((i) => ids[i % size] as string);
    const candidates = given ? [...new Set(given)] : ids.slice();
    const controller = command.options?.signal ? new AbortController() : undefined;
    const panic = poolInPanic();
    const t: TaskObs = {
      n,
      candidates,
      taskId: command.options ? `t${n}` : undefined,
      attempts: [],
      settlements: 0,
      result: undefined,
      controller,
      abortedWhilePending: false,
      eligibleAtRoute: candidates.some((c) => eligible(c, panic)),
      pendingAtStop: false,
    };
    tasks.push(t);
    if (coverage) coverage.tasks++;
    trace.push(
      `route t${n}${given ? ` [${candidates.join(',')}]` : ''}${command.options?.timeoutMs ? ` timeout ${command.options.timeoutMs}` : ''}${controller ? ' +signal' : ''}`,
    );
    const opts = command.options;
    const promise = opts
      ? supervisor.route(
          { n },
          {
            taskId: `t${n}`,
            ...(given ? { agents: candidates } : {}),
            ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
            ...(controller ? { signal: controller.signal } : {}),
          },
        )
      : supervisor.route({ n });
    promise.then(
      (value) => {
        t.settlements++;
        t.result = { value };
        trace.push(`t${n} resolved`);
      },
      (error: unknown) => {
        t.settlements++;
        t.result = { error };
        if (error instanceof AllAgentsFailedError) gaveUp(t);
        trace.push(`t${n} rejected: ${error instanceof Error ? error.name : String(error)}`);
      },
    );
  };

  /**
   * A task gave up with attempts left: no candidate, tried or not, could take another attempt.
   * The router gives up right after it logs the last attempt's failure (`failures$`, synchronous),
   * so this is checked when the rejection arrives only if no state changed and no timer fired since
   * that record: the pool is then exactly as the router saw it (other tasks may have taken probe
   * permits since, which can only hide a violation, never invent one).
   */
  const gaveUp = (t: TaskObs) => {
    const last = t.attempts.at(-1);
    if (last === undefined || t.attempts.length >= config.maxAttempts) return;
    const mark = last.failureMark;
    if (mark === undefined || mark.transitions !== transitions.length || mark.timers !== timersFired) return;
    if (coverage) coverage.gaveUpEarly++;
    const panic = poolInPanic();
    const left = t.candidates.filter((c) => eligible(c, panic));
    if (left.length > 0)
      violate(
        'gives up only when no candidate is left',
        `task ${t.n} gave up after ${t.attempts.length} of ${config.maxAttempts} attempts while ${left.map((c) => `${c}(${state(c)})`).join(', ')} could take it`,
      );
  };

  for (const command of commands) {
    if (coverage) {
      const running = tasks.filter((t) => t.settlements === 0).length;
      if (running > coverage.maxConcurrent) coverage.maxConcurrent = running;
    }
    switch (command.kind) {
      case 'route':
        route(command);
        break;
      case 'settle':
        if (s.count() > 0) await s.waitOne();
        break;
      case 'advance':
        trace.push(`+${command.ms}ms`);
        await advanceTo(clock.now() + command.ms);
        break;
      case 'abort': {
        const signalled = tasks.filter((t) => t.controller !== undefined);
        const t = signalled[command.which % Math.max(1, signalled.length)];
        if (t === undefined) break;
        trace.push(`abort t${t.n}`);
        if (t.settlements === 0) t.abortedWhilePending = true;
        t.controller?.abort(new Error('the caller gave up'));
        break;
      }
      case 'isolate':
        trace.push(`isolate a${command.agent % size}`);
        supervisor.isolate(ids[command.agent % size] as string);
        break;
      case 'reset':
        trace.push(`reset a${command.agent % size}`);
        supervisor.reset(ids[command.agent % size] as string);
        break;
    }
    await flush();
  }

  // ─── drain: release every pending call, let deadlines pass, then stop ──────────────────────
  trace.push('drain');
  const longest = Math.max(
    config.attemptTimeoutMs ?? 0,
    ...commands.map((c) => (c.kind === 'route' ? (c.options?.timeoutMs ?? 0) : 0)),
  );
  for (let round = 0; round < 50; round++) {
    while (s.count() > 0) {
      await s.waitOne();
      await flush();
    }
    if (tasks.every((t) => t.settlements > 0) || longest === 0) break;
    await advanceTo(clock.now() + longest + 1);
  }
  for (const t of tasks) t.pendingAtStop = t.settlements === 0;
  trace.push('stop');
  await supervisor.stop({ drainMs: 0 });
  await flush();
  subscription?.unsubscribe();
  transitionSubscription.unsubscribe();
  failureSubscription.unsubscribe();
  while (s.count() > 0) await s.waitOne(); // nothing should be left; release it anyway

  // ─── what every task must have come to ──────────────────────────────────────────────────────
  const expected = { succeeded: 0, failed: 0, rejected: 0, aborted: 0, routingEvents: 0, failovers: 0 };
  const perAgent = new Map(ids.map((id) => [id, { successful: 0, failed: 0, timeout: 0 }]));
  const kindOf = (a: AttemptObs) => (a.outcome === 'timeout' ? 'timeout' : 'failed');
  for (const t of tasks) {
    const attempts = t.attempts;
    const last = attempts.at(-1);
    expected.failovers += Math.max(0, attempts.length - 1);
    for (const a of attempts) {
      if (coverage) coverage.outcomes[a.outcome] = (coverage.outcomes[a.outcome] ?? 0) + 1;
      const counters = perAgent.get(a.agentId) as { successful: number; failed: number; timeout: number };
      if (a.outcome === 'success') counters.successful++;
      else if (a.outcome === 'failed') counters.failed++;
      else if (a.outcome === 'timeout') counters.timeout++;
      if (a.outcome !== 'abandoned' && a.outcome !== 'pending') expected.routingEvents++;
    }
    if (coverage && attempts.length === config.maxAttempts) coverage.allAttemptsUsed++;
    if (t.settlements !== 1) {
      violate('settles exactly once', `task ${t.n} settled ${t.settlements} times`);
      continue;
    }
    const result = t.result as { value: unknown } | { error: unknown };
    const before = last === undefined ? attempts : attempts.slice(0, -1);
    const failedBefore = before.every((a) => a.outcome === 'failed' || a.outcome === 'timeout');
    if ('value' in result) {
      expected.succeeded++;
      if (last?.outcome !== 'success' || last.value !== result.value || !failedBefore)
        violate('settles exactly once', `task ${t.n} resolved with a value its last attempt did not return`);
      continue;
    }
    const error = result.error;
    if (error instanceof TaskAbortedError) {
      expected.aborted++;
      const lastOk =
        last === undefined || last.outcome === 'abandoned' || last.outcome === 'failed' || last.outcome === 'timeout';
      if (!t.abortedWhilePending || !lastOk || !failedBefore)
        violate(
          'settles exactly once',
          `task ${t.n} rejected with TaskAbortedError though its caller never aborted it while pending`,
        );
    } else if (error instanceof SupervisorStoppedError) {
      expected.rejected++;
      if (!t.pendingAtStop || (last !== undefined && last.outcome !== 'abandoned') || !failedBefore)
        violate(
          'settles exactly once',
          `task ${t.n} rejected with SupervisorStoppedError though it was not running at stop`,
        );
    } else if (error instanceof AllAgentsFailedError) {
      const ran = error.attempts.filter((a) => a.kind !== 'rejected');
      if (ran.length > 0) expected.failed++;
      else expected.rejected++;
      if (attempts.length === 0 && coverage) coverage.rejectedAtOnce++;
      const listed = error.attempts.map((a) => `${a.agentId}:${a.kind}`);
      const observed = attempts.map((a) => `${a.agentId}:${kindOf(a)}`);
      const tail = error.attempts.slice(ran.length);
      const rejectedIds = tail.map((a) => a.agentId);
      if (
        error.taskId !== (t.taskId ?? error.taskId) ||
        listed.slice(0, ran.length).join() !== observed.join() ||
        !attempts.every((a) => a.outcome === 'failed' || a.outcome === 'timeout') ||
        tail.some((a) => a.kind !== 'rejected') ||
        ran.length + tail.length > config.maxAttempts ||
        new Set(rejectedIds).size !== rejectedIds.length ||
        rejectedIds.some((id) => !t.candidates.includes(id) || attempts.some((a) => a.agentId === id))
      ) {
        violate(
          'AllAgentsFailedError lists the attempts',
          `task ${t.n}: error lists [${listed.join(', ')}], observed [${observed.join(', ')}] (outcomes ${attempts.map((a) => a.outcome).join(', ')})`,
        );
      }
      if (attempts.length === 0 && t.eligibleAtRoute)
        violate(
          'gives up only when no candidate is left',
          `task ${t.n} rejected with no attempt though a candidate could take it`,
        );
    } else if (last?.outcome === 'notCounted' && error === last.error && failedBefore) {
      expected.failed++;
    } else {
      violate('settles exactly once', `task ${t.n} rejected with an unexpected ${String(error)}`);
    }
  }

  // ─── counters ───────────────────────────────────────────────────────────────────────────────
  const stats = supervisor.getStats();
  const got = stats.tasks;
  if (
    got.succeeded !== expected.succeeded ||
    got.failed !== expected.failed ||
    got.rejected !== expected.rejected ||
    got.succeeded + got.failed + got.rejected + expected.aborted !== tasks.length
  ) {
    violate(
      'counters add up',
      `tasks ${JSON.stringify(got)} but observed ${JSON.stringify({ ...expected, routingEvents: undefined, failovers: undefined })} of ${tasks.length}`,
    );
  }
  let failuresObserved = 0;
  for (const counters of perAgent.values()) failuresObserved += counters.failed + counters.timeout;
  if (failureRecords !== failuresObserved)
    violate('counters add up', `${failureRecords} failure records for ${failuresObserved} failed attempts`);
  if (stats.routingEvents !== expected.routingEvents || stats.failovers !== expected.failovers)
    violate(
      'counters add up',
      `routingEvents ${stats.routingEvents} / failovers ${stats.failovers}, observed ${expected.routingEvents} / ${expected.failovers}`,
    );
  for (const agent of stats.agents) {
    const base = baseline.get(agent.agentId);
    const want = perAgent.get(agent.agentId);
    if (base === undefined || want === undefined) continue;
    const seen = {
      successful: agent.successful - base.successful,
      failed: agent.failed - base.failed,
      timeout: agent.timeout - base.timeout,
    };
    if (
      seen.successful !== want.successful ||
      seen.failed !== want.failed ||
      seen.timeout !== want.timeout ||
      agent.inFlight !== 0
    )
      violate(
        'counters add up',
        `${agent.agentId}: stats ${JSON.stringify({ ...seen, inFlight: agent.inFlight })}, observed ${JSON.stringify(want)}`,
      );
  }
  if (config.observeDecisions) {
    const chosen = decisions.filter((d) => d.chosen !== null).length;
    const attemptsSeen = tasks.reduce((sum, t) => sum + t.attempts.length, 0);
    const none = decisions.filter((d) => d.chosen === null).map((d) => d.taskId);
    const noAttempt = tasks
      .filter(
        (t) =>
          t.result && 'error' in t.result && t.result.error instanceof AllAgentsFailedError && t.attempts.length === 0,
      )
      .map((t) => (t.result as { error: AllAgentsFailedError }).error.taskId);
    if (chosen !== attemptsSeen || none.join() !== noAttempt.join())
      violate(
        'decisions match the attempts',
        `${chosen} decisions chose an agent for ${attemptsSeen} attempts; no agent for [${none.join()}], tasks with no attempt [${noAttempt.join()}]`,
      );
  }
  const unexpected = contained.filter((c) => !(config.isFailure === 'throwing' && c.startsWith('routing.isFailure')));
  if (unexpected.length > 0) violate('nothing contained', unexpected.join('; '));
  if (coverage) coverage.runs++;
  if (violations.length > 0) throw violations[0];
}
