/**
 * Regressions of an attempt's lifecycle, one test per defect: what an attempt holds (an in-flight
 * count, a drain's wait, a probe permit, a timer) must be given back whatever way it ends, and a
 * probe must reach a half-open agent whichever way the task was routed.
 *
 * Every test runs on XState's `SimulatedClock` except those about the default clock (real time, but
 * no wall-clock threshold: a 30 ms busy-wait against a 10 ms limit, a 300 ms block against 100 ms)
 * and the one about the process staying alive, which spawns a child process.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  AllAgentsFailedError,
  type CallContext,
  createCircuitBreaker,
  createSupervisor,
  type Supervisor,
  type SupervisorOptions,
  type Transition,
} from '../src/index.js';
import {
  busyWait,
  countsAgainstAgent,
  deferred,
  describeSettlement,
  flush,
  NotTheAgentsFault,
  settleWithin,
} from './support/livenessHarness.js';

/** An agent whose behaviour the test sets, counting its calls. */
function scripted(id: string) {
  const agent = {
    id,
    calls: 0,
    /** `ok`: resolves; `fail`: rejects; `notCounted`: rejects with NotTheAgentsFault; `hang`: settles only on abort. */
    mode: 'ok' as 'ok' | 'fail' | 'notCounted' | 'hang',
    run: (task: unknown, ctx: CallContext): Promise<string> => {
      agent.calls++;
      switch (agent.mode) {
        case 'ok':
          return Promise.resolve(`${id}:${String(task)}`);
        case 'fail':
          return Promise.reject(new Error(`${id} down`));
        case 'notCounted':
          return Promise.reject(new NotTheAgentsFault(`${id}: not found`));
        case 'hang': {
          const signal = ctx.signal;
          return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
        }
      }
    },
  };
  return agent;
}
type Scripted = ReturnType<typeof scripted>;

function supervised(ids: readonly string[], options: Omit<SupervisorOptions, 'agents' | 'clock'> = {}) {
  const clock = new SimulatedClock();
  const agents = ids.map(scripted);
  const specs = agents.map((agent) => ({ id: agent.id, run: agent.run }));
  const supervisor = createSupervisor({ clock, agents: specs, ...options });
  const transitions: Transition[] = [];
  supervisor.transitions$.subscribe((t) => transitions.push(t));
  const byId = (id: string) => agents.find((a) => a.id === id) as Scripted;
  return { clock, agents, byId, supervisor, transitions };
}

const stateOf = (supervisor: Supervisor, id: string) => supervisor.getAgent(id)?.state;

/** Fails `agent` once through a task routed to it alone (failureThreshold 1 trips it). */
async function trip(supervisor: Supervisor, agent: Scripted): Promise<void> {
  const before = agent.mode;
  agent.mode = 'fail';
  await settleWithin(supervisor.route('trip', { agents: [agent.id] }));
  agent.mode = before;
  expect(stateOf(supervisor, agent.id)).toBe('open');
}

