/**
 * Bad input (issue 7): every public entry point given what it should not be. Each row gets a typed
 * error (`ConfigError` naming the field and the value) or a counted failure with a readable reason;
 * nothing crashes (no throw where a promise is due, no unhandled rejection, no uncaught exception)
 * and the supervisor the row ran against is consistent and still routes afterwards.
 */
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { config as rxjsConfig } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  AllAgentsFailedError,
  ConfigError,
  createCircuitBreaker,
  createSupervisor,
  type Supervisor,
  type SupervisorOptions,
  TaskAbortedError,
} from '../src/index.js';
import { hostileProxy, ONE_MB_MESSAGE } from './support/faults.js';
import { consistencyProblems, totalInFlight } from './support/history.js';

interface Ctx {
  supervisor: Supervisor;
  clock: SimulatedClock;
  /** What the supervisor's `onError` received: `where` of each. */
  contained: string[];
  /** What RxJS reported through `config.onUnhandledError`. */
  rxjs: unknown[];
}

/** How an action ended: a synchronous throw, or its promise (if any) resolved or rejected. */
type Outcome =
  | { kind: 'threw'; error: unknown }
  | { kind: 'resolved'; value: unknown }
  | { kind: 'rejected'; error: unknown }
  | { kind: 'pending' }
  | { kind: 'returned'; value: unknown };

type Expectation =
  /** A `ConfigError` naming `field` (and carrying `value`, when given), thrown or rejected as `how`. */
  | { config: string; value?: unknown; how?: 'threw' | 'rejected' }
  /** A failed attempt of agent `bad` counted with a readable reason matching `reason`. */
  | { failure: RegExp }
  | { check: (outcome: Outcome, ctx: Ctx) => void | Promise<void> };

interface Row {
  name: string;
  /** Options for the supervisor this row runs against (over a base of healthy agents `a`, `b`). */
  options?: Omit<SupervisorOptions, 'clock' | 'agents'>;
  act: (ctx: Ctx) => unknown;
  expect: Expectation;
  /** Advance the simulated clock while waiting for the act's promise (for timeouts). */
  drive?: boolean;
}

const run = (task: unknown) => `ok:${String(task)}`;
const fn = () => 1;
/** Adds agent `bad` ahead of the others and routes one task: `bad` fails, `a` takes over. */
const viaBadAgent =
  (badRun: (task: unknown, ctx: { signal: AbortSignal }) => unknown, routeOptions: { timeoutMs?: number } = {}) =>
  ({ supervisor }: Ctx) => {
    supervisor.addAgent({ id: 'bad', run: badRun, priority: -1 });
    return supervisor.route('t', routeOptions);
  };

