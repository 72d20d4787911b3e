/**
 * The supervisor's routing rules as properties over generated pools (issue 4, part 4).
 *
 * fast-check generates a pool (1–12 agents with priorities, weights and a behaviour script each:
 * succeed now or later, fail, hang, throw synchronously, reject with a non-Error; some tripped open,
 * half-open or isolated beforehand), routing options (policy, maxAttempts 1–5, attempt timeout,
 * panic threshold, max ejection %, isFailure) and a sequence of commands: route a task (to the pool
 * or its own candidate list, with a timeout or a signal), release one pending agent call (the
 * scheduler picks which, so settlements interleave), let time pass on the `SimulatedClock`, abort a
 * task, isolate or reset an agent. `support/routingScenario.ts` runs it on a real supervisor and
 * checks, on every attempt and at the end:
 *
 * 1. a task is never sent to an open or isolated agent, unless the pool is below its panic
 *    threshold (then open ones may be, isolated ones never);
 * 2. at most `maxAttempts` attempts per task, numbered in order, none after the task settled;
 * 3. no agent is tried twice for one task while an untried candidate could take the attempt
 *    (closed, half-open with a probe permit, open in panic) — retrying a tried agent when none is
 *    left is the original design's `max_retries` (docs/architecture.md);
 * 4. every task settles exactly once, with the value of its last attempt, `AllAgentsFailedError`,
 *    the agent's own error (`isFailure` said no), `TaskAbortedError` (its caller aborted) or
 *    `SupervisorStoppedError` (still running at `stop()`);
 *
 * and that a task gives up with attempts left only when no candidate could take another one (none
 * at all when it is rejected without an attempt); that `AllAgentsFailedError.attempts` lists
 * exactly the attempts that ran (failed/timeout) followed only by `rejected` entries; that
 * `getStats()` (tasks, per-agent successes, failures and timeouts, routing events, failovers,
 * in-flight) and `failures$` add up to the attempts observed; that `decisions$` names every attempt
 * and its panic; and that nothing is reported as a contained error.
 *
 * The properties run on deliberately broken supervisors too (they must fail and shrink), and the
 * bugs they found in the router are pinned by plain regression tests at the end.
 *
 * `ROUTING_PROPERTY_RUNS` sets the number of generated scenarios (default 1,000; every scenario
 * checks every property).
 */
import { setImmediate as tick } from 'node:timers/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { type CallContext, createSupervisor, type Supervisor, SupervisorStoppedError } from '../src/index.js';
import type { Agent } from '../src/pool/agent.js';
import {
  type AgentGen,
  type Behaviour,
  type Command,
  emptyCoverage,
  type PropertyName,
  type RouteCommand,
  RoutingViolation,
  runRoutingScenario,
  type ScenarioConfig,
  type Task,
} from './support/routingScenario.js';

const RUNS = Number(process.env.ROUTING_PROPERTY_RUNS ?? 1000);

const behaviourArb: fc.Arbitrary<Behaviour> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<Behaviour>('ok', 'okAsync') },
  { weight: 1, arbitrary: fc.constant<Behaviour>('okThenable') },
  { weight: 4, arbitrary: fc.constantFrom<Behaviour>('fail', 'throw') },
  { weight: 2, arbitrary: fc.constantFrom<Behaviour>('throwValue', 'rejectValue') },
  { weight: 1, arbitrary: fc.constant<Behaviour>('benign') },
  { weight: 1, arbitrary: fc.constant<Behaviour>('hang') },
);

const agentArb: fc.Arbitrary<AgentGen> = fc.record({
  priority: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  weight: fc.option(fc.constantFrom(0.5, 1, 2, 4), { nil: undefined }),
  failureThreshold: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined, freq: 4 }),
  script: fc.array(behaviourArb, { minLength: 1, maxLength: 5 }),
  initial: fc.oneof(
    { weight: 5, arbitrary: fc.constant('closed' as const) },
    { weight: 2, arbitrary: fc.constant('open' as const) },
    { weight: 2, arbitrary: fc.constant('half_open' as const) },
    { weight: 1, arbitrary: fc.constant('isolated' as const) },
  ),
});
const poolArb = fc.array(agentArb, { minLength: 1, maxLength: 12, size: 'max' });