describe('attempt lifecycle regressions', () => {
  it("1. a half-open agent is not starved by round-robin's fast path (route() without options)", async () => {
    const { clock, supervisor, byId } = supervised(['a', 'b', 'c'], {
      breaker: { failureThreshold: 1, backoff: { initialMs: 1000 } },
      routing: { policy: 'round-robin' },
    });
    const b = byId('b');
    b.mode = 'fail';
    for (let i = 0; b.calls === 0 && i < 10; i++) await supervisor.route(`warm-${i}`); // b's task fails over
    expect(stateOf(supervisor, 'b')).toBe('open');
    clock.increment(1000);
    expect(stateOf(supervisor, 'b')).toBe('half_open');
    b.mode = 'ok';
    b.calls = 0;
    for (let i = 0; i < 300; i++) await supervisor.route(i);
    expect(b.calls, 'calls to the half-open agent b in 300 round-robin tasks').toBeGreaterThan(0);
    expect(stateOf(supervisor, 'b')).toBe('closed');
    await supervisor.stop({ drainMs: 0 });
  });

  it('2. stop({ drainMs }) lets the last in-flight task fail over instead of cancelling it', async () => {
    const problems: string[] = [];
    // route(task, {}) is the comparison (it already failed over); route(task) is the fast path.
    for (const variant of ['route(task, {})', 'route(task)'] as const) {
      const clock = new SimulatedClock();
      const first = deferred<string>();
      const supervisor = createSupervisor({
        clock,
        agents: [
          { id: 'first', run: () => first.promise },
          { id: 'second', run: async (task) => `second:${String(task)}` },
        ],
      });
      const task = variant === 'route(task)' ? supervisor.route('t') : supervisor.route('t', {});
      await flush();
      const stopping = supervisor.stop({ drainMs: 5000 });
      const early = await settleWithin(stopping, 5);
      if (early.status !== 'pending') problems.push(`${variant}: stop() settled with the task in flight`);
      first.reject(new Error('first down')); // after stop(), well within the drain
      const settled = await settleWithin(task);
      if (settled.status !== 'resolved' || settled.value !== 'second:t') {
        problems.push(`${variant}: the task ${describeSettlement(settled)}, expected second:t`);
      }
      const stopped = await settleWithin(stopping);
      if (stopped.status !== 'resolved') problems.push(`${variant}: stop() ${describeSettlement(stopped)}`);
      if (clock.now() !== 0) problems.push(`${variant}: the clock moved`);
    }
    expect(problems).toEqual([]);
  });

  it('3. a probe that ends with no verdict (isFailure false, caller abort) gives its permit back', async () => {
    const problems: string[] = [];
    const halfOpenTimeoutMs = 5000;
    for (const ending of ['isFailure false', 'caller signal abort'] as const) {
      for (const next of ['the next route', `${halfOpenTimeoutMs} ms later`] as const) {
        const label = `${ending}, ${next}`;
        const { clock, supervisor, byId, transitions } = supervised(['a'], {
          breaker: { failureThreshold: 1, halfOpenMaxCalls: 1, backoff: { initialMs: 1000 }, halfOpenTimeoutMs },
          routing: { isFailure: countsAgainstAgent },
        });
        const a = byId('a');
        await trip(supervisor, a);
        clock.increment(1000);
        expect(stateOf(supervisor, 'a')).toBe('half_open');

        // The probe: admitted, then ended with no verdict.
        const callsBefore = a.calls;
        if (ending === 'isFailure false') {
          a.mode = 'notCounted';
          const probe = await settleWithin(supervisor.route('probe'));
          if (!(probe.status === 'rejected' && probe.error instanceof NotTheAgentsFault)) {
            problems.push(`${label}: the probe ${describeSettlement(probe)}`);
          }
        } else {
          a.mode = 'hang';
          const controller = new AbortController();
          const probe = supervisor.route('probe', { signal: controller.signal });
          await flush();
          controller.abort('the caller gave up');
          const settled = await settleWithin(probe);
          if (settled.status !== 'rejected')
            problems.push(`${label}: the aborted probe ${describeSettlement(settled)}`);
        }
        if (a.calls !== callsBefore + 1) problems.push(`${label}: the probe did not reach a`);
        await flush();

        a.mode = 'ok';
        if (next !== 'the next route') {
          clock.increment(halfOpenTimeoutMs);
          await flush();
          const reopened = transitions.filter((t) => t.to === 'open' && t.reason === 'probe timed out');
          if (reopened.length > 0) problems.push(`${label}: the healthy agent reopened with 'probe timed out'`);
          if (stateOf(supervisor, 'a') !== 'half_open') {
            problems.push(`${label}: a is ${stateOf(supervisor, 'a')} after the half-open window`);
            await supervisor.stop({ drainMs: 0 });
            continue;
          }
        }
        const callsBeforeNext = a.calls;
        const result = await settleWithin(supervisor.route('next'));
        if (result.status !== 'resolved' || result.value !== 'a:next') {
          const reasons =
            result.status === 'rejected' && result.error instanceof AllAgentsFailedError
              ? ` (${result.error.attempts.map((r) => r.reason).join('; ')})`
              : '';
          problems.push(`${label}: the next probe ${describeSettlement(result)}${reasons}`);
        }
        if (a.calls !== callsBeforeNext + 1) problems.push(`${label}: the next probe was not admitted`);
        if (stateOf(supervisor, 'a') !== 'closed') problems.push(`${label}: a is ${stateOf(supervisor, 'a')}`);
        await supervisor.stop({ drainMs: 0 });
      }
    }
    expect(problems).toEqual([]);
  });

  it('4. a call made from a state subscriber on the way to half_open is admitted as a probe', async () => {
    const problems: string[] = [];

    // The supervisor: a route from a transitions$ subscriber.
    const { clock, supervisor, byId, transitions } = supervised(['a', 'b'], {
      breaker: { failureThreshold: 1, halfOpenMaxCalls: 2, backoff: { initialMs: 1000 } },
    });
    const a = byId('a');
    await trip(supervisor, a);
    let inside: Promise<unknown> | undefined;
    supervisor.transitions$.subscribe((t) => {
      if (t.agentId === 'a' && t.to === 'half_open' && inside === undefined) inside = supervisor.route('inside');
    });
    const callsBefore = a.calls;
    clock.increment(1000);
    if (inside === undefined) throw new Error('no transition to half_open');
    const fromInside = await settleWithin(inside);
    if (a.calls !== callsBefore + 1) problems.push('supervisor: the route from the subscriber did not call a');
    if (fromInside.status !== 'resolved' || fromInside.value !== 'a:inside') {
      problems.push(`supervisor: the route from the subscriber ${describeSettlement(fromInside)}, expected a:inside`);
    }
    const outside = await settleWithin(supervisor.route('outside'));
    if (outside.status !== 'resolved' || outside.value !== 'a:outside') {
      problems.push(`supervisor: the second probe ${describeSettlement(outside)}`);
    }
    if (stateOf(supervisor, 'a') !== 'closed') problems.push(`supervisor: a is ${stateOf(supervisor, 'a')}`);
    clock.increment(60_000); // past any half-open window: no cycle back to open
    await flush();
    const reopened = transitions.filter((t) => t.agentId === 'a' && t.from === 'half_open' && t.to === 'open');
    if (reopened.length > 0) problems.push(`supervisor: a went half_open → open (${reopened[0]?.reason})`);
    await supervisor.stop({ drainMs: 0 });

    // The standalone breaker: execute() from its own state$ subscriber.
    const breakerClock = new SimulatedClock();
    const breaker = createCircuitBreaker({
      failureThreshold: 1,
      halfOpenMaxCalls: 1,
      backoff: { initialMs: 1000 },
      clock: breakerClock,
    });
    await breaker
      .execute(() => {
        throw new Error('down');
      })
      .catch(() => undefined);
    expect(breaker.state).toBe('open');
    let ran = false;
    let probe: Promise<string> | undefined;
    breaker.state$.subscribe((state) => {
      if (state === 'half_open' && probe === undefined) {
        probe = breaker.execute(() => {
          ran = true;
          return 'probe ok';
        });
      }
    });
    breakerClock.increment(1000);
    if (probe === undefined) throw new Error('state$ never emitted half_open');
    const executed = await settleWithin(probe);
    if (!ran) problems.push('breaker: fn did not run');
    if (executed.status !== 'resolved' || executed.value !== 'probe ok') {
      problems.push(`breaker: execute() from state$ ${describeSettlement(executed)}`);
    }
    if (breaker.state !== 'closed') problems.push(`breaker: ${breaker.state} after its probe succeeded`);
    breaker.stop();

    expect(problems).toEqual([]);
  });

  it('5. the default clock times a busy synchronous call, and an event-loop block is no call’s latency', async () => {
    const problems: string[] = [];

    // (a) A synchronous agent busy for 30 ms is slower than slowCallMs 10: a failure, the circuit opens.
    const busy = createSupervisor({
      agents: [
        {
          id: 'busy',
          run: (task: unknown) => {
            busyWait(30);
            return `busy:${String(task)}`;
          },
        },
      ],
      breaker: { failureThreshold: 1, slowCallMs: 10 },
    });
    const value = await busy.route('t');
    if (value !== 'busy:t') problems.push(`(a) the slow call returned ${String(value)}`);
    if (stateOf(busy, 'busy') !== 'open') {
      problems.push(`(a) a 30 ms synchronous call with slowCallMs 10 left the circuit ${stateOf(busy, 'busy')}`);
    }
    await busy.stop({ drainMs: 0 });

    // (b) A 300 ms block of the event loop outside any call is no call's latency.
    const fast = createSupervisor({
      agents: [
        {
          id: 'fast',
          run: (task: unknown) => new Promise<string>((resolve) => setImmediate(() => resolve(`fast:${String(task)}`))),
        },
      ],
      breaker: { failureThreshold: 1, slowCallMs: 100 },
    });
    const seen: string[] = [];
    fast.transitions$.subscribe((t) => seen.push(`${t.from} → ${t.to} (${t.reason})`));
    await fast.route('warm');
    busyWait(300);
    const after = await Promise.allSettled([1, 2, 3].map((n) => fast.route(n)));
    if (after.some((r) => r.status !== 'fulfilled')) problems.push('(b) a fast call failed');
    if (seen.length > 0 || stateOf(fast, 'fast') !== 'closed') {
      problems.push(`(b) fast calls after a 300 ms block, slowCallMs 100: ${seen.join(', ') || stateOf(fast, 'fast')}`);
    }
    await fast.stop({ drainMs: 0 });

    expect(problems).toEqual([]);
  });

  it('6. the process does not stay alive attemptTimeoutMs after its last task', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const entry = pathToFileURL(fileURLToPath(new URL('../src/index.ts', import.meta.url))).href;
    // One task that succeeds at once, under a 3 s attempt timeout; no stop().
    const script = [
      `import { createSupervisor } from ${JSON.stringify(entry)};`,
      `const supervisor = createSupervisor({ agents: [{ id: 'a', run: async (task) => 'done:' + task }], routing: { attemptTimeoutMs: 3000 } });`,
      `const value = await supervisor.route('t');`,
      'console.log(JSON.stringify({ value, settledAt: Date.now() }));',
    ].join('\n');
    const spawnedAt = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const { code, exitedAt } = await new Promise<{ code: number | null; exitedAt: number }>((resolve) =>
      child.on('exit', (exitCode) => resolve({ code: exitCode, exitedAt: Date.now() })),
    );
    clearTimeout(killer);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(stdout.trim()) as { value: string; settledAt: number };
    expect(report.value).toBe('done:t');
    // From the task's settlement to the process's exit; the 3 s timer must not hold it.
    const lingeredMs = exitedAt - report.settledAt;
    expect(lingeredMs, `exited ${exitedAt - spawnedAt} ms after spawn`).toBeLessThan(2500);
  });

  it('7. a run() that returns a revoked Proxy neither throws from route() nor leaks its attempt', async () => {
    const problems: string[] = [];
    const revokedProxy = () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    };
    for (const variant of ['route(task)', 'route(task, {})', 'route(task, { signal })'] as const) {
      const clock = new SimulatedClock();
      const supervisor = createSupervisor({ clock, agents: [{ id: 'p', run: () => revokedProxy() }] });
      let task: Promise<unknown> | undefined;
      try {
        task =
          variant === 'route(task)'
            ? supervisor.route('t')
            : variant === 'route(task, {})'
              ? supervisor.route('t', {})
              : supervisor.route('t', { signal: new AbortController().signal });
      } catch (error) {
        problems.push(`${variant}: route() threw ${error instanceof Error ? error.message : String(error)}`);
      }
      if (task !== undefined) {
        const settled = await settleWithin(task);
        if (settled.status === 'pending') problems.push(`${variant}: the task never settled`);
      }
      const inFlight = supervisor.getAgent('p')?.inFlight;
      if (inFlight !== 0) problems.push(`${variant}: p has ${inFlight} call(s) in flight`);
      const removed = await settleWithin(supervisor.removeAgent('p'));
      if (removed.status !== 'resolved') problems.push(`${variant}: removeAgent ${describeSettlement(removed)}`);
      const stopped = await settleWithin(supervisor.stop({ drainMs: 5000 }));
      if (stopped.status !== 'resolved') {
        problems.push(`${variant}: stop({ drainMs: 5000 }) ${describeSettlement(stopped)} without the clock moving`);
      }
    }
    expect(problems).toEqual([]);
  });
});

