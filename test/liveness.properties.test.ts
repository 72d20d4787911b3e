/**
 * Liveness of attempts, as properties over generated pools on a `SimulatedClock`:
 *
 * 1. a half-open agent with a free probe permit, healthy again, gets a task within a bounded number
 *    of routes (≤ agents × 3 + 3), whatever the policy and whatever the other agents do;
 * 2. every outcome of an attempt (success, failure, an error `isFailure` spares, a caller's abort, a
 *    deadline, a synchronous throw or return) frees what it holds: nothing stays in flight, every
 *    agent can be removed, and no half-open agent is left with a probe permit out;
 * 3. a drain of D ms lets every task in flight at `stop({ drainMs: D })` fail over: a first attempt
 *    failing before D and a second succeeding before D resolve the task;
 * 4. a route made from inside a subscriber (`transitions$`, `health$`, `states$`) behaves like the
 *    same route made once the change is over: same agents called, same outcome, same states.
 *
 * `least-outstanding` draws from `Math.random`; each run feeds it a sequence started from a value
 * fast-check generates, so a counterexample replays. For the starvation bound (1) that sequence is
 * equidistributed (golden-ratio steps): with truly random draws, two random choices among six equally
 * loaded agents (the first draw wins a tie) miss a given one for 21 routes in about 2% of runs, by
 * chance, whatever the router does; the property is about the router, not about luck. `LIVENESS_PROPERTY_RUNS` sets the runs per
 * property.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  type AgentSpec,
  AllAgentsFailedError,
  type BreakerState,
  type CallContext,
  createSupervisor,
  type RouteOptions,
  type RoutingPolicyName,
  type Supervisor,
} from '../src/index.js';
import {
  advance,
  countsAgainstAgent,
  type Deferred,
  deferred,
  describeSettlement,
  flush,
  goldenSequence,
  NotTheAgentsFault,
  type Settlement,
  seededRandom,
  settleWithin,
} from './support/livenessHarness.js';

const RUNS = Number(process.env.LIVENESS_PROPERTY_RUNS ?? 100);
const POLICIES: readonly RoutingPolicyName[] = ['priority', 'round-robin', 'least-outstanding'];
const policyArb = fc.constantFrom(...POLICIES);

/** Runs `body` with `Math.random` replaced by `random` (least-outstanding's draws). */
async function withRandom<T>(random: () => number, body: () => Promise<T>): Promise<T> {
  const spy = vi.spyOn(Math, 'random').mockImplementation(random);
  try {
    return await body();
  } finally {
    spy.mockRestore();
  }
}