const rows: Row[] = [
  // ─── createSupervisor ──────────────────────────────────────────────────────────────────────
  {
    name: 'createSupervisor: an unknown option key',
    act: () => createSupervisor({ agnets: [] } as never),
    expect: { config: 'agnets' },
  },
  {
    name: 'createSupervisor: an unknown routing key',
    act: () => createSupervisor({ routing: { maxAttempt: 3 } } as never),
    expect: { config: 'routing.maxAttempt', value: 3 },
  },
  {
    name: 'createSupervisor: an unknown breaker key',
    act: () => createSupervisor({ breaker: { threshold: 3 } } as never),
    expect: { config: 'breaker.threshold' },
  },
  {
    name: 'createSupervisor: options that are a number',
    act: () => createSupervisor(42 as never),
    expect: { config: 'options', value: 42 },
  },
  {
    name: 'createSupervisor: agents that are a string',
    act: () => createSupervisor({ agents: 'a' as never }),
    expect: { config: 'agents', value: 'a' },
  },
  {
    name: 'createSupervisor: a sparse agents array (a hole is not an agent)',
    act: () => createSupervisor({ agents: new Array(2) }),
    expect: { config: 'agents[0]', value: undefined },
  },
  {
    name: 'createSupervisor: maxAttempts: 0',
    act: () => createSupervisor({ routing: { maxAttempts: 0 } }),
    expect: { config: 'routing.maxAttempts', value: 0 },
  },
  {
    name: 'createSupervisor: maxAttempts: 2.5',
    act: () => createSupervisor({ routing: { maxAttempts: 2.5 } }),
    expect: { config: 'routing.maxAttempts', value: 2.5 },
  },
  {
    name: 'createSupervisor: attemptTimeoutMs: NaN',
    act: () => createSupervisor({ routing: { attemptTimeoutMs: Number.NaN } }),
    expect: { config: 'routing.attemptTimeoutMs', value: Number.NaN },
  },
  {
    name: 'createSupervisor: attemptTimeoutMs: Infinity',
    act: () => createSupervisor({ routing: { attemptTimeoutMs: Number.POSITIVE_INFINITY } }),
    expect: { config: 'routing.attemptTimeoutMs', value: Number.POSITIVE_INFINITY },
  },
  {
    name: 'createSupervisor: attemptTimeoutMs: -1',
    act: () => createSupervisor({ routing: { attemptTimeoutMs: -1 } }),
    expect: { config: 'routing.attemptTimeoutMs', value: -1 },
  },
  {
    name: 'createSupervisor: attemptTimeoutMs beyond a timer’s range (2^31 ms would fire at once)',
    act: () => createSupervisor({ routing: { attemptTimeoutMs: 2 ** 31 } }),
    expect: { config: 'routing.attemptTimeoutMs', value: 2 ** 31 },
  },
  {
    name: 'createSupervisor: failureLogSize: 0',
    act: () => createSupervisor({ failureLogSize: 0 }),
    expect: { config: 'failureLogSize', value: 0 },
  },
  {
    name: 'createSupervisor: backoff multiplier < 1',
    act: () => createSupervisor({ breaker: { backoff: { multiplier: 0.5 } } }),
    expect: { config: 'breaker.backoff.multiplier', value: 0.5 },
  },
  {
    name: 'createSupervisor: a negative initial backoff',
    act: () => createSupervisor({ breaker: { backoff: { initialMs: -100 } } }),
    expect: { config: 'breaker.backoff.initialMs', value: -100 },
  },
  {
    name: 'createSupervisor: a backoff cap beyond a timer’s range',
    act: () => createSupervisor({ breaker: { backoff: { maxMs: 1e12 } } }),
    expect: { config: 'breaker.backoff.maxMs', value: 1e12 },
  },
  {
    name: 'createSupervisor: failureThreshold of the wrong type',
    act: () => createSupervisor({ breaker: { failureThreshold: '5' as never } }),
    expect: { config: 'breaker.failureThreshold', value: '5' },
  },
  {
    name: 'createSupervisor: a clock inside the breaker defaults',
    act: () => createSupervisor({ breaker: { clock: new SimulatedClock() } as never }),
    expect: { config: 'breaker.clock' },
  },
  {
    name: 'createSupervisor: an empty agent id',
    act: () => createSupervisor({ agents: [{ id: '', run }] }),
    expect: { config: 'agents[0].id', value: '' },
  },
  {
    name: 'createSupervisor: duplicate agent ids',
    act: () =>
      createSupervisor({
        agents: [
          { id: 'x', run },
          { id: 'x', run },
        ],
      }),
    expect: { config: 'agents[1].id', value: 'x' },
  },
  {
    name: 'createSupervisor: __proto__ twice is a duplicate like any other id',
    act: () =>
      createSupervisor({
        agents: [
          { id: '__proto__', run },
          { id: '__proto__', run },
        ],
      }),
    expect: { config: 'agents[1].id', value: '__proto__' },
  },
  {
    name: 'createSupervisor: an agent without run',
    act: () => createSupervisor({ agents: [{ id: 'x' } as never] }),
    expect: { config: 'agents[0].run' },
  },
  {
    name: 'createSupervisor: an agent whose run is a string',
    act: () => createSupervisor({ agents: [{ id: 'x', run: 'go' as never }] }),
    expect: { config: 'agents[0].run', value: 'go' },
  },
  {
    name: 'createSupervisor: a clock inside an agent’s breaker (it would be silently ignored)',
    act: () => createSupervisor({ agents: [{ id: 'x', run, breaker: { clock: new SimulatedClock() } as never }] }),
    expect: { config: 'agents[0].breaker.clock' },
  },
  {
    name: 'createSupervisor: an agent priority of NaN',
    act: () => createSupervisor({ agents: [{ id: 'x', run, priority: Number.NaN }] }),
    expect: { config: 'agents[0].priority', value: Number.NaN },
  },
  {
    name: 'createSupervisor: an agent weight of 0',
    act: () => createSupervisor({ agents: [{ id: 'x', run, weight: 0 }] }),
    expect: { config: 'agents[0].weight', value: 0 },
  },
  {
    name: 'createSupervisor: an unknown routing policy',
    act: () => createSupervisor({ routing: { policy: 'random' as never } }),
    expect: { config: 'routing.policy', value: 'random' },
  },
  {
    name: 'createSupervisor: a negative retry-budget ratio',
    act: () => createSupervisor({ routing: { retryBudget: { ratio: -1 } } }),
    expect: { config: 'routing.retryBudget.ratio', value: -1 },
  },
  {
    name: 'createSupervisor: panicThreshold 101',
    act: () => createSupervisor({ routing: { panicThreshold: 101 } }),
    expect: { config: 'routing.panicThreshold', value: 101 },
  },
  {
    name: 'createSupervisor: onError that is not a function',
    act: () => createSupervisor({ onError: 'log' as never }),
    expect: { config: 'onError', value: 'log' },
  },
  {
    name: 'createSupervisor: a clock without now()',
    act: () => createSupervisor({ clock: { setTimeout: fn, clearTimeout: fn } as never }),
    expect: { config: 'clock.now' },
  },

  // ─── createCircuitBreaker ──────────────────────────────────────────────────────────────────
  {
    name: 'createCircuitBreaker: options that are a string',
    act: () => createCircuitBreaker('x' as never),
    expect: { config: 'options', value: 'x' },
  },
  {
    name: 'createCircuitBreaker: failureThreshold: 0',
    act: () => createCircuitBreaker({ failureThreshold: 0 }),
    expect: { config: 'failureThreshold', value: 0 },
  },
  {
    name: 'createCircuitBreaker: maxMs below initialMs',
    act: () => createCircuitBreaker({ backoff: { initialMs: 5000, maxMs: 1000 } }),
    expect: { config: 'backoff.maxMs', value: 1000 },
  },
  {
    name: 'createCircuitBreaker: halfOpenTimeoutMs: Infinity',
    act: () => createCircuitBreaker({ halfOpenTimeoutMs: Number.POSITIVE_INFINITY }),
    expect: { config: 'halfOpenTimeoutMs', value: Number.POSITIVE_INFINITY },
  },
  {
    name: 'createCircuitBreaker: a rate window needing more calls than it holds',
    act: () =>
      createCircuitBreaker({ trip: { kind: 'rate', window: 'count', size: 10, minimumCalls: 20, failureRate: 0.5 } }),
    expect: { config: 'trip.minimumCalls', value: 20 },
  },
  {
    name: 'createCircuitBreaker: failureRate 0',
    act: () =>
      createCircuitBreaker({ trip: { kind: 'rate', window: 'time', size: 1000, minimumCalls: 1, failureRate: 0 } }),
    expect: { config: 'trip.failureRate', value: 0 },
  },
  {
    name: 'createCircuitBreaker: execute() given no function is not the agent’s failure',
    act: async () => {
      const breaker = createCircuitBreaker({ failureThreshold: 1 });
      try {
        const error = await breaker.execute('not a function' as never).catch((e: unknown) => e);
        return { error, state: breaker.state, failures: breaker.getMetrics().metrics.totalFailures };
      } finally {
        breaker.stop();
      }
    },
    expect: {
      check: (outcome) => {
        expect(outcome.kind).toBe('resolved');
        const { error, state, failures } = (
          outcome as { value: { error: ConfigError; state: string; failures: number } }
        ).value;
        expect(error).toBeInstanceOf(ConfigError);
        expect(error.field).toBe('fn');
        expect({ state, failures }).toEqual({ state: 'closed', failures: 0 });
      },
    },
  },

  // ─── route ─────────────────────────────────────────────────────────────────────────────────
  {
    name: 'route: an unknown agent list',
    act: ({ supervisor }) => supervisor.route('t', { agents: ['nope'] }),
    expect: { config: 'agents[0]', value: 'nope', how: 'rejected' },
  },
  {
    name: 'route: an empty agent list',
    act: ({ supervisor }) => supervisor.route('t', { agents: [] }),
    expect: { config: 'agents', how: 'rejected' },
  },
  {
    name: 'route: an agent list naming one agent twice',
    act: ({ supervisor }) => supervisor.route('t', { agents: ['a', 'a'] }),
    expect: { config: 'agents[1]', value: 'a', how: 'rejected' },
  },
  {
    name: 'route: a sparse agent list',
    act: ({ supervisor }) => supervisor.route('t', { agents: new Array(1) }),
    expect: { config: 'agents[0]', value: undefined, how: 'rejected' },
  },
  {
    name: 'route: timeoutMs: -5',
    act: ({ supervisor }) => supervisor.route('t', { timeoutMs: -5 }),
    expect: { config: 'timeoutMs', value: -5, how: 'rejected' },
  },
  {
    name: 'route: timeoutMs beyond a timer’s range',
    act: ({ supervisor }) => supervisor.route('t', { timeoutMs: 2 ** 31 }),
    expect: { config: 'timeoutMs', value: 2 ** 31, how: 'rejected' },
  },
  {
    name: 'route: a signal that is not an AbortSignal',
    act: ({ supervisor }) => supervisor.route('t', { signal: 'abort' as never }),
    expect: { config: 'signal', value: 'abort', how: 'rejected' },
  },
  {
    name: 'route: an unknown option key',
    act: ({ supervisor }) => supervisor.route('t', { priority: 1 } as never),
    expect: { config: 'priority', value: 1, how: 'rejected' },
  },
  {
    name: 'route: options that are null',
    act: ({ supervisor }) => supervisor.route('t', null as never),
    expect: { config: 'route options', value: null, how: 'rejected' },
  },
  {
    name: 'route: an empty taskId',
    act: ({ supervisor }) => supervisor.route('t', { taskId: '' }),
    expect: { config: 'taskId', value: '', how: 'rejected' },
  },

  // ─── routeTask ─────────────────────────────────────────────────────────────────────────────
  {
    name: 'routeTask: an empty task id',
    act: ({ supervisor }) => supervisor.routeTask('', ['a'], fn),
    expect: { config: 'taskId', value: '', how: 'rejected' },
  },
  {
    name: 'routeTask: agent ids that are a string',
    act: ({ supervisor }) => supervisor.routeTask('t', 'a' as never, fn),
    expect: { config: 'agentIds', value: 'a', how: 'rejected' },
  },
  {
    name: 'routeTask: a task function that is a string',
    act: ({ supervisor }) => supervisor.routeTask('t', ['a'], 'fn' as never),
    expect: { config: 'taskFn', value: 'fn', how: 'rejected' },
  },
  {
    name: 'routeTask: a sparse agent id list',
    act: ({ supervisor }) => supervisor.routeTask('t', new Array(1), fn),
    expect: { config: 'agentIds[0]', value: undefined, how: 'rejected' },
  },

  // ─── addAgent / removeAgent / isolate / reset ─────────────────────────────────────────────
  {
    name: 'addAgent: a duplicate id',
    act: ({ supervisor }) => supervisor.addAgent({ id: 'a', run }),
    expect: { config: 'agent.id', value: 'a' },
  },
  {
    name: 'addAgent: no run',
    act: ({ supervisor }) => supervisor.addAgent({ id: 'x' } as never),
    expect: { config: 'agent.run' },
  },
  {
    name: 'addAgent: null',
    act: ({ supervisor }) => supervisor.addAgent(null as never),
    expect: { config: 'agent', value: null },
  },
  {
    name: 'addAgent: an id of 201 characters',
    act: ({ supervisor }) => supervisor.addAgent({ id: 'x'.repeat(201), run }),
    expect: { config: 'agent.id' },
  },
  {
    name: 'addAgent: an unknown key',
    act: ({ supervisor }) => supervisor.addAgent({ id: 'x', run, retries: 3 } as never),
    expect: { config: 'agent.retries', value: 3 },
  },
  {
    name: 'removeAgent: an unknown id',
    act: ({ supervisor }) => supervisor.removeAgent('nope'),
    expect: { config: 'id', value: 'nope', how: 'rejected' },
  },
  {
    name: 'removeAgent: a number',
    act: ({ supervisor }) => supervisor.removeAgent(42 as never),
    expect: { config: 'id', value: 42, how: 'rejected' },
  },
  {
    name: 'isolate: an unknown id',
    act: ({ supervisor }) => supervisor.isolate('nope'),
    expect: { config: 'id', value: 'nope' },
  },
  {
    name: 'isolate: hasOwnProperty is not an agent just because objects have it',
    act: ({ supervisor }) => supervisor.isolate('hasOwnProperty'),
    expect: { config: 'id', value: 'hasOwnProperty' },
  },
  {
    name: 'reset: undefined',
    act: ({ supervisor }) => supervisor.reset(undefined as never),
    expect: { config: 'id', value: undefined },
  },

  // ─── getRecentFailures ─────────────────────────────────────────────────────────────────────
  {
    name: 'getRecentFailures: -1',
    act: ({ supervisor }) => supervisor.getRecentFailures(-1),
    expect: { config: 'limit', value: -1 },
  },
  {
    name: 'getRecentFailures: NaN',
    act: ({ supervisor }) => supervisor.getRecentFailures(Number.NaN),
    expect: { config: 'limit', value: Number.NaN },
  },
  {
    name: 'getRecentFailures: a string',
    act: ({ supervisor }) => supervisor.getRecentFailures('5' as never),
    expect: { config: 'limit', value: '5' },
  },

  // ─── stop (a rejected stop leaves the supervisor running) ─────────────────────────────────
  {
    name: 'stop: drainMs: -1',
    act: ({ supervisor }) => supervisor.stop({ drainMs: -1 }),
    expect: { config: 'drainMs', value: -1, how: 'rejected' },
  },
  {
    name: 'stop: drainMs: NaN',
    act: ({ supervisor }) => supervisor.stop({ drainMs: Number.NaN }),
    expect: { config: 'drainMs', value: Number.NaN, how: 'rejected' },
  },
  {
    name: 'stop: drainMs beyond a timer’s range',
    act: ({ supervisor }) => supervisor.stop({ drainMs: 2 ** 31 }),
    expect: { config: 'drainMs', value: 2 ** 31, how: 'rejected' },
  },
  {
    name: 'stop: options that are null',
    act: ({ supervisor }) => supervisor.stop(null as never),
    expect: { config: 'stop options', value: null, how: 'rejected' },
  },
  {
    name: 'stop: an unknown option key',
    act: ({ supervisor }) => supervisor.stop({ drain: 100 } as never),
    expect: { config: 'drain', value: 100, how: 'rejected' },
  },

  // ─── valid, however odd ────────────────────────────────────────────────────────────────────
  {
    name: 'ids __proto__, constructor, toString, hasOwnProperty are ordinary agents',
    act: async ({ supervisor, clock }) => {
      const ids = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
      for (const id of ids) supervisor.addAgent({ id, run: (task) => `${id}:${String(task)}`, priority: -1 });
      const states: string[] = [];
      supervisor.agentState$('__proto__').subscribe((s) => states.push(s));
      const first = await supervisor.route('t');
      supervisor.isolate('__proto__');
      const named = await supervisor.route('t', { agents: ['__proto__', 'constructor'] });
      const viaRouteTask = await supervisor.routeTask('rt', ['toString'], (id) => id);
      supervisor.reset('__proto__');
      const removed = supervisor.removeAgent('hasOwnProperty');
      clock.increment(1);
      await removed;
      return { first, named, viaRouteTask, states, ids: supervisor.agentIds() };
    },
    expect: {
      check: (outcome) => {
        expect(outcome).toEqual({
          kind: 'resolved',
          value: {
            first: '__proto__:t',
            named: 'constructor:t',
            viaRouteTask: 'toString',
            states: ['closed', 'isolated', 'closed'],
            ids: ['__proto__', 'constructor', 'toString', 'a', 'b'],
          },
        });
      },
    },
  },

  // ─── what agents and hooks do at run time: counted failures with readable reasons ─────────
  {
    name: 'run: rejects with an Error with a 1 MB message',
    act: viaBadAgent(() => Promise.reject(new Error(ONE_MB_MESSAGE))),
    expect: { failure: /^huge:x{400,}… \(1048581 chars\)$/ },
  },
  {
    name: 'run: rejects with a 1 MB string',
    act: viaBadAgent(() => Promise.reject(ONE_MB_MESSAGE)),
    expect: { failure: /^huge:x+… \(1048581 chars\)$/ },
  },
  {
    name: 'run: rejects with undefined',
    act: viaBadAgent(() => Promise.reject(undefined)),
    expect: { failure: /^rejected with undefined$/ },
  },
  {
    name: 'run: rejects with null',
    act: viaBadAgent(() => Promise.reject(null)),
    expect: { failure: /^rejected with null$/ },
  },
  {
    name: 'run: rejects with a frozen object',
    act: viaBadAgent(() => Promise.reject(Object.freeze({ code: 'E_FROZEN' }))),
    expect: { failure: /^rejected with \{"code":"E_FROZEN"\}$/ },
  },
  {
    name: 'run: rejects with a symbol',
    act: viaBadAgent(() => Promise.reject(Symbol('gone'))),
    expect: { failure: /^rejected with Symbol\(gone\)$/ },
  },
  {
    name: 'run: rejects with a proxy that throws on every touch',
    act: viaBadAgent(() => Promise.reject(hostileProxy())),
    expect: { failure: /^rejected with an unreadable value$/ },
  },
  {
    name: 'run: throws a non-Error synchronously',
    act: viaBadAgent(() => {
      throw 42;
    }),
    expect: { failure: /^rejected with 42$/ },
  },
  {
    name: 'run: returns a thenable that never settles (cut off by the timeout)',
    // biome-ignore lint/suspicious/noThenProperty: a thenable that never calls back is the bad input
    act: viaBadAgent(() => ({ then() {} }), { timeoutMs: 50 }),
    expect: { failure: /^timed out after 50 ms$/ },
    drive: true,
  },
  {
    name: 'run: returns a thenable whose then getter throws',
    act: viaBadAgent(() => ({
      // biome-ignore lint/suspicious/noThenProperty: a throwing then getter is the bad input
      get then() {
        throw new Error('then getter exploded');
      },
    })),
    expect: { failure: /^then getter exploded$/ },
  },
  {
    name: 'run: returns a thenable that fulfils twice and rejects too',
    act: ({ supervisor }) => {
      supervisor.addAgent({
        id: 'bad',
        priority: -1,
        run: () => ({
          // biome-ignore lint/suspicious/noThenProperty: a thenable that breaks the rules is the bad input
          then(onFulfilled: (v: unknown) => void, onRejected: (e: unknown) => void) {
            onFulfilled('first');
            onFulfilled('second');
            onRejected(new Error('late'));
          },
        }),
      });
      return supervisor.route('t');
    },
    expect: {
      check: (outcome, { supervisor }) => {
        expect(outcome).toEqual({ kind: 'resolved', value: 'first' });
        expect(supervisor.getStats().agents.find((a) => a.agentId === 'bad')).toMatchObject({
          successful: 1,
          failed: 0,
        });
      },
    },
  },
  {
    name: 'routing.isFailure that throws: the error counts, the hook’s error is reported',
    options: {
      routing: {
        isFailure: () => {
          throw new Error('isFailure bug');
        },
      },
    },
    act: viaBadAgent(() => Promise.reject(new Error('agent down'))),
    expect: { failure: /^agent down$/ },
  },
  {
    name: 'onError that throws too (reporting a throwing isFailure), on the timed path',
    options: {
      routing: {
        isFailure: () => {
          throw new Error('isFailure bug');
        },
      },
      onError: () => {
        throw new Error('onError bug');
      },
    },
    act: viaBadAgent(() => Promise.reject(new Error('agent down')), { timeoutMs: 1000 }),
    expect: { failure: /^agent down$/ },
  },
  {
    name: 'onError that throws too (reporting a throwing isFailure), on the untimed path',
    options: {
      routing: {
        isFailure: () => {
          throw new Error('isFailure bug');
        },
      },
      onError: () => {
        throw new Error('onError bug');
      },
    },
    act: viaBadAgent(() => Promise.reject(new Error('agent down'))),
    expect: { failure: /^agent down$/ },
  },
  {
    name: 'a caller signal aborted before routing: TaskAbortedError at once, no agent runs',
    act: async ({ supervisor }) => {
      let ran = false;
      supervisor.addAgent({ id: 'bad', priority: -1, run: () => (ran = true) });
      const controller = new AbortController();
      controller.abort(hostileProxy());
      const error = await supervisor.route('t', { signal: controller.signal }).catch((e: unknown) => e);
      return { error, ran };
    },
    expect: {
      check: (outcome) => {
        const { error, ran } = (outcome as { value: { error: TaskAbortedError; ran: boolean } }).value;
        expect(error).toBeInstanceOf(TaskAbortedError);
        expect(error.reason).toBe('rejected with an unreadable value');
        expect(ran).toBe(false);
      },
    },
  },

  // ─── subscribers that throw: RxJS reports it; the supervisor keeps working ───────────────
  ...(['failures$', 'transitions$', 'health$', 'states$', 'decisions$'] as const).map(
    (stream): Row => ({
      name: `a ${stream} subscriber that throws`,
      act: async (ctx) => {
        const { supervisor } = ctx;
        const seen: unknown[] = [];
        const throwing = (supervisor[stream] as import('rxjs').Observable<unknown>).subscribe(() => {
          throw new Error(`${stream} subscriber bug`);
        });
        const healthy = (supervisor[stream] as import('rxjs').Observable<unknown>).subscribe((v) => seen.push(v));
        // Trip agent `a` (5 failures, each failing over to `b`): every stream emits.
        supervisor.addAgent({ id: 'bad', priority: -1, run: () => Promise.reject(new Error('down')) });
        const results: unknown[] = [];
        for (let i = 0; i < 6; i++) results.push(await supervisor.route(i));
        await sleep(5); // RxJS reports on a timer of its own
        throwing.unsubscribe();
        healthy.unsubscribe();
        return { results, seen: seen.length, reported: ctx.rxjs.length, state: supervisor.getAgent('bad')?.state };
      },
      expect: {
        check: (outcome) => {
          expect(outcome.kind).toBe('resolved');
          const value = (outcome as { value: { results: unknown[]; seen: number; reported: number; state: string } })
            .value;
          expect(value.results).toEqual(['ok:0', 'ok:1', 'ok:2', 'ok:3', 'ok:4', 'ok:5']);
          expect(value.state).toBe('open');
          expect(value.seen).toBeGreaterThan(0); // other subscribers still get every value
          expect(value.reported).toBeGreaterThan(0); // the bug is reported, as RxJS always does
        },
      },
    }),
  ),
  {
    name: 'an agentState$ subscriber that throws',
    act: async (ctx) => {
      const subscription = ctx.supervisor.agentState$('a').subscribe(() => {
        throw new Error('agentState$ subscriber bug');
      });
      ctx.supervisor.isolate('a');
      ctx.supervisor.reset('a');
      const result = await ctx.supervisor.route('t');
      await sleep(5);
      subscription.unsubscribe();
      return { result, reported: ctx.rxjs.length };
    },
    expect: {
      check: (outcome) => {
        expect(outcome).toEqual({ kind: 'resolved', value: { result: 'ok:t', reported: 3 } });
      },
    },
  },
];