/** The supervisor's deadline queue (src/task/taskRouter.ts): how many deadlines are pending. */
const pendingDeadlines = (supervisor: Supervisor) =>
  (supervisor as unknown as { router: { deadlines: { size: number } } }).router.deadlines.size;

describe('found by the adversarial review of the lifecycle', () => {
  it('a fake promise from run() fails the attempt; it neither throws out of route() nor leaks inFlight', async () => {
    const clock = new SimulatedClock();
    const supervisor = createSupervisor({
      clock,
      agents: [
        { id: 'fake', run: () => Object.create(Promise.prototype) },
        { id: 'ok', run: () => Promise.resolve('served') },
      ],
    });
    let routed: Promise<unknown> | undefined;
    expect(() => {
      routed = supervisor.route('t');
    }).not.toThrow();
    expect(await settleWithin(routed as Promise<unknown>)).toEqual({ status: 'resolved', value: 'served' });
    expect(supervisor.getAgent('fake')?.inFlight).toBe(0);
    expect(supervisor.getStats().tasks).toEqual({ succeeded: 1, failed: 0, rejected: 0 });
    await supervisor.stop({ drainMs: 0 });
  });

  it('a promise with its own then() that calls back twice settles the task once and counts it once', async () => {
    const clock = new SimulatedClock();
    const hostile = () => {
      const promise = Promise.resolve('first');
      Object.defineProperty(promise, 'then', {
        value: (ok: (v: unknown) => void, bad: (e: unknown) => void) => {
          ok('first');
          ok('second');
          bad(new Error('third'));
        },
      });
      return promise;
    };
    const slow = deferred<string>();
    const supervisor = createSupervisor({
      clock,
      agents: [
        { id: 'hostile', run: hostile, priority: 0 },
        { id: 'slow', run: () => slow.promise, priority: 1 },
      ],
    });
    const routed = supervisor.route('t');
    expect(routed).toBeInstanceOf(Promise);
    expect(await settleWithin(routed)).toEqual({ status: 'resolved', value: 'first' });
    expect(supervisor.getStats().tasks).toEqual({ succeeded: 1, failed: 0, rejected: 0 });
    // The running count is exact: a drain still waits for the next in-flight task.
    const legit = supervisor.route('t2', { agents: ['slow'] });
    let stopped = false;
    const stopping = supervisor.stop({ drainMs: 5000 }).then(() => {
      stopped = true;
    });
    await flush();
    expect(stopped).toBe(false);
    slow.resolve('slow done');
    expect(await settleWithin(legit)).toEqual({ status: 'resolved', value: 'slow done' });
    await stopping;
  });

  it('an abort from a failures$ subscriber during failover starts no further attempt and leaks nothing', async () => {
    const { supervisor, byId } = supervised(['a', 'b']);
    byId('a').mode = 'fail';
    const controller = new AbortController();
    supervisor.failures$.subscribe(() => controller.abort(new Error('caller gave up')));
    const settlement = await settleWithin(supervisor.route('t', { signal: controller.signal }));
    expect(describeSettlement(settlement)).toMatch(/TaskAbortedError/);
    expect(byId('b').calls).toBe(0);
    expect(supervisor.getAgent('b')?.inFlight).toBe(0);
    expect(await settleWithin(supervisor.removeAgent('b'))).toEqual({ status: 'resolved', value: undefined });
    expect(supervisor.getStats().tasks).toEqual({ succeeded: 0, failed: 0, rejected: 0 });
    await supervisor.stop({ drainMs: 0 });
  });

  it('run() that aborts its own task leaves no deadline pending and counts no success', async () => {
    const clock = new SimulatedClock();
    const controller = new AbortController();
    const supervisor = createSupervisor({
      clock,
      routing: { attemptTimeoutMs: 3000 },
      agents: [
        {
          id: 'a',
          run: () => {
            controller.abort(new Error('changed my mind'));
            return Promise.resolve('value');
          },
        },
      ],
    });
    const settlement = await settleWithin(supervisor.route('t', { signal: controller.signal }));
    expect(describeSettlement(settlement)).toMatch(/TaskAbortedError/);
    expect(pendingDeadlines(supervisor)).toBe(0);
    expect(supervisor.getStats().tasks.succeeded).toBe(0);
    expect(supervisor.getAgent('a')?.inFlight).toBe(0);
    await supervisor.stop({ drainMs: 0 });
  });

  it('stop() from isFailure settles a task with a deadline once, counted once', async () => {
    const clock = new SimulatedClock();
    let supervisor: Supervisor | undefined;
    supervisor = createSupervisor({
      clock,
      routing: {
        attemptTimeoutMs: 3000,
        isFailure: () => {
          void supervisor?.stop({ drainMs: 0 });
          return true;
        },
      },
      agents: [{ id: 'a', run: () => Promise.reject(new Error('down')) }],
    });
    const settlement = await settleWithin(supervisor.route('t'));
    expect(describeSettlement(settlement)).toMatch(/SupervisorStoppedError/);
    expect(supervisor.getStats().tasks).toEqual({ succeeded: 0, failed: 0, rejected: 1 });
    expect(supervisor.getAgent('a')?.inFlight ?? 0).toBe(0);
  });

  it('a deadline that expires into a fake promise fails that attempt; the timer callback throws nothing', async () => {
    const clock = new SimulatedClock();
    const supervisor = createSupervisor({
      clock,
      routing: { attemptTimeoutMs: 50 },
      agents: [
        { id: 'hung', run: () => new Promise(() => {}), priority: 0 },
        { id: 'fake', run: () => Object.create(Promise.prototype), priority: 1 },
        { id: 'ok', run: () => Promise.resolve('served'), priority: 2 },
      ],
    });
    const routed = supervisor.route('t');
    await flush();
    expect(() => clock.increment(50)).not.toThrow();
    expect(await settleWithin(routed)).toEqual({ status: 'resolved', value: 'served' });
    expect(pendingDeadlines(supervisor)).toBe(0);
    await supervisor.stop({ drainMs: 0 });
  });
});