/** A settlement as comparable data: the value, or the error's class and its attempts. */
function outcomeOf(settlement: Settlement): unknown {
  if (settlement.status !== 'rejected') return settlement;
  const error = settlement.error;
  if (error instanceof AllAgentsFailedError) {
    return { rejected: error.name, attempts: error.attempts.map((a) => `${a.agentId} ${a.kind}: ${a.reason}`) };
  }
  return { rejected: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}

const statesOf = (supervisor: Supervisor) =>
  supervisor.agentIds().map((id) => `${id}:${supervisor.getAgent(id)?.state}`);

// ─── 1. a healthy half-open agent is not starved ──────────────────────────────────────────────

/** What an agent other than the target does. */
type Role = 'closedHealthy' | 'closedFaulty' | 'closedFlaky' | 'open' | 'isolated' | 'halfOpen';

interface StarvationCase {
  policy: RoutingPolicyName;
  roles: Role[];
  target: number;
  /** Outcomes a flaky agent cycles through (true: success). */
  flaky: boolean[];
  /** Faulty agents throw synchronously rather than reject. */
  syncFaults: boolean;
  /** Healthy closed agents keep their calls pending (they carry load for least-outstanding). */
  hold: boolean;
  /** Tasks routed before the target turns half-open (they move round-robin's cursor and build load). */
  warmups: number;
  halfOpenMaxCalls: number;
  /** Where least-outstanding's equidistributed draws start. */
  seed: number;
}

const roleArb = fc.constantFrom<Role>('closedHealthy', 'closedFaulty', 'closedFlaky', 'open', 'isolated', 'halfOpen');

const starvationArb: fc.Arbitrary<StarvationCase> = fc.integer({ min: 2, max: 6 }).chain((n) =>
  fc.record({
    policy: policyArb,
    roles: fc.array(roleArb, { minLength: n, maxLength: n }),
    target: fc.nat(n - 1),
    flaky: fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
    syncFaults: fc.boolean(),
    hold: fc.boolean(),
    warmups: fc.nat(2 * n),
    halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
    seed: fc.nat(),
  }),
);

/**
 * Under `priority` an agent behind a healthy one is never needed, so it gets no task by design: the
 * agents ahead of the target either fail every call (the task fails over to it) or take none.
 */
function normalizeRoles(c: StarvationCase): Role[] {
  return c.roles.map((role, i) => {
    if (c.policy !== 'priority' || i >= c.target) return role;
    if (role === 'closedHealthy' || role === 'closedFlaky') return 'closedFaulty';
    if (role === 'halfOpen') return 'open';
    return role;
  });
}

async function starvationRun(c: StarvationCase): Promise<string | undefined> {
  const roles = normalizeRoles(c);
  const n = roles.length;
  const clock = new SimulatedClock();
  const calls = new Array<number>(n).fill(0);
  const failing = new Array<boolean>(n).fill(false);
  const held: Array<Deferred<string>> = [];
  const ids = roles.map((_, i) => `a${i}`);
  const specs: AgentSpec[] = roles.map((role, i) => {
    const id = ids[i] as string;
    const isTarget = i === c.target;
    const run = (task: unknown): unknown => {
      const call = calls[i] ?? 0;
      calls[i] = call + 1;
      const fault = () => {
        if (c.syncFaults) throw new Error(`${id} down`);
        return Promise.reject(new Error(`${id} down`));
      };
      if (failing[i]) return fault();
      if (isTarget || role === 'halfOpen' || role === 'open' || role === 'isolated') {
        return Promise.resolve(`${id}:${String(task)}`);
      }
      if (role === 'closedFaulty') return fault();
      if (role === 'closedFlaky' && !c.flaky[call % c.flaky.length]) return fault();
      if (c.hold) {
        const pending = deferred<string>();
        held.push(pending);
        return pending.promise;
      }
      return Promise.resolve(`${id}:${String(task)}`);
    };
    const breaker = isTarget
      ? { failureThreshold: 1, halfOpenMaxCalls: c.halfOpenMaxCalls, backoff: { initialMs: 1000 } }
      : role === 'open'
        ? { failureThreshold: 1, backoff: { initialMs: 1_000_000, maxMs: 1_000_000 } }
        : role === 'halfOpen'
          ? { failureThreshold: 1, halfOpenMaxCalls: c.halfOpenMaxCalls, backoff: { initialMs: 1000 } }
          : { failureThreshold: 10_000 };
    return { id, run, breaker };
  });
  const supervisor = createSupervisor({ clock, agents: specs, routing: { policy: c.policy, maxAttempts: n } });
  const tasks: Promise<unknown>[] = [];
  const route = (task: unknown, options?: RouteOptions) => {
    const promise = options === undefined ? supervisor.route(task) : supervisor.route(task, options);
    promise.catch(() => undefined);
    tasks.push(promise);
    return promise;
  };
  try {
    for (let i = 0; i < n; i++) {
      const role = roles[i];
      const id = ids[i] as string;
      if (i === c.target || role === 'open' || role === 'halfOpen') {
        failing[i] = true;
        await settleWithin(route('trip', { agents: [id] }));
        failing[i] = false;
        if (supervisor.getAgent(id)?.state !== 'open') throw new Error(`${id} did not trip`);
      } else if (role === 'isolated') supervisor.isolate(id);
    }
    for (let w = 0; w < c.warmups; w++) {
      route(`warmup-${w}`);
      await flush(2);
    }
    clock.increment(1000);
    const target = ids[c.target] as string;
    if (supervisor.getAgent(target)?.state !== 'half_open') throw new Error(`${target} is not half-open`);
    const bound = n * 3 + 3;
    const before = calls[c.target] ?? 0;
    for (let r = 1; r <= bound; r++) {
      route(`task-${r}`);
      await flush(3);
      if ((calls[c.target] ?? 0) > before) return undefined;
    }
    return `${c.policy}: the half-open ${target} got no task in ${bound} routes (roles ${roles.join(', ')})`;
  } finally {
    for (const pending of held) pending.resolve('released');
    await flush(2);
    await supervisor.stop({ drainMs: 0 });
  }
}

// ─── 2. every outcome frees what it holds ─────────────────────────────────────────────────────

type Outcome = 'ok' | 'okSync' | 'fail' | 'throwSync' | 'notCounted' | 'notCountedSync' | 'slow' | 'hang';
type Via = 'plain' | 'options' | 'signal' | 'timeout';
type Command =
  | { kind: 'route'; script: Outcome[]; via: Via; abortAfter: number | null }
  | { kind: 'advance'; ms: number };

interface FreeingCase {
  policy: RoutingPolicyName;
  agents: number;
  failureThreshold: number;
  halfOpenMaxCalls: number;
  maxAttempts: number;
  commands: Command[];
}

const outcomeArb = fc.constantFrom<Outcome>(
  'ok',
  'okSync',
  'fail',
  'throwSync',
  'notCounted',
  'notCountedSync',
  'slow',
  'hang',
);

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('route' as const),
      script: fc.array(outcomeArb, { minLength: 1, maxLength: 3 }),
      via: fc.constantFrom<Via>('plain', 'options', 'signal', 'timeout'),
      abortAfter: fc.option(fc.integer({ min: 0, max: 60 }), { nil: null }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 120 }) }) },
);