// ─── the harness ───────────────────────────────────────────────────────────────────────────

let unhandled: unknown[] = [];
let uncaught: unknown[] = [];
const onRejection = (reason: unknown) => unhandled.push(reason);
const onException = (error: unknown) => uncaught.push(error);
let previousRxjsHandler: typeof rxjsConfig.onUnhandledError;
let rxjsReports: unknown[] = [];

beforeEach(() => {
  unhandled = [];
  uncaught = [];
  rxjsReports = [];
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  previousRxjsHandler = rxjsConfig.onUnhandledError;
  rxjsConfig.onUnhandledError = (error) => rxjsReports.push(error);
});

afterEach(() => {
  rxjsConfig.onUnhandledError = previousRxjsHandler;
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
});

/** Runs `act` and waits (up to 2 s) for its promise, if any; `drive` advances the simulated clock. */
async function perform(act: () => unknown, clock: SimulatedClock, drive: boolean): Promise<Outcome> {
  let result: unknown;
  try {
    result = act();
  } catch (error) {
    return { kind: 'threw', error };
  }
  if (!(result instanceof Promise)) return { kind: 'returned', value: result };
  let outcome: Outcome = { kind: 'pending' };
  result.then(
    (value) => (outcome = { kind: 'resolved', value }),
    (error) => (outcome = { kind: 'rejected', error }),
  );
  const deadline = Date.now() + 2000;
  while (outcome.kind === 'pending' && Date.now() < deadline) {
    await tick();
    if (drive && outcome.kind === 'pending') clock.increment(10);
  }
  return outcome;
}