const configArb: fc.Arbitrary<ScenarioConfig> = fc.record({
  policy: fc.constantFrom('priority' as const, 'round-robin' as const, 'least-outstanding' as const),
  maxAttempts: fc.integer({ min: 1, max: 5 }),
  attemptTimeoutMs: fc.option(fc.constantFrom(100, 250, 1000), { nil: undefined }),
  panicThreshold: fc.option(fc.constantFrom(25, 50, 75, 100), { nil: undefined }),
  maxEjectionPercent: fc.option(fc.constantFrom(20, 50, 80), { nil: undefined, freq: 3 }),
  isFailure: fc.constantFrom('all' as const, 'benign' as const, 'throwing' as const),
  failureThreshold: fc.integer({ min: 1, max: 3 }),
  halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
  halfOpenTimeoutMs: fc.constantFrom(500, 30_000),
  backoffMs: fc.constantFrom(100, 300, 1000),
  observeDecisions: fc.boolean(),
  randomSeed: fc.integer(),
});

const routeArb: fc.Arbitrary<RouteCommand> = fc.record({
  kind: fc.constant('route' as const),
  options: fc.option(
    fc.record({
      agents: fc.option(fc.uniqueArray(fc.nat(11), { minLength: 1, maxLength: 6 }), { nil: undefined }),
      timeoutMs: fc.option(fc.constantFrom(50, 150, 600), { nil: undefined, freq: 3 }),
      signal: fc.boolean(),
    }),
    { nil: undefined },
  ),
});

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 10, arbitrary: routeArb },
  { weight: 8, arbitrary: fc.constant({ kind: 'settle' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 1500 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), which: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('isolate' as const), agent: fc.nat(11) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const), agent: fc.nat(11) }) },
);
const commandsArb = fc.array(commandArb, { minLength: 1, maxLength: 24, size: 'medium' });

const scenarioArbs = [configArb, poolArb, commandsArb, fc.scheduler()] as const;
/** Smaller scenarios for the self-checks below: a broken router shows up there too, and shrinks fast. */
const smallScenarioArbs = [
  configArb,
  fc.array(agentArb, { minLength: 1, maxLength: 6 }),
  fc.array(commandArb, { minLength: 1, maxLength: 12 }),
  fc.scheduler(),
] as const;