const freeingArb: fc.Arbitrary<FreeingCase> = fc.record({
  policy: policyArb,
  agents: fc.integer({ min: 1, max: 4 }),
  failureThreshold: fc.integer({ min: 1, max: 2 }),
  halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  commands: fc.array(commandArb, { minLength: 1, maxLength: 25 }),
});

interface Job {
  n: number;
  script: Outcome[];
}

async function freeingRun(c: FreeingCase): Promise<string[]> {
  const problems: string[] = [];
  const clock = new SimulatedClock();
  const calls = new Map<string, number>();
  const later = (ctx: CallContext, ms: number, value: string) =>
    new Promise<string>((resolve, reject) => {
      const signal = ctx.signal;
      const timer = clock.setTimeout(() => resolve(value), ms);
      signal.addEventListener('abort', () => {
        clock.clearTimeout(timer);
        reject(signal.reason);
      });
    });
  const run = (job: Job, ctx: CallContext): unknown => {
    calls.set(ctx.agentId, (calls.get(ctx.agentId) ?? 0) + 1);
    const value = `${ctx.agentId}:${job.n}`;
    switch (job.script[ctx.attempt - 1] ?? 'ok') {
      case 'ok':
        return Promise.resolve(value);
      case 'okSync':
        return value;
      case 'fail':
        return Promise.reject(new Error(`${ctx.agentId} failed`));
      case 'throwSync':
        throw new Error(`${ctx.agentId} threw`);
      case 'notCounted':
        return Promise.reject(new NotTheAgentsFault('not found'));
      case 'notCountedSync':
        throw new NotTheAgentsFault('not found');
      case 'slow':
        return later(ctx, 20, value);
      case 'hang':
        return later(ctx, 400, value);
    }
  };
  const ids = Array.from({ length: c.agents }, (_, i) => `a${i}`);
  const supervisor = createSupervisor<Job, unknown>({
    clock,
    agents: ids.map((id) => ({ id, run })),
    breaker: {
      failureThreshold: c.failureThreshold,
      halfOpenMaxCalls: c.halfOpenMaxCalls,
      backoff: { initialMs: 20 },
      // Longer than the run: a permit left out is not hidden by the window timing out.
      halfOpenTimeoutMs: 1_000_000,
    },
    routing: { policy: c.policy, maxAttempts: c.maxAttempts, isFailure: countsAgainstAgent },
  });
  const tasks: Array<{ label: string; promise: Promise<unknown> }> = [];
  let n = 0;
  for (const command of c.commands) {
    if (command.kind === 'advance') {
      await advance(clock, command.ms, 5);
      continue;
    }
    const job: Job = { n: ++n, script: command.script };
    const label = `task ${job.n} (${command.via}, ${command.script.join('/')})`;
    let promise: Promise<unknown>;
    if (command.via === 'plain') promise = supervisor.route(job);
    else if (command.via === 'options') promise = supervisor.route(job, {});
    else if (command.via === 'timeout') promise = supervisor.route(job, { timeoutMs: 30 });
    else {
      const controller = new AbortController();
      promise = supervisor.route(job, { signal: controller.signal });
      if (command.abortAfter === 0) controller.abort('caller');
      else if (command.abortAfter !== null) clock.setTimeout(() => controller.abort('caller'), command.abortAfter);
    }
    promise.catch(() => undefined);
    tasks.push({ label, promise });
    await flush(1);
  }
  await advance(clock, 1000, 10); // every slow or hung call ends by then

  for (const task of tasks) {
    const settled = await settleWithin(task.promise, 5);
    if (settled.status === 'pending') problems.push(`${task.label} never settled`);
  }
  for (const id of ids) {
    const inFlight = supervisor.getAgent(id)?.inFlight;
    if (inFlight !== 0) problems.push(`${id}: ${inFlight} call(s) in flight after every task settled`);
  }
  // A half-open agent has nothing out: a further route to it is admitted as a probe.
  for (const id of ids) {
    if (supervisor.getAgent(id)?.state !== 'half_open') continue;
    const before = calls.get(id) ?? 0;
    const probe = await settleWithin(supervisor.route({ n: ++n, script: ['ok'] }, { agents: [id] }));
    if ((calls.get(id) ?? 0) === before) {
      problems.push(`${id}: half-open with no probe permit left (${describeSettlement(probe)})`);
    }
  }
  for (const id of ids) {
    const removed = await settleWithin(supervisor.removeAgent(id));
    if (removed.status !== 'resolved') problems.push(`removeAgent(${id}) ${describeSettlement(removed)}`);
  }
  await settleWithin(supervisor.stop({ drainMs: 0 }));
  return problems;
}

