/**
 * Bad input (issue 7): every public entry point given what it should not be. Each row gets a typed
 * error (`ConfigError` naming the field and the value) or a counted failure with a readable reason;
 * nothing crashes (no throw where a promise is due, no unhandled rejection, no uncaught exception)
 * and the supervisor the row ran against is consistent and still routes afterwards.
 *
 * Then the servers (issue 14): a generated sweep of raw HTTP requests against serveDashboard,
 * createDashboardHandler on node:http and the inspector relay (see "raw HTTP" below).
 */
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import fc from 'fast-check';
import { config as rxjsConfig } from 'rxjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  AllAgentsFailedError,
  ConfigError,
  createCircuitBreaker,
  createDashboardHandler,
  createInspector,
  createSupervisor,
  type Supervisor,
  type SupervisorOptions,
  serveDashboard,
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

// ─── raw HTTP: a generated sweep over the three servers ───────────────────────────────────────
//
// Request targets, methods, headers and bodies as raw bytes over `net.connect` (http.request would
// normalize them), against serveDashboard, createDashboardHandler on a plain node:http server, and
// the inspector relay (its page and WebSocket upgrades). Properties: nothing throws out of the
// process; no answer is a 5xx; an error from our code has the documented JSON shape (Node's own
// parser answers — a bare 400/431 without a body type — are not ours); `onError` never hears of a
// client's mistake; a foreign `Host` never gets a page, a stream or an upgrade; a mutating route
// never succeeds without the token; a socket closed without an answer only for what Node's parser
// refuses.

const TOKEN = 'sweep-token-0123456789abcdef';
const STANDARD_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH'] as const;
/** Tokens Node's parser does not know, or that a handler never sees (CONNECT, the HTTP/2 preface). */
const GARBAGE_METHODS = ['get', 'G ET', 'FOO', 'CONNECT', 'PRI', 'X'.repeat(64), '\u0000', 'GET\tX', ''];
const ODD_TARGETS = [
  '//',
  '///',
  'http://x',
  'http://',
  '//[::1',
  '//[::1]/api/agents',
  '%',
  '/%',
  '*',
  '?',
  '',
  'http://127.0.0.1/api/agents',
  'https://evil.example/',
  '\\\\',
  '/\\evil.example',
  '/..%2f..%2fpackage.json',
  '/../package.json',
];
const ROUTES = [
  '/',
  '/index.html',
  '/app.js',
  '/metrics',
  '/api/',
  '/api/agents',
  '/api/agents/a',
  '/api/agents/a/isolate',
  '/api/agents/b/reset',
  '/api/agents/nope/reset',
  '/api/agents/%E2%98%83',
  '/api/agents/%',
  '/api/agents/%E0%A4%A',
  '/api/agents/a%2Fb/isolate',
  '/api/machines',
  '/api/circuit-breaker/health',
  '/api/circuit-breaker/failures',
  '/api/circuit-breaker/metrics',
  '/api/circuit-breaker/events',
  '/api/nope',
  '/nope',
  '/bridge.js',
  '/app?key=0000',
];
const QUERIES = [
  '',
  '?limit=5',
  '?limit=0',
  '?limit=-1',
  '?limit=1e3',
  '?limit=99999999999',
  '?limit=%',
  '?#x',
  '?a=1&a=2',
];

/** A `Host` header as generated; `PORT` is replaced by the server's port when the request is sent. */
const HOSTS = [
  '127.0.0.1:PORT',
  'localhost:PORT',
  'LOCALHOST:PORT',
  '127.0.0.1',
  'localhost',
  '[::1]:PORT',
  'evil.example',
  'evil.example:PORT',
  '127.0.0.1:PORT.evil.example',
  'proxy.example:8443',
  'PROXY.example',
  '',
];

interface RawRequest {
  method: string;
  target: string;
  version: string;
  hosts: string[];
  origin: string | undefined;
  authorization: { kind: 'none' | 'valid' | 'other'; value: string };
  lastEventId: string | undefined;
  /** `[Connection, Upgrade, Sec-WebSocket-Key, Sec-WebSocket-Version]`, or none. */
  upgrade: [string, string, string | undefined, string | undefined] | undefined;
  contentLength: { kind: 'none' | 'exact' | 'other'; values: string[] };
  chunked: boolean;
  extra: [string, string] | undefined;
  body: Buffer;
}