/** Runs the properties against a deliberately broken supervisor: they must fail, and shrink. */
async function expectCaught(
  sabotage: (supervisor: Supervisor<Task, unknown>) => void,
  ignore: PropertyName[] = [],
): Promise<RoutingViolation> {
  const failure = await fc
    .assert(
      fc.asyncProperty(...smallScenarioArbs, (config, pool, commands, s) =>
        runRoutingScenario(config, pool, commands, s, { sabotage, ignore: new Set(ignore) }),
      ),
      { numRuns: 2000, seed: 4 },
    )
    .then(
      () => null,
      (e: Error) => e,
    );
  expect(failure?.message).toMatch(/Counterexample: \[\{"policy":/);
  expect(failure?.message).toMatch(/Shrunk \d+ time/);
  expect(failure?.cause).toBeInstanceOf(RoutingViolation);
  return failure?.cause as RoutingViolation;
}

type Pick = (candidates: readonly Agent[], skip: ((agent: Agent) => boolean) | undefined) => Agent | undefined;
/** The supervisor's router (src/task/taskRouter.ts), where routing's settings live: mutants patch it. */
const routerOf = <T>(supervisor: Supervisor<Task, unknown>) => (supervisor as unknown as { router: T }).router;
const policyOf = (supervisor: Supervisor<Task, unknown>) => routerOf<{ policy: { pick: Pick } }>(supervisor).policy;

describe('routing properties over generated pools', () => {
  it(
    `hold on ${RUNS} generated pools, options and concurrent task sequences`,
    async () => {
      const coverage = emptyCoverage();
      const started = performance.now();
      await fc.assert(
        fc.asyncProperty(...scenarioArbs, (config, pool, commands, s) =>
          runRoutingScenario(config, pool, commands, s, { coverage }),
        ),
        { numRuns: RUNS },
      );
      console.log(
        `routing properties: ${coverage.runs} scenarios, ${coverage.tasks} tasks, ${coverage.attempts} attempts in ${Math.round(performance.now() - started)} ms\n` +
          `  attempts by state at call time: ${JSON.stringify(coverage.attemptsByState)}, in panic: ${coverage.panicAttempts}\n` +
          `  retries of a tried agent: ${coverage.retriesOfTriedAgent}, tasks that used every attempt: ${coverage.allAttemptsUsed}, ` +
          `gave up with attempts left: ${coverage.gaveUpEarly}, rejected with no attempt: ${coverage.rejectedAtOnce}\n` +
          `  most tasks in flight at once: ${coverage.maxConcurrent}, largest pool: ${coverage.largestPool}\n` +
          `  attempt outcomes: ${JSON.stringify(coverage.outcomes)}`,
      );
      // The generators reach every corner the properties talk about.
      expect(coverage.runs).toBe(RUNS);
      expect(coverage.attemptsByState.half_open).toBeGreaterThan(RUNS / 10);
      expect(coverage.attemptsByState.open).toBeGreaterThan(RUNS / 100);
      expect(coverage.panicAttempts).toBeGreaterThan(RUNS / 20);
      expect(coverage.retriesOfTriedAgent).toBeGreaterThan(RUNS / 10);
      expect(coverage.allAttemptsUsed).toBeGreaterThan(RUNS / 10);
      expect(coverage.rejectedAtOnce).toBeGreaterThan(RUNS / 20);
      expect(coverage.gaveUpEarly).toBeGreaterThan(RUNS / 50);
      expect(coverage.maxConcurrent).toBeGreaterThanOrEqual(6);
      for (const outcome of ['success', 'failed', 'notCounted', 'timeout', 'abandoned']) {
        expect(coverage.outcomes[outcome] ?? 0, outcome).toBeGreaterThan(RUNS / 20);
      }
      expect(coverage.largestPool).toBe(12);
    },
    Math.max(60_000, RUNS * 60),
  );

  it('catch a router that sends to open agents outside panic', async () => {
    // As if the panic comparison were always true: open agents become candidates of every task.
    // (Its decisions then say `panic: true` too: that property is left out to see this one.)
    const violation = await expectCaught(
      (supervisor) => {
        routerOf<{ panicThreshold: number }>(supervisor).panicThreshold = 101;
      },
      ['decisions match the attempts'],
    );
    expect(violation.property).toBe('never an open or isolated agent');
  });

  it('catch a router that makes one attempt too many', async () => {
    const violation = await expectCaught((supervisor) => {
      const core = routerOf<{ maxAttempts: number }>(supervisor);
      core.maxAttempts += 1;
    });
    // The extra attempt runs, or the error lists more attempts than allowed, whichever comes first.
    expect(['at most maxAttempts', 'AllAgentsFailedError lists the attempts']).toContain(violation.property);
  });

  it('catch a router that gives up one attempt early', async () => {
    const violation = await expectCaught((supervisor) => {
      const core = routerOf<{ maxAttempts: number }>(supervisor);
      if (core.maxAttempts > 1) core.maxAttempts -= 1;
    });
    expect(violation.property).toBe('gives up only when no candidate is left');
  });

  it('catch a router that retries the agent it just tried while an untried one could take the task', async () => {
    // The policy sticks to its last pick while that agent is closed (admission cannot refuse it).
    const violation = await expectCaught((supervisor) => {
      const policy = policyOf(supervisor);
      const pick = policy.pick.bind(policy);
      let last: Agent | undefined;
      policy.pick = (candidates, skip) => {
        if (skip !== undefined && last !== undefined && candidates.includes(last) && last.breaker.state === 'closed')
          return last;
        last = pick(candidates, skip);
        return last;
      };
    });
    expect(violation.property).toBe('no retry while an untried healthy agent exists');
  });
});

/** An agent's run function that records its call in `calls` and returns `answer(calls)`. */
function recording(id: string, calls: string[], answer: (calls: readonly string[]) => unknown) {
  return () => {
    calls.push(id);
    return answer(calls);
  };
}

/** A promise settled from outside: an agent call the test finishes when it chooses. */
function deferred<T = unknown>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('regressions the properties found', () => {
  it('panic is decided per attempt: once the pool has recovered, a failover skips open circuits', async () => {
    const clock = new SimulatedClock();
    const first = deferred();
    const calls: string[] = [];
    const supervisor = createSupervisor({
      clock,
      breaker: { failureThreshold: 1 },
      routing: { panicThreshold: 25, maxAttempts: 2 },
      agents: [
        { id: 'a0', run: recording('a0', calls, (c) => (c.length === 1 ? first.promise : 'a0')) },
        { id: 'a1', run: recording('a1', calls, () => 'a1') },
      ],
    });
    for (const id of ['a0', 'a1'])
      await supervisor
        .getAgent(id)
        ?.breaker.execute(() => {
          throw new Error('down');
        })
        .catch(() => {});
    // Nothing routable (0 of 2 < 25%): panic, the task goes to a0 though it is open.
    const task = supervisor.route('t');
    expect(calls).toEqual(['a0']);
    // a0 is reset: 1 of 2 routable, the pool is out of panic. The first attempt then fails (a
    // result from before the reset, so a0 stays closed): the failover must not go to open a1.
    supervisor.reset('a0');
    first.reject(new Error('late failure'));
    expect(await task).toBe('a0');
    expect(calls).toEqual(['a0', 'a0']);
    await supervisor.stop();
  });

  it('an agent that refused a probe for one attempt is a candidate again for the next', async () => {
    const clock = new SimulatedClock();
    const probe = deferred();
    const failing = deferred();
    const calls: string[] = [];
    const supervisor = createSupervisor({
      clock,
      breaker: { halfOpenMaxCalls: 1, backoff: { initialMs: 100 } },
      routing: { maxAttempts: 2 },
      agents: [
        {
          id: 'a0',
          run: recording('a0', calls, (c) => (c.length === 1 ? probe.promise : 'a0')),
          breaker: { failureThreshold: 1 },
        },
        { id: 'a1', run: recording('a1', calls, (c) => (c.length === 2 ? failing.promise : 'a1')) },
      ],
    });
    await supervisor
      .getAgent('a0')
      ?.breaker.execute(() => {
        throw new Error('down');
      })
      .catch(() => {});
    clock.increment(100);
    expect(supervisor.getAgent('a0')?.state).toBe('half_open');
    const t0 = supervisor.route('t0'); // takes a0's only probe
    const t1 = supervisor.route('t1'); // a0 has no permit left: a1
    expect(calls).toEqual(['a0', 'a1']);
    probe.resolve('a0');
    expect(await t0).toBe('a0');
    expect(supervisor.getAgent('a0')?.state).toBe('closed');
    // t1's attempt on a1 fails: a0 is closed and untried by t1, so the retry goes there, not to a1.
    failing.reject(new Error('a1 failed'));
    expect(await t1).toBe('a0');
    expect(calls).toEqual(['a0', 'a1', 'a0']);
    await supervisor.stop();
  });

  it('a task stop() ends counts as rejected, with or without a deadline', async () => {
    const clock = new SimulatedClock();
    const hang = (_task: unknown, ctx: CallContext) =>
      new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
    const supervisor = createSupervisor({ clock, agents: [{ id: 'a0', run: hang }] });
    const plain = supervisor.route('plain').catch((error: unknown) => error);
    const timed = supervisor.route('timed', { timeoutMs: 1000 }).catch((error: unknown) => error);
    await tick();
    await supervisor.stop({ drainMs: 0 });
    expect(await plain).toBeInstanceOf(SupervisorStoppedError);
    expect(await timed).toBeInstanceOf(SupervisorStoppedError);
    expect(supervisor.getStats().tasks).toEqual({ succeeded: 0, failed: 0, rejected: 2 });
  });
});