// ─── 3. a drain lets in-flight tasks fail over ────────────────────────────────────────────────

interface DrainTask {
  via: Via;
  /** When its first attempt fails, in ms after stop(). */
  failAt: number;
  /** How long its second attempt takes, in ms. */
  secondMs: number;
}

interface DrainCase {
  policy: RoutingPolicyName;
  agents: number;
  drainMs: number;
  tasks: DrainTask[];
}

const drainArb: fc.Arbitrary<DrainCase> = fc.integer({ min: 2, max: 200 }).chain((drainMs) =>
  fc.record({
    policy: policyArb,
    agents: fc.integer({ min: 2, max: 3 }),
    drainMs: fc.constant(drainMs),
    // The first attempt fails before D, the second succeeds before D.
    tasks: fc.array(
      fc.integer({ min: 0, max: drainMs - 2 }).chain((failAt) =>
        fc.record({
          via: fc.constantFrom<Via>('plain', 'options', 'signal', 'timeout'),
          failAt: fc.constant(failAt),
          secondMs: fc.integer({ min: 0, max: drainMs - 1 - failAt }),
        }),
      ),
      { minLength: 1, maxLength: 6 },
    ),
  }),
);

async function drainRun(c: DrainCase): Promise<string[]> {
  const problems: string[] = [];
  const clock = new SimulatedClock();
  const firstAttempts: Array<{ failAt: number; pending: Deferred<string> }> = [];
  const run = (task: { n: number }, ctx: CallContext): Promise<string> => {
    const spec = c.tasks[task.n] as DrainTask;
    if (ctx.attempt === 1) {
      const pending = deferred<string>();
      firstAttempts.push({ failAt: spec.failAt, pending });
      return pending.promise;
    }
    const value = `attempt ${ctx.attempt}:${task.n}`;
    const delay = spec.failAt + spec.secondMs - clock.now(); // stop() is called at time 0
    if (delay <= 0) return Promise.resolve(value);
    return new Promise((resolve) => clock.setTimeout(() => resolve(value), delay));
  };
  const ids = Array.from({ length: c.agents }, (_, i) => `a${i}`);
  const supervisor = createSupervisor({
    clock,
    agents: ids.map((id) => ({ id, run })),
    breaker: { failureThreshold: 10_000 },
    routing: { policy: c.policy },
  });
  const tasks = c.tasks.map((spec, n) => {
    const task = { n };
    const promise =
      spec.via === 'plain'
        ? supervisor.route(task)
        : spec.via === 'options'
          ? supervisor.route(task, {})
          : spec.via === 'signal'
            ? supervisor.route(task, { signal: new AbortController().signal })
            : supervisor.route(task, { timeoutMs: 100_000 });
    promise.catch(() => undefined);
    return promise;
  });
  await flush();
  if (firstAttempts.length !== c.tasks.length) throw new Error('a task did not start its first attempt');
  const stopping = supervisor.stop({ drainMs: c.drainMs });
  stopping.catch(() => undefined);
  for (const { failAt, pending } of firstAttempts) {
    const fail = () => pending.reject(new Error('first attempt failed'));
    if (failAt === 0) fail();
    else clock.setTimeout(fail, failAt);
  }
  await flush(2);
  await advance(clock, c.drainMs + 1, 1);
  for (const [n, promise] of tasks.entries()) {
    const settled = await settleWithin(promise, 5);
    const spec = c.tasks[n] as DrainTask;
    if (settled.status !== 'resolved') {
      problems.push(
        `task ${n} (${spec.via}, fails at ${spec.failAt}, then ${spec.secondMs} ms): ${describeSettlement(settled)}`,
      );
    }
  }
  const stopped = await settleWithin(stopping, 5);
  if (stopped.status !== 'resolved') problems.push(`stop({ drainMs: ${c.drainMs} }) ${describeSettlement(stopped)}`);
  return problems;
}