const printable = (s: string) => /^[\x21-\x7e]+$/.test(s);
/** A header value Node's parser takes: tabs, spaces and visible characters (obs-text too). */
const headerValueOk = (s: string) =>
  [...s].every((c) => c === '\t' || (c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f));

const targetArb = (prefixes: readonly string[]) =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...ODD_TARGETS) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.constantFrom(...prefixes), fc.constantFrom(...ROUTES), fc.constantFrom(...QUERIES))
        .map(([prefix, route, query]) => `${prefix}${route}${query}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('/', '/api/agents/', '/api/circuit-breaker/'), fc.integer({ min: 1_000, max: 20_000 }))
        .map(([head, n]) => `${head}${'a'.repeat(n)}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('/', '/api/agents/'), fc.string({ unit: 'grapheme', maxLength: 12 }))
        .map(([head, s]) => `${head}${s}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('/api/circuit-breaker/failures', '/', '/api/agents/a'),
          fc.integer({ min: 1, max: 4_000 }),
        )
        .map(([path, n]) => `${path}${'?'.repeat(n)}limit=3`),
    },
  );

const latin1Arb = (maxLength: number) =>
  fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes).toString('latin1'));
/** Mostly what a header value may hold (visible characters, spaces, obs-text), now and then any byte. */
const headerValueArb = (maxLength: number) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.string({
        unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
        maxLength,
      }),
    },
    { weight: 1, arbitrary: latin1Arb(maxLength) },
  );

function requestArb(prefixes: readonly string[], upgrades: boolean): fc.Arbitrary<RawRequest> {
  return fc
    .record({
      method: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...STANDARD_METHODS) },
        { weight: 1, arbitrary: fc.constantFrom(...GARBAGE_METHODS, 'TRACE', 'PROPFIND') },
      ),
      target: targetArb(prefixes),
      version: fc.oneof(
        { weight: 9, arbitrary: fc.constant('HTTP/1.1') },
        { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 x', 'HTTP/9.9', 'http/1.1') },
      ),
      hosts: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom('127.0.0.1:PORT', 'localhost:PORT').map((h) => [h]) },
        { weight: 8, arbitrary: fc.constantFrom(...HOSTS).map((h) => [h]) },
        { weight: 1, arbitrary: fc.constant([]) },
        {
          weight: 1,
          arbitrary: fc.array(fc.oneof(fc.constantFrom(...HOSTS), headerValueArb(20)), { minLength: 1, maxLength: 3 }),
        },
      ),
      origin: fc.option(
        fc.oneof(
          fc.constantFrom(
            'http://127.0.0.1:PORT',
            'http://localhost:PORT',
            'null',
            'https://evil.example',
            'http://127.0.0.1',
          ),
          headerValueArb(30),
        ),
        { nil: undefined },
      ),
      authorization: fc.oneof(
        { weight: 3, arbitrary: fc.constant({ kind: 'none' as const, value: '' }) },
        {
          weight: 3,
          arbitrary: fc
            .constantFrom(`Bearer ${TOKEN}`, `bearer \t${TOKEN} `)
            .map((value) => ({ kind: 'valid' as const, value })),
        },
        {
          weight: 3,
          arbitrary: fc
            .oneof(
              fc.constantFrom(
                `Bearer ${TOKEN}x`,
                `Bearer ${TOKEN} x`,
                `Basic ${TOKEN}`,
                'Bearer',
                `Bearer${TOKEN}`,
                `Bearer ${TOKEN.slice(1)}`,
              ),
              headerValueArb(80).map((s) => `Bearer ${s}`),
            )
            .map((value) => ({ kind: 'other' as const, value })),
        },
      ),
      lastEventId: fc.option(
        fc.oneof(fc.constantFrom('1', '0', '-1', '0x10', '999999999999999999', '1e3', ''), headerValueArb(40)),
        { nil: undefined },
      ),
      upgrade: upgrades
        ? fc.option(
            fc.tuple(
              fc.constantFrom('Upgrade', 'upgrade, keep-alive', 'close'),
              fc.constantFrom('websocket', 'WebSocket', 'h2c', 'websocket, x'),
              fc.option(fc.constantFrom('dGhlIHNhbXBsZSBub25jZQ==', 'short', '!!!!!!!!!!!!!!!!!!!!!!!='), {
                nil: undefined,
              }),
              fc.option(fc.constantFrom('13', '8', '99', 'x'), { nil: undefined }),
            ),
            { nil: undefined, freq: 2 },
          )
        : fc.constant(undefined),
      contentLength: fc.oneof(
        { weight: 3, arbitrary: fc.constant({ kind: 'none' as const, values: [] as string[] }) },
        { weight: 3, arbitrary: fc.constant({ kind: 'exact' as const, values: [] as string[] }) },
        {
          weight: 2,
          arbitrary: fc
            .array(
              fc.oneof(
                fc.constantFrom('abc', '-1', '1e3', '5, 6', '99999999999999999999', ' 3'),
                fc.nat(3000).map(String),
              ),
              {
                minLength: 1,
                maxLength: 2,
              },
            )
            .map((values) => ({ kind: 'other' as const, values })),
        },
      ),
      chunked: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
      extra: fc.option(fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,12}$/), headerValueArb(40)), { nil: undefined }),
      body: fc.oneof(
        fc.constant(Buffer.alloc(0)),
        fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
        fc.uint8Array({ maxLength: 1500 }).map((bytes) => Buffer.from(bytes)),
        fc.constantFrom('{"x":1}', 'x'.repeat(1025), 'x'.repeat(1024)).map((s) => Buffer.from(s)),
      ),
    })
    .map((r) => r as RawRequest);
}

/**
 * Now and then a request that gets past Node's parser and the Host check (and, for the relay, a
 * complete WebSocket handshake), its other parts as generated: so that the sweep reaches the routes.
 */
function sweepArb(prefixes: readonly string[]): fc.Arbitrary<RawRequest> {
  return fc.tuple(requestArb(prefixes, true), fc.integer({ min: 0, max: 5 })).map(([r, n]): RawRequest => {
    if (n > 1) return r;
    const plausible: RawRequest = {
      ...r,
      method: r.method === 'POST' || r.method === 'HEAD' ? r.method : 'GET',
      version: 'HTTP/1.1',
      hosts: ['127.0.0.1:PORT'],
      contentLength: { kind: 'exact', values: [] },
      chunked: false,
    };
    if (n === 1) return plausible;
    return {
      ...plausible,
      method: 'GET',
      upgrade: ['Upgrade', 'websocket', 'dGhlIHNhbXBsZSBub25jZQ==', '13'],
      origin: r.origin === undefined || r.origin.length % 2 === 0 ? 'http://127.0.0.1:PORT' : r.origin,
    };
  });
}

/** The request as bytes, for a server on `port`. */
function render(r: RawRequest, port: number): Buffer {
  const p = (s: string) => s.replaceAll('PORT', String(port));
  const lines = [`${r.method} ${r.target} ${r.version}`];
  for (const host of r.hosts) lines.push(`Host: ${p(host)}`);
  if (r.origin !== undefined) lines.push(`Origin: ${p(r.origin)}`);
  if (r.authorization.kind !== 'none') lines.push(`Authorization: ${r.authorization.value}`);
  if (r.lastEventId !== undefined) lines.push(`Last-Event-ID: ${r.lastEventId}`);
  if (r.extra !== undefined) lines.push(`${r.extra[0]}: ${r.extra[1]}`);
  if (r.contentLength.kind === 'exact') lines.push(`Content-Length: ${r.body.length}`);
  for (const value of r.contentLength.values) lines.push(`Content-Length: ${value}`);
  if (r.chunked) lines.push('Transfer-Encoding: chunked');
  if (r.upgrade !== undefined) {
    const [connection, upgrade, key, version] = r.upgrade;
    lines.push(`Connection: ${connection}`, `Upgrade: ${upgrade}`);
    if (key !== undefined) lines.push(`Sec-WebSocket-Key: ${key}`);
    if (version !== undefined) lines.push(`Sec-WebSocket-Version: ${version}`);
  } else {
    lines.push('Connection: close');
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), r.body]);
}

/**
 * Whether Node's parser takes the request as a whole, well-framed one: only such a request must be
 * answered (anything else may be closed without a word, as Node does for CONNECT or a bad method).
 */
function wellFormed(r: RawRequest): boolean {
  const values = [...r.hosts, r.origin ?? '', r.authorization.value, r.lastEventId ?? '', r.extra?.[1] ?? ''];
  return (
    (STANDARD_METHODS as readonly string[]).includes(r.method) &&
    printable(r.target) &&
    (r.version === 'HTTP/1.1' || r.version === 'HTTP/1.0') &&
    r.hosts.length === 1 &&
    values.every(headerValueOk) &&
    // Body bytes no Content-Length covers are the start of a next, malformed request: Node's parser
    // refuses it and destroys the socket, even the answer to the request before it.
    (r.contentLength.kind === 'exact' || r.body.length === 0) &&
    !r.chunked
  );
}

interface Exchange {
  /** Every status line's code, in order (a request's surplus bytes may be read as another request). */
  statuses: number[];
  head: string;
  body: Buffer;
  /** The socket closed (or stayed silent for 3 s) before any byte of an answer. */
  unanswered: boolean;
  timedOut: boolean;
}

/** Sends the bytes, half-closes, and reads until the server closes (or a stream or upgrade starts). */
function exchange(port: number, bytes: Buffer): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const text = all.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      const head = headEnd === -1 ? text : text.slice(0, headEnd);
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      let body = headEnd === -1 ? Buffer.alloc(0) : all.subarray(headEnd + 4);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
      if (length !== undefined) body = body.subarray(0, Number(length));
      resolve({ statuses, head, body, unanswered: all.length === 0, timedOut });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      finish();
    }, 3_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      // An event stream or an upgraded socket stays open: its head is the answer.
      const head = text.split('\r\n\r\n', 1)[0] as string;
      if (text.includes('\r\n\r\n') && (/^HTTP\/1\.1 101/.test(head) || /text\/event-stream/i.test(head))) finish();
    });
    socket.on('error', () => {});
    socket.on('close', finish);
    socket.end(bytes);
  });
}

const header = (head: string, name: string) => new RegExp(`\\r\\n${name}: *([^\\r]*)`, 'i').exec(head)?.[1];

/** Node's own answer to what its parser refused: a bare status, no body type (ours always have one). */
const nodeOwn = (x: Exchange) =>
  header(x.head, 'content-type') === undefined && [400, 408, 413, 414, 431].includes(x.statuses[0] as number);

const badTarget = (target: string) => !URL.canParse(target, 'http://localhost');

interface Sweep {
  runs: number;
  /** Answers from our code (not Node's parser). */
  ours: number;
  answered: Record<string, number>;
  unanswered: number;
  nodeOwn: number;
}

function newSweep(): Sweep {
  return { runs: 0, ours: 0, answered: {}, unanswered: 0, nodeOwn: 0 };
}

function countAnswer(sweep: Sweep, x: Exchange): void {
  sweep.runs++;
  if (!x.unanswered && !nodeOwn(x)) sweep.ours++;
  if (x.unanswered) sweep.unanswered++;
  else if (nodeOwn(x)) sweep.nodeOwn++;
  const key = String(x.statuses[0] ?? 'none');
  sweep.answered[key] = (sweep.answered[key] ?? 0) + 1;
}

/** What every answer must be, whichever server sent it. */
function checkCommon(r: RawRequest, x: Exchange, allowUpgrade: boolean): void {
  const shown = `${r.method} ${r.target.slice(0, 80)} → ${x.head.split('\r\n')[0]}`;
  expect(x.timedOut, `silent for 3 s: ${shown}`).toBe(false);
  if (x.unanswered) {
    expect(wellFormed(r), `closed without an answer: ${shown}`).toBe(false);
    return;
  }
  expect(x.statuses.length, `not HTTP: ${JSON.stringify(x.head.slice(0, 80))}`).toBeGreaterThan(0);
  for (const status of x.statuses) {
    if (status === 101 && allowUpgrade) continue;
    expect(status >= 200 && status < 500, shown).toBe(true);
  }
}

/** An answer of the dashboard handler: JSON errors and redirects in the documented shapes. */
function checkDashboardAnswer(r: RawRequest, x: Exchange, allowed: (host: string) => boolean, basePath: string): void {
  checkCommon(r, x, false);
  if (x.unanswered || nodeOwn(x)) return;
  const status = x.statuses[0] as number;
  const shown = `${r.method} ${r.target.slice(0, 80)} Host ${JSON.stringify(r.hosts)} → ${status}`;
  const type = header(x.head, 'content-type') ?? '';
  if (status >= 300) {
    expect(type, shown).toMatch(/^application\/json/);
    if (r.method !== 'HEAD') {
      const json = JSON.parse(x.body.toString('utf8'));
      if (status === 308) expect(json, shown).toEqual({ redirect: expect.stringMatching(/^\/(?![/\\])/) });
      else
        expect(json, shown).toEqual({
          error: { code: expect.stringMatching(/^[a-z_]+$/), message: expect.any(String) },
        });
    }
  }
  // A target URL cannot read is the client's mistake, answered before anything else.
  if (badTarget(r.target)) expect(status, shown).toBe(400);
  // A foreign Host (DNS rebinding) gets nothing but an error: not the page, not a stream, not an act.
  const host = (r.hosts[0] ?? '').replaceAll('PORT', 'P').trim().toLowerCase();
  if (r.hosts.length === 1 && !allowed(host)) expect(status, shown).toBeGreaterThanOrEqual(400);
  // Mutating routes act only for the exact token.
  const path = URL.canParse(r.target, 'http://localhost') ? new URL(r.target, 'http://localhost').pathname : '';
  if (path.startsWith(`${basePath}/api/agents/`) && /\/(isolate|reset)$/.test(path) && status < 300) {
    expect(r.authorization.kind, shown).toBe('valid');
    expect(r.method, shown).toBe('POST');
  }
}

describe('bad input over raw HTTP: a generated sweep of the three servers', () => {
  const uncaughtHere: unknown[] = [];
  const unhandledHere: unknown[] = [];
  const onUncaught = (error: unknown) => uncaughtHere.push(error);
  const onUnhandled = (reason: unknown) => unhandledHere.push(reason);
  const reported: unknown[] = [];
  let supervisor: Supervisor;
  beforeAll(() => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUnhandled);
    supervisor = createSupervisor({
      agents: [
        { id: 'a', run },
        { id: 'b', run },
        { id: '☃', run },
      ],
    });
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
    await supervisor.stop();
  });
  /** Nothing escaped, and onError heard of nothing: every request above was the client's doing. */
  const expectNothingEscaped = async (sweep: Sweep, statuses: number[]) => {
    // The sweep reached our code, not only Node's parser, and got the answers it should have.
    expect(sweep.ours, JSON.stringify(sweep)).toBeGreaterThan(sweep.runs / 4);
    for (const status of statuses)
      expect(sweep.answered[status] ?? 0, `${status}: ${JSON.stringify(sweep)}`).toBeGreaterThan(0);
    await sleep(20);
    expect(uncaughtHere.map(String)).toEqual([]);
    expect(unhandledHere.map(String)).toEqual([]);
    expect(reported.map(String)).toEqual([]);
  };
  const NUM_RUNS = 250;

  it('serveDashboard (token set) answers everything within the documented shapes', async () => {
    const dashboard = await serveDashboard(supervisor, {
      port: 0,
      token: TOKEN,
      onError: (error) => reported.push(error),
    });
    const sweep = newSweep();
    try {
      const loopback = new Set(['127.0.0.1:p', 'localhost:p']);
      await fc.assert(
        fc.asyncProperty(sweepArb(['']), async (r) => {
          const x = await exchange(dashboard.port, render(r, dashboard.port));
          if (process.env.SWEEP_LOG && nodeOwn(x) && wellFormed(r))
            console.log('WF400', JSON.stringify(render(r, 1).toString('latin1').slice(0, 400)));
          countAnswer(sweep, x);
          checkDashboardAnswer(r, x, (host) => loopback.has(host), '');
        }),
        { numRuns: NUM_RUNS },
      );
      // Still serving.
      const health = await fetch(`${dashboard.url}api/circuit-breaker/health`);
      expect(health.status).toBe(200);
    } finally {
      await dashboard.close();
    }
    expect(sweep.runs).toBeGreaterThanOrEqual(NUM_RUNS);
    await expectNothingEscaped(sweep, [200, 400, 404, 405, 421]);
  });

  it('createDashboardHandler on node:http (basePath, allowedHosts) answers everything within the documented shapes', async () => {
    const handler = createDashboardHandler(supervisor, {
      token: TOKEN,
      basePath: '/dashboard',
      allowedHosts: ['proxy.example'],
      onError: (error) => reported.push(error),
    });
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const sweep = newSweep();
    try {
      const loopback = new Set(['127.0.0.1:p', 'localhost:p']);
      await fc.assert(
        fc.asyncProperty(sweepArb(['/dashboard', '/dashboard', '', '/dashboardx', '/DASHBOARD']), async (r) => {
          const x = await exchange(port, render(r, port));
          countAnswer(sweep, x);
          checkDashboardAnswer(
            r,
            x,
            (host) => loopback.has(host) || host === 'proxy.example' || host.startsWith('proxy.example:'),
            '/dashboard',
          );
        }),
        { numRuns: NUM_RUNS },
      );
      const page = await fetch(`http://127.0.0.1:${port}/dashboard/api/agents`);
      expect(page.status).toBe(200);
    } finally {
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await expectNothingEscaped(sweep, [200, 400, 404, 405, 421]);
  });

  it('the inspector relay answers its page and WebSocket upgrades without a 5xx or a throw', async () => {
    const inspector = await createInspector({ port: 0, onReady: () => {} });
    const port = Number(new URL(inspector.url).port);
    const sweep = newSweep();
    try {
      await fc.assert(
        fc.asyncProperty(sweepArb(['']), async (r) => {
          const x = await exchange(port, render(r, port));
          countAnswer(sweep, x);
          checkCommon(r, x, true);
          if (x.unanswered || nodeOwn(x)) return;
          const status = x.statuses[0] as number;
          const shown = `${r.method} ${r.target.slice(0, 80)} Host ${JSON.stringify(r.hosts)} Origin ${r.origin} → ${status}`;
          const host = (r.hosts[0] ?? '').replaceAll('PORT', 'P').trim().toLowerCase();
          const own = r.hosts.length === 1 && host === '127.0.0.1:p';
          // Only its own address gets the page or a viewer's socket (no DNS rebinding).
          if (!own) expect(status, shown).toBeGreaterThanOrEqual(400);
          // A web page elsewhere (any Origin but the relay's own) never gets a viewer's socket.
          if (status === 101) {
            expect(r.origin === undefined || r.origin === 'http://127.0.0.1:PORT', shown).toBe(true);
          }
          // Whatever is JSON is the documented error, for a target that is not a URL.
          if (/^application\/json/.test(header(x.head, 'content-type') ?? '')) {
            expect(status, shown).toBe(400);
            if (r.method !== 'HEAD') {
              expect(JSON.parse(x.body.toString('utf8')), shown).toEqual({
                error: { code: 'bad_request', message: expect.any(String) },
              });
            }
          }
          // The page for a target that is not a URL: the JSON 400 (upgrades go through ws first).
          if (own && r.upgrade === undefined && badTarget(r.target)) {
            expect(status, shown).toBe(400);
            expect(header(x.head, 'content-type'), shown).toMatch(/^application\/json/);
          }
        }),
        { numRuns: NUM_RUNS },
      );
      const page = await fetch(inspector.url);
      expect(page.status).toBe(200);
    } finally {
      await inspector.stop();
    }
    await expectNothingEscaped(sweep, [101, 200, 400, 404, 421]);
  });
});