describe(`bad input: ${rows.length} rows across every public entry point`, () => {
  it('has at least 25 rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(25);
  });

  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const clock = new SimulatedClock();
    const contained: string[] = [];
    const supervisor = createSupervisor({
      clock,
      agents: [
        { id: 'a', run },
        { id: 'b', run },
      ],
      onError: (_error, where) => contained.push(where),
      ...row.options,
    });
    const ctx: Ctx = { supervisor, clock, contained, rxjs: rxjsReports };
    const outcome = await perform(() => row.act(ctx), clock, row.drive === true);
    const expectation = row.expect;

    if ('config' in expectation) {
      const how = expectation.how ?? 'threw';
      expect(
        outcome.kind,
        JSON.stringify(outcome, (_k, v) => (typeof v === 'string' ? v.slice(0, 200) : v)),
      ).toBe(how);
      const error = (outcome as { error: unknown }).error as ConfigError;
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.field).toBe(expectation.config);
      expect(error.message).toContain(expectation.config);
      if ('value' in expectation)
        expect(Object.is(error.value, expectation.value), `value ${String(error.value)}`).toBe(true);
    } else if ('failure' in expectation) {
      // Agent `bad` failed, `a` took over; the failure is counted with a readable, bounded reason.
      expect(outcome).toEqual({ kind: 'resolved', value: 'ok:t' });
      const [failure] = supervisor.getRecentFailures(1);
      expect(failure?.agentId).toBe('bad');
      expect(failure?.reason).toMatch(expectation.failure);
      expect(failure?.reason.length).toBeLessThanOrEqual(600);
      const stats = supervisor.getStats().agents.find((a) => a.agentId === 'bad');
      expect((stats?.failed ?? 0) + (stats?.timeout ?? 0)).toBe(1);
    } else {
      await expectation.check(outcome, ctx);
    }

    // Nothing crashed, nothing leaked, the state is consistent, and the supervisor still works.
    await sleep(5); // unhandled rejections and RxJS reports arrive a macrotask later
    expect(unhandled.map(String)).toEqual([]);
    expect(uncaught.map(String)).toEqual([]);
    expect(consistencyProblems(supervisor)).toEqual([]);
    expect(totalInFlight(supervisor)).toBe(0);
    expect(supervisor.phase).toBe('running');
    if (supervisor.getAgent('bad') !== undefined) supervisor.isolate('bad');
    expect(await supervisor.route('after')).toMatch(/^(ok|__proto__):after$/);
    const stopped = supervisor.stop({ drainMs: 0 });
    clock.increment(1);
    await stopped;
    expect(supervisor.phase).toBe('stopped');
  });

  it('a 1 MB message stays bounded in the error the caller gets', async () => {
    const supervisor = createSupervisor({
      clock: new SimulatedClock(),
      agents: [{ id: 'huge', run: () => Promise.reject(new Error(ONE_MB_MESSAGE)) }],
    });
    const error = (await supervisor.route('t').catch((e: unknown) => e)) as AllAgentsFailedError;
    expect(error).toBeInstanceOf(AllAgentsFailedError);
    expect(error.message.length).toBeLessThan(3 * 600);
    await supervisor.stop();
  });
});