// ─── 4. a route from a subscriber is a route ──────────────────────────────────────────────────

type OtherRole = 'closedHealthy' | 'closedFaulty' | 'open' | 'isolated' | 'halfOpen';
type Trigger = 'backoff' | 'reset' | 'isolate';
type Stream = 'transitions$' | 'health$' | 'states$';

interface SubscriberCase {
  policy: RoutingPolicyName;
  others: OtherRole[];
  trigger: number;
  /** How the trigger agent changes state: backoff elapsed (open → half_open), reset (open → closed), isolate. */
  kind: Trigger;
  stream: Stream;
  via: 'plain' | 'options' | 'agents' | 'signal';
  triggerHealthy: boolean;
  attemptTimeoutMs: number;
  halfOpenMaxCalls: number;
  seed: number;
}

const subscriberArb: fc.Arbitrary<SubscriberCase> = fc.integer({ min: 2, max: 4 }).chain((n) =>
  fc.record({
    policy: policyArb,
    others: fc.array(fc.constantFrom<OtherRole>('closedHealthy', 'closedFaulty', 'open', 'isolated', 'halfOpen'), {
      minLength: n,
      maxLength: n,
    }),
    trigger: fc.nat(n - 1),
    kind: fc.constantFrom<Trigger>('backoff', 'backoff', 'reset', 'isolate'),
    stream: fc.constantFrom<Stream>('transitions$', 'health$', 'states$'),
    via: fc.constantFrom('plain' as const, 'options' as const, 'agents' as const, 'signal' as const),
    triggerHealthy: fc.boolean(),
    attemptTimeoutMs: fc.constantFrom(0, 500),
    halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
    seed: fc.nat(),
  }),
);

interface Observed {
  /** The trigger agent's state right after its change. */
  changedTo: BreakerState | undefined;
  routed: boolean;
  calls: string[];
  outcome: unknown;
  states: string[];
}