describe('the inspector relay: a local process connected as a viewer', () => {
  it('reads the events but cannot feed any in (only the keyed socket can)', async () => {
    const inspector = await createInspector({ port: 0, onReady: () => {} });
    const { default: WebSocket } = await import('ws');
    const open = (headers: Record<string, string> = {}) =>
      new Promise<import('ws').WebSocket>((resolve, reject) => {
        const socket = new WebSocket(inspector.url.replace('http:', 'ws:'), { headers });
        socket.once('open', () => resolve(socket));
        socket.once('error', reject);
      });
    try {
      // No Origin, as a local program sends: accepted as a viewer.
      const intruder = await open();
      const forged = JSON.stringify({ type: '@xstate.actor', sessionId: 'forged', actorRef: {} });
      intruder.send(forged);
      intruder.send(JSON.stringify({ type: '@xstate.event', sessionId: 'forged', event: { type: 'X' } }));
      await sleep(50);
      // A late viewer is replayed what the relay kept: nothing the intruder sent.
      const late = await open();
      const seen: string[] = [];
      late.on('message', (data) => seen.push(String(data)));
      await sleep(100);
      expect(seen.filter((m) => m.includes('forged'))).toEqual([]);
      intruder.terminate();
      late.terminate();
    } finally {
      await inspector.stop();
    }
  });
});