describe('found by the second adversarial review', () => {
  /** A native promise whose `then` getter answers the built-in `then` once, then a hostile one. */
  const twoFacedPromise = () => {
    const promise = Promise.resolve('real');
    let reads = 0;
    Object.defineProperty(promise, 'then', {
      get() {
        reads++;
        if (reads === 1) return Promise.prototype.then;
        return (onValue: (v: unknown) => void, onError: (e: unknown) => void) => {
          onValue('fake');
          onError(new Error('boom'));
        };
      },
    });
    return promise;
  };

  it('a then() that changes between reads cannot double-count a task or drive the drain count below zero', async () => {
    const clock = new SimulatedClock();
    const slow = deferred<string>();
    const supervisor = createSupervisor({
      clock,
      agents: [
        { id: 'a', run: twoFacedPromise, priority: 0 },
        { id: 'slow', run: () => slow.promise, priority: 1 },
      ],
    });
    const problems: string[] = [];
    const routed = supervisor.route('t');
    if (!(routed instanceof Promise)) problems.push(`route() returned ${String(routed)}`);
    const viaRouteTask = supervisor.routeTask('x', ['a'], () => twoFacedPromise());
    for (const [label, promise] of [
      ['route', routed],
      ['routeTask', viaRouteTask],
    ] as const) {
      const settlement = await settleWithin(promise);
      if (settlement.status !== 'resolved') problems.push(`${label}: ${describeSettlement(settlement)}`);
    }
    const tasks = supervisor.getStats().tasks;
    if (tasks.succeeded !== 2 || tasks.failed + tasks.rejected !== 0) problems.push(`counted ${JSON.stringify(tasks)}`);
    const legit = supervisor.route('t2', { agents: ['slow'] });
    let stopped = false;
    const stopping = supervisor.stop({ drainMs: 5000 }).then(() => {
      stopped = true;
    });
    await flush();
    if (stopped) problems.push('stop() did not wait for the in-flight task');
    slow.resolve('slow done');
    const last = await settleWithin(legit);
    if (last.status !== 'resolved') problems.push(`the in-flight task: ${describeSettlement(last)}`);
    await stopping;
    expect(problems).toEqual([]);
  });

  it('every agent gets latency samples under round-robin with concurrent calls', async () => {
    const agents = ['a', 'b', 'c', 'd'].map((id) => ({ id, run: async (task: unknown) => task }));
    const supervisor = createSupervisor({ agents, routing: { policy: 'round-robin' } });
    await Promise.all(Array.from({ length: 64 * 10 * agents.length }, (_, i) => supervisor.route(i)));
    const counts = Object.fromEntries(agents.map(({ id }) => [id, supervisor.getAgentStats(id)?.latency.count ?? 0]));
    // Each agent's histogram counts its calls up to its last sample: at least 9 of every 10 × 64.
    for (const count of Object.values(counts)) expect(count).toBeGreaterThanOrEqual(64 * 9);
    await supervisor.stop({ drainMs: 0 });
  });

  it('a first attempt that times out on the default clock is timed from its deadline reading', async () => {
    // The default clock samples a healthy call's duration; a timeout must still have one. Real time,
    // no threshold: only that the duration exists and is not below the deadline's own reading.
    const supervisor = createSupervisor({
      routing: { attemptTimeoutMs: 10, maxAttempts: 1 },
      agents: [{ id: 'a', run: () => new Promise(() => {}) }],
    });
    for (let i = 0; i < 3; i++) {
      const error = await supervisor.route(i).then(
        () => undefined,
        (e: unknown) => e,
      );
      const [attempt] = (error as AllAgentsFailedError).attempts;
      expect(attempt?.kind).toBe('timeout');
      expect(typeof attempt?.durationMs).toBe('number');
    }
    await supervisor.stop({ drainMs: 0 });
  });
});