/** One twin: the route is made from the subscriber (`inside`) or right after the change. */
async function subscriberRun(c: SubscriberCase, inside: boolean): Promise<Observed> {
  const clock = new SimulatedClock();
  const n = c.others.length;
  const ids = c.others.map((_, i) => `a${i}`);
  const triggerId = ids[c.trigger] as string;
  const role = (i: number): OtherRole | 'trigger' => (i === c.trigger ? 'trigger' : (c.others[i] as OtherRole));
  const calls: string[] = [];
  const failing = new Set<string>();
  const specs: AgentSpec[] = ids.map((id, i) => {
    const r = role(i);
    const healthy = r === 'trigger' ? c.triggerHealthy : r !== 'closedFaulty';
    const run = (task: unknown) => {
      calls.push(id);
      if (failing.has(id) || !healthy) return Promise.reject(new Error(`${id} down`));
      return Promise.resolve(`${id}:${String(task)}`);
    };
    const backoffMs = r === 'halfOpen' ? 500 : r === 'trigger' ? (c.kind === 'backoff' ? 1000 : 1_000_000) : 1_000_000;
    return {
      id,
      run,
      breaker: {
        failureThreshold: 1,
        halfOpenMaxCalls: c.halfOpenMaxCalls,
        backoff: { initialMs: backoffMs, maxMs: Math.max(backoffMs, 60_000) },
      },
    };
  });
  const supervisor = createSupervisor({
    clock,
    agents: specs,
    routing: { policy: c.policy, ...(c.attemptTimeoutMs > 0 ? { attemptTimeoutMs: c.attemptTimeoutMs } : {}) },
  });
  try {
    for (let i = 0; i < n; i++) {
      const r = role(i);
      const id = ids[i] as string;
      const trips = r === 'open' || r === 'halfOpen' || (r === 'trigger' && c.kind !== 'isolate');
      if (trips) {
        failing.add(id);
        await settleWithin(supervisor.route('trip', { agents: [id] }));
        failing.delete(id);
      } else if (r === 'isolated') supervisor.isolate(id);
    }
    clock.increment(500); // the halfOpen others turn half-open, before the trigger's own change
    await flush();

    const other = ids[(c.trigger + 1) % n] as string;
    const routeIt = (): Promise<unknown> => {
      if (c.via === 'plain') return supervisor.route('t');
      if (c.via === 'options') return supervisor.route('t', {});
      if (c.via === 'agents') return supervisor.route('t', { agents: [triggerId, other] });
      return supervisor.route('t', { signal: new AbortController().signal });
    };
    let task: Promise<unknown> | undefined;
    const before = calls.length;
    let subscription: { unsubscribe(): void } | undefined;
    if (inside) {
      let armed = false; // health$ and states$ replay their current value on subscribe
      const onChange = () => {
        if (armed && task === undefined) task = routeIt();
      };
      if (c.stream === 'transitions$') {
        subscription = supervisor.transitions$.subscribe((t) => {
          if (t.agentId === triggerId) onChange();
        });
      } else if (c.stream === 'health$') subscription = supervisor.health$.subscribe(onChange);
      else subscription = supervisor.states$.subscribe(onChange);
      armed = true;
    }
    if (c.kind === 'backoff') clock.increment(500);
    else if (c.kind === 'reset') supervisor.reset(triggerId);
    else supervisor.isolate(triggerId);
    const changedTo = supervisor.getAgent(triggerId)?.state;
    if (!inside) task = routeIt();
    subscription?.unsubscribe();
    if (task === undefined) return { changedTo, routed: false, calls: [], outcome: null, states: statesOf(supervisor) };
    const settled = await settleWithin(task);
    await flush();
    return {
      changedTo,
      routed: true,
      calls: calls.slice(before),
      outcome: outcomeOf(settled),
      states: statesOf(supervisor),
    };
  } finally {
    await settleWithin(supervisor.stop({ drainMs: 0 }));
  }
}

const expectedState: Record<Trigger, BreakerState> = { backoff: 'half_open', reset: 'closed', isolate: 'isolated' };

describe('liveness properties', () => {
  it('a healthy half-open agent with a free permit gets a task within agents × 3 + 3 routes, whatever the policy', async () => {
    await fc.assert(
      fc.asyncProperty(starvationArb, async (c) => {
        const problem = await withRandom(goldenSequence(c.seed), () => starvationRun(c));
        expect(problem).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });

  it('every outcome frees what it holds: nothing in flight, agents removable, no probe permit left out', async () => {
    await fc.assert(
      fc.asyncProperty(freeingArb, fc.nat(), async (c, seed) => {
        const problems = await withRandom(seededRandom(seed), () => freeingRun(c));
        expect(problems).toEqual([]);
      }),
      { numRuns: RUNS * 2 }, // the leaks need an agent half-open when a verdict-less outcome comes,
    );
  });

  it('a drain of D ms lets every in-flight task whose attempts fit in D fail over and resolve', async () => {
    await fc.assert(
      fc.asyncProperty(drainArb, fc.nat(), async (c, seed) => {
        const problems = await withRandom(seededRandom(seed), () => drainRun(c));
        expect(problems).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('a route from inside a transitions$, health$ or states$ subscriber behaves like one from outside', async () => {
    await fc.assert(
      fc.asyncProperty(subscriberArb, async (c) => {
        const outside = await withRandom(seededRandom(c.seed), () => subscriberRun(c, false));
        const inside = await withRandom(seededRandom(c.seed), () => subscriberRun(c, true));
        expect(outside.changedTo).toBe(expectedState[c.kind]);
        expect(inside).toEqual(outside);
      }),
      { numRuns: RUNS },
    );
  });
});
