/**
 * Differential property test (issue 4, part 3): generated sequences of calls that succeed or fail,
 * now or later (held calls released in an order fast-check's scheduler picks, or the oldest one on
 * purpose: a late result), time passing, isolate and reset, another instance's trip and close
 * (PEER_TRIPPED / PEER_CLOSED sent to `breaker.actor`, as a shared-state adapter would), run
 * against the real breaker (`createCircuitBreaker` with a `SimulatedClock`, its probe lease the
 * default one, granted at once) and against the reference model in
 * `support/referenceBreaker.ts`. Everything a user can see must agree after every step: which calls
 * are admitted, every rejection's state and `retryAfterMs`, each call's result, the state and
 * `getMetrics()`. A divergence fails with the shrunk sequence.
 *
 * Probe permits the runtime does not exercise here (a request naming a window it saw, a permit given
 * back by a probe that ended with no verdict) are compared event by event: the reference against
 * the statechart itself (`PROBE` with a generation, `PROBE_RELEASED`), at the end of this file.
 *
 * `MODEL_CHECK_RUNS` sets the number of generated sequences (default 10,000; a fifth as many for
 * the event-by-event comparison).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import type { BreakerOptions } from '../machines/breakerOptions.js';
import { type BreakerEvent, localBreakerMachine, mayAdmitProbe } from '../machines/circuitBreaker.js';
import { CircuitOpenError, createCircuitBreaker } from '../src/index.js';
import { type RefConfig, ReferenceBreaker } from './support/referenceBreaker.js';

const RUNS = Number(process.env.MODEL_CHECK_RUNS ?? 10_000);
const START = 1_700_000_000_000;

type Command =
  /** A call that succeeds or fails; a held one returns only when released. */
  | { kind: 'call'; outcome: 'success' | 'failure'; held: boolean }
  /** The scheduler releases one held call of its choosing. */
  | { kind: 'settle' }
  /** The oldest held call returns now: usually a result from an older generation. */
  | { kind: 'late' }
  /** Time passes: some milliseconds, or exactly to the next deadline (backoff, half-open timeout). */
  | { kind: 'advance'; ms: number | 'deadline' }
  | { kind: 'isolate' }
  | { kind: 'reset' }
  /** Another instance tripped the agent; it probes `inMs` from now. */
  | { kind: 'peerTrip'; inMs: number }
  /** Another instance's probes closed the agent. */
  | { kind: 'peerClose' };

/**
 * How long before now a peer's or a snapshot's `nextProbeAt` may lie (a late peer message, a restart
 * longer than the backoff). With these, this test found the machine dating such a half-open window
 * in the past (peerTrip(-1) → +deadline → success(held) → +deadline → success rejected with
 * retryAfterMs 0 where the reference said 1); the window now starts when the circuit opened.
 */
const PAST_MS = 40_000;
/** When the other instance probes, or the restored open circuit lets probes in: ms from now. */
const probeInMs = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40_000 }), fc.integer({ min: -PAST_MS, max: -1 }));

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      outcome: fc.constantFrom('success' as const, 'failure' as const),
      held: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ kind: 'settle' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'late' as const }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.constant('deadline' as const), fc.integer({ min: 1, max: 40_000 })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'isolate' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('peerTrip' as const),
      inMs: probeInMs,
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'peerClose' as const }) },
);
const commandsArb = fc.array(commandArb, { maxLength: 30, size: 'medium' });

/**
 * A snapshot of an earlier run the breaker starts from (RESTORE sent to `breaker.actor`, as
 * `createSupervisor({ restore })` does), in a quarter of the runs: figures as indexes, fitted to
 * the configuration (a closed circuit short of tripping, a backoff level the policy reaches, an
 * open circuit probing now or later).
 */
interface Restore {
  state: 'closed' | 'open' | 'half_open' | 'isolated';
  failures: number;
  level: 0 | 1 | 2;
  inMs: number;
}
const restoreArb: fc.Arbitrary<Restore | null> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.record({
      state: fc.constantFrom('closed' as const, 'open' as const, 'half_open' as const, 'isolated' as const),
      failures: fc.integer({ min: 0, max: 4 }),
      level: fc.constantFrom(0 as const, 1 as const, 2 as const),
      inMs: probeInMs,
    }),
  },
);

/** The snapshot a `Restore` stands for under `config`, taken `inMs` before the open circuit probes. */
function snapshotOf(restore: Restore, config: RefConfig, now: number) {
  const levels = [config.initialMs, Math.min(config.initialMs * config.multiplier, config.maxMs), config.maxMs];
  const threshold = config.trip.kind === 'consecutive' ? config.trip.threshold : Number.POSITIVE_INFINITY;
  const closed = restore.state === 'closed';
  return {
    state: restore.state,
    failureCount: closed ? Math.min(restore.failures, threshold - 1) : restore.failures,
    backoffMs: closed ? config.initialMs : (levels[restore.level] as number),
    nextProbeAt: restore.state === 'open' ? now + restore.inMs : null,
  };
}

const configArb: fc.Arbitrary<RefConfig> = fc
  .record({
    trip: fc.oneof(
      fc.record({ kind: fc.constant('consecutive' as const), threshold: fc.constantFrom(1, 1, 2, 2, 3, 5) }),
      fc.integer({ min: 1, max: 6 }).chain((size) =>
        fc.record({
          kind: fc.constant('rate' as const),
          size: fc.constant(size),
          minimumCalls: fc.integer({ min: 1, max: size }),
          rate: fc.constantFrom(0.25, 0.5, 0.55, 0.75, 1),
        }),
      ),
    ),
    halfOpenMaxCalls: fc.integer({ min: 1, max: 4 }),
    halfOpenTimeoutMs: fc.constantFrom(500, 2000, 30_000),
    initialMs: fc.constantFrom(1, 100, 1000),
    multiplier: fc.constantFrom(1, 1.5, 2),
    maxFactor: fc.constantFrom(1, 3, 60),
    slowCallMs: fc.option(fc.constantFrom(50, 5000), { nil: undefined }),
  })
  .map(({ maxFactor, slowCallMs, ...config }) => ({
    ...config,
    maxMs: config.initialMs * maxFactor,
    ...(slowCallMs === undefined ? {} : { slowCallMs }),
  }));

function breakerOptions(config: RefConfig, clock: SimulatedClock): BreakerOptions {
  const trip = config.trip;
  return {
    id: 'diff',
    clock,
    ...(trip.kind === 'consecutive'
      ? { failureThreshold: trip.threshold }
      : {
          trip: {
            kind: 'rate',
            window: 'count',
            size: trip.size,
            minimumCalls: trip.minimumCalls,
            failureRate: trip.rate,
          },
        }),
    halfOpenMaxCalls: config.halfOpenMaxCalls,
    halfOpenTimeoutMs: config.halfOpenTimeoutMs,
    backoff: { initialMs: config.initialMs, multiplier: config.multiplier, maxMs: config.maxMs },
    ...(config.slowCallMs === undefined ? {} : { slowCallMs: config.slowCallMs }),
  };
}

/**
 * Lets promise continuations run until `done()` (a result reached the breaker), or for 200
 * microtask turns when none is coming. No time passes. A result that took longer would surface as a
 * divergence later (two results in one step), never as a silent pass.
 */
/**
 * Moves the clock by `ms` (or to the reference's next deadline), stopping at every deadline of the
 * reference on the way, and a millisecond before it, to compare both sides there.
 */
function advancer(clock: SimulatedClock, ref: ReferenceBreaker, compare: () => void) {
  return (ms: number | 'deadline') => {
    const target = ms === 'deadline' ? (ref.nextDeadline() ?? clock.now() + 1) : clock.now() + ms;
    for (let deadline = ref.nextDeadline(); deadline !== null && deadline <= target; deadline = ref.nextDeadline()) {
      if (deadline - 1 > clock.now()) {
        clock.set(deadline - 1);
        compare(); // nothing fires a millisecond early
      }
      clock.set(Math.max(deadline, clock.now()));
      ref.elapse(clock.now());
      compare();
    }
    clock.set(Math.max(target, clock.now()));
  };
}

async function flush(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 200 && !done(); turn++) await Promise.resolve();
}

interface Call {
  id: number;
  ticket: number;
  startedAt: number;
  outcome: 'success' | 'failure';
  error: Error | undefined;
  release: () => void;
  released: boolean;
  result?: { value: unknown } | { error: unknown };
}

/** What the generated sequences exercised, so a generator that stops reaching a corner is noticed. */
const coverage = {
  runs: 0,
  steps: 0,
  transitions: new Map<string, number>(),
  lateResults: 0,
  rejections: new Map<string, number>(),
  slowCalls: 0,
  /** State changes a peer's event made, by event. */
  peers: new Map<string, number>(),
  /** Runs that started from a restored snapshot, by state. */
  restores: new Map<string, number>(),
};
const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

class Divergence extends Error {
  override name = 'Divergence';
}

/** Runs one generated scenario against both; throws `Divergence` at the first difference. */
async function runScenario(
  config: RefConfig,
  commands: Command[],
  s: fc.Scheduler,
  reference = (c: RefConfig) => new ReferenceBreaker(c),
  restore: Restore | null = null,
): Promise<void> {
  const clock = new SimulatedClock();
  clock.set(START);
  const breaker = createCircuitBreaker(breakerOptions(config, clock));
  const ref = reference(config);
  const held: Call[] = [];
  const finished: Call[] = [];
  const trace: string[] = [];
  if (restore !== null) {
    const snapshot = snapshotOf(restore, config, START);
    breaker.actor.send({ type: 'RESTORE', at: START, ...snapshot, lastFailureAt: null, lastFailureReason: null });
    ref.restore(START, snapshot);
    bump(coverage.restores, snapshot.state);
    trace.push(`restore(${JSON.stringify(snapshot).replaceAll(String(START), 'START')})`);
  }
  let nextId = 0;

  const diverge = (what: string, real: unknown, expected: unknown): never => {
    throw new Divergence(
      `${what}\n  real:      ${JSON.stringify(real)}\n  reference: ${JSON.stringify(expected)}\n  after: ${trace.join(' → ')}`,
    );
  };
  let lastState: string = ref.state;
  coverage.runs++;
  const compare = () => {
    coverage.steps++;
    if (ref.state !== lastState) bump(coverage.transitions, `${lastState} → ${ref.state}`);
    lastState = ref.state;
    const { agentId: _id, ...seen } = breaker.getMetrics();
    const expected = ref.metrics();
    const a = seen.metrics;
    const b = expected.metrics;
    if (
      breaker.state !== expected.state ||
      seen.state !== expected.state ||
      seen.backoffSeconds !== expected.backoffSeconds ||
      a.failureCount !== b.failureCount ||
      a.successCount !== b.successCount ||
      a.totalFailures !== b.totalFailures ||
      a.totalRejections !== b.totalRejections ||
      a.lastFailureTime !== b.lastFailureTime ||
      a.lastSuccessTime !== b.lastSuccessTime ||
      Object.keys(a).length !== Object.keys(b).length
    ) {
      diverge('state or metrics differ', seen, expected);
    }
  };
  /** Feeds the results the real breaker processed during the last flush to the reference. */
  const settleFinished = () => {
    if (finished.length > 1) diverge('more than one result in one step', finished.length, 1);
    for (const call of finished.splice(0)) {
      if (call.ticket !== ref.currentTicket) coverage.lateResults++;
      if (config.slowCallMs !== undefined && clock.now() - call.startedAt > config.slowCallMs) coverage.slowCalls++;
      ref.settle(call.ticket, call.outcome === 'success', call.startedAt, clock.now());
      const result = call.result as { value: unknown } | { error: unknown };
      const ok =
        call.outcome === 'success'
          ? 'value' in result && result.value === call.id
          : 'error' in result && result.error === call.error;
      if (!ok) diverge(`call ${call.id} returned the wrong result`, result, call.outcome);
    }
  };

  const startCall = async (outcome: 'success' | 'failure', isHeld: boolean) => {
    const id = nextId++;
    const startedAt = clock.now();
    const admission = ref.admit(startedAt);
    let release = () => {};
    const gate = isHeld ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
    const error = outcome === 'failure' ? new Error(`call ${id} failed`) : undefined;
    let ran = false;
    const promise = breaker.execute(() => {
      ran = true;
      return gate.then(() => (outcome === 'success' ? id : Promise.reject(error)));
    });
    if (ran !== admission.admitted) diverge(`call ${id} admission`, ran, admission.admitted);
    if (!admission.admitted) {
      bump(coverage.rejections, admission.state);
      const rejection = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      if (
        !(rejection instanceof CircuitOpenError) ||
        rejection.state !== admission.state ||
        rejection.retryAfterMs !== admission.retryAfterMs
      ) {
        diverge(`call ${id} rejection`, rejection, admission);
      }
      return;
    }
    const call: Call = { id, ticket: admission.ticket, startedAt, outcome, error, release, released: !isHeld };
    promise.then(
      (value) => {
        call.result = { value };
        finished.push(call);
      },
      (e: unknown) => {
        call.result = { error: e };
        finished.push(call);
      },
    );
    if (isHeld) {
      held.push(call);
      void s.schedule(Promise.resolve(), `call ${id} (${outcome})`).then(() => releaseCall(call));
      return;
    }
    await flush(() => finished.length > 0);
    settleFinished();
  };
  const releaseCall = (call: Call) => {
    if (call.released) return;
    call.released = true;
    held.splice(held.indexOf(call), 1);
    call.release();
  };

  const advance = advancer(clock, ref, compare);

  try {
    for (const command of commands) {
      trace.push(
        command.kind === 'call'
          ? `${command.outcome}${command.held ? '(held)' : ''}`
          : command.kind === 'advance'
            ? `+${command.ms}`
            : command.kind === 'peerTrip'
              ? `peerTrip(+${command.inMs})`
              : command.kind,
      );
      switch (command.kind) {
        case 'call':
          await startCall(command.outcome, command.held);
          break;
        case 'settle':
          if (s.count() > 0) {
            await s.waitOne();
            await flush(() => finished.length > 0);
            settleFinished();
          }
          break;
        case 'late': {
          const oldest = held[0];
          if (oldest) {
            releaseCall(oldest);
            await flush(() => finished.length > 0);
            settleFinished();
          }
          break;
        }
        case 'advance':
          advance(command.ms);
          break;
        case 'isolate':
          breaker.isolate();
          ref.isolate();
          break;
        case 'reset':
          breaker.reset();
          ref.reset();
          break;
        case 'peerTrip': {
          const from = ref.state;
          const now = clock.now();
          breaker.actor.send({ type: 'PEER_TRIPPED', at: now, nextProbeAt: now + command.inMs });
          ref.peerTripped(now, now + command.inMs);
          if (ref.state !== from) bump(coverage.peers, `PEER_TRIPPED ${from} → ${ref.state}`);
          break;
        }
        case 'peerClose': {
          const from = ref.state;
          breaker.actor.send({ type: 'PEER_CLOSED', at: clock.now() });
          ref.peerClosed();
          if (ref.state !== from) bump(coverage.peers, `PEER_CLOSED ${from} → ${ref.state}`);
          break;
        }
      }
      compare();
    }
    // Every call still out returns, oldest first.
    trace.push('drain');
    while (held.length > 0) {
      releaseCall(held[0] as Call);
      await flush(() => finished.length > 0);
      settleFinished();
      compare();
    }
  } finally {
    breaker.stop();
  }
}

describe('the real breaker against the reference model', () => {
  it(`agrees on ${RUNS} generated sequences with concurrent calls`, async () => {
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(configArb, restoreArb, commandsArb, fc.scheduler(), async (config, restore, commands, s) => {
        await runScenario(config, commands, s, undefined, restore);
      }),
      { numRuns: RUNS },
    );
    const show = (map: Map<string, number>) => [...map].map(([k, n]) => `${k}: ${n}`).join(', ');
    console.log(
      `differential: ${RUNS} sequences (${coverage.steps} compared steps) agreed in ${Math.round(performance.now() - started)} ms\n` +
        `  transitions: ${show(coverage.transitions)}\n  rejections: ${show(coverage.rejections)}\n` +
        `  late results: ${coverage.lateResults}, slow calls: ${coverage.slowCalls}\n  peers: ${show(coverage.peers)}\n  restored: ${show(coverage.restores)}`,
    );
    // Every transition a user can see was exercised, and results arrived late in every state.
    for (const t of [
      'closed → open',
      'open → half_open',
      'half_open → closed',
      'half_open → open',
      'closed → isolated',
      'open → isolated',
      'half_open → isolated',
      'isolated → closed',
      'open → closed',
    ]) {
      expect(coverage.transitions.get(t) ?? 0, t).toBeGreaterThan(RUNS / 100);
    }
    for (const state of ['open', 'half_open', 'isolated']) {
      expect(coverage.rejections.get(state) ?? 0, state).toBeGreaterThan(RUNS / 100);
    }
    expect(coverage.lateResults).toBeGreaterThan(RUNS / 10);
    expect(coverage.slowCalls).toBeGreaterThan(RUNS / 100);
    // Peers trip closed and half-open circuits and close open and half-open ones.
    for (const t of [
      'PEER_TRIPPED closed → open',
      'PEER_TRIPPED half_open → open',
      'PEER_CLOSED open → closed',
      'PEER_CLOSED half_open → closed',
    ]) {
      expect(coverage.peers.get(t) ?? 0, t).toBeGreaterThan(RUNS / 100);
    }
    for (const state of ['closed', 'open', 'half_open', 'isolated']) {
      expect(coverage.restores.get(state) ?? 0, state).toBeGreaterThan(RUNS / 100);
    }
  });

  it('catches a divergence and prints the shrunk sequence', async () => {
    // A reference that forgets to grow the backoff after a failed recovery must be caught.
    const forgetful = (config: RefConfig) => new ReferenceBreaker({ ...config, multiplier: 1 });
    const config: RefConfig = {
      trip: { kind: 'consecutive', threshold: 1 },
      halfOpenMaxCalls: 1,
      halfOpenTimeoutMs: 500,
      initialMs: 100,
      multiplier: 2,
      maxMs: 800,
    };
    const failure = await fc
      .assert(
        fc.asyncProperty(fc.array(commandArb, { maxLength: 40 }), fc.scheduler(), (commands, s) =>
          runScenario(config, commands, s, forgetful),
        ),
        { numRuns: 2000, seed: 42 },
      )
      .then(
        () => null,
        (e: Error) => e,
      );
    // fast-check reports the shrunk sequence; the cause says what diverged and after which steps.
    expect(failure?.message).toMatch(/Counterexample: \[\[\{"kind":/);
    expect(failure?.message).toMatch(/Shrunk \d+ time/);
    const cause = failure?.cause as Error;
    expect(cause.message).toMatch(/^state or metrics differ/);
    expect(cause.message).toMatch(/"backoffSeconds":0.2\}\n {2}reference: .*"backoffSeconds":0.1\}/);
    expect(cause.message).toMatch(/after: .*failure/);
  });
});

/**
 * The reference against the statechart, event by event: the permits of a half-open window as the
 * machine hands them out (`PROBE` naming the window the caller saw, or the one before: a request
 * queued behind a change of state) and takes them back (`PROBE_RELEASED` from a probe that ended
 * with no verdict), with results, time, isolate and reset, and peers around them. The machine runs
 * as breakers without a shared lease run it (`localBreakerMachine`: each window holds its lease at
 * once), on a `SimulatedClock`; the runtime is not involved. A consecutive trip policy and no slow
 * calls: the window figures and durations are the runtime's, compared above.
 */
type EventCommand =
  /** A call asks to run, naming the period it saw: the current one, or the one before. */
  | { kind: 'call'; stale: boolean }
  /** An admitted call still out (picked by index) ends: a success, a failure, or no verdict. */
  | { kind: 'end'; pick: number; verdict: 'success' | 'failure' | 'none' }
  /**
   * The call that ended last reports no verdict as well, after its end (a duplicate), when no other
   * call holds a permit of its window: the guard keeps the permit a probe that succeeded holds, so a
   * window never has more successes than permits. (With another probe out, neither side can tell
   * the probes apart: the duplicate would take that probe's permit and its success would be ignored.
   * The runtime must report each probe once.)
   */
  | { kind: 'again' }
  | { kind: 'advance'; ms: number | 'deadline' }
  | { kind: 'isolate' }
  | { kind: 'reset' }
  | { kind: 'peerTrip'; inMs: number }
  | { kind: 'peerClose' };

const EVENT_RUNS = Math.max(1, Math.round(RUNS / 5));

const eventCommandArb: fc.Arbitrary<EventCommand> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ kind: fc.constant('call' as const), stale: fc.constantFrom(false, false, true) }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('end' as const),
      // Counted from the newest: usually a probe of the current window.
      pick: fc.oneof(fc.constant(0), fc.nat({ max: 7 })),
      verdict: fc.constantFrom('success' as const, 'failure' as const, 'none' as const, 'none' as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'again' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.constant('deadline' as const), fc.integer({ min: 1, max: 40_000 })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'isolate' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('peerTrip' as const), inMs: probeInMs }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'peerClose' as const }) },
);

/** Where a sequence starts: most in a half-open window, where permits are handed out. */
const startArb = fc.constantFrom('closed' as const, 'half_open' as const, 'half_open' as const);

/** The generated configurations, with a consecutive trip policy and no slow calls. */
const eventConfigArb: fc.Arbitrary<RefConfig> = configArb.map(({ slowCallMs: _slow, ...config }) => ({
  ...config,
  trip: config.trip.kind === 'consecutive' ? config.trip : { kind: 'consecutive' as const, threshold: 2 },
}));

/** What the event-by-event sequences exercised. */
const permitCoverage = {
  /** A probe of the current window gave its permit back. */
  givenBack: 0,
  /** A call admitted in a window whose permit had been given back while the budget was spent. */
  admittedAgain: 0,
  /** A request naming the window before, refused by a half-open window with permits left. */
  staleRefused: 0,
  /** A release that changed nothing: no permit out, an older window, not half-open. */
  ignoredReleases: 0,
};

/** Runs one sequence on the statechart and on `reference`; throws `Divergence` at the first difference. */
function runEvents(
  config: RefConfig,
  start: 'closed' | 'half_open',
  commands: EventCommand[],
  reference: (c: RefConfig) => ReferenceBreaker = (c) => new ReferenceBreaker(c),
): void {
  if (start === 'half_open') {
    // A peer's trip probing at once, then its (empty) open period elapses.
    commands = [{ kind: 'peerTrip', inMs: 0 }, { kind: 'advance', ms: 'deadline' }, ...commands];
  }
  const clock = new SimulatedClock();
  clock.set(START);
  const actor = createActor(localBreakerMachine, {
    input: { agentId: 'events', options: breakerOptions(config, clock), now: START },
    clock,
  });
  actor.start();
  const ref = reference(config);
  const trace: string[] = [];
  /** Calls admitted and not ended: their ticket (the generation they were admitted in). */
  const out: Array<{ ticket: number; startedAt: number }> = [];
  /** The call that ended last. */
  let lastEnded: { ticket: number } | null = null;
  /** The half-open window whose spent budget a release reopened. */
  let reopened: number | null = null;
  const context = () => actor.getSnapshot().context;
  const send = (event: BreakerEvent) => actor.send(event);
  const diverge = (what: string, real: unknown, expected: unknown): never => {
    throw new Divergence(
      `${what}\n  machine:   ${JSON.stringify(real)}\n  reference: ${JSON.stringify(expected)}\n  after: ${trace.join(' → ')}`,
    );
  };
  const compare = () => {
    const c = context();
    const real = {
      state: actor.getSnapshot().value,
      generation: c.generation,
      probes: { admitted: c.probesAdmitted, succeeded: c.probeSuccesses },
      failureCount: c.failureCount,
      backoffSeconds: c.backoffMs / 1000,
    };
    const { state, metrics, backoffSeconds } = ref.metrics();
    const expected = {
      state,
      generation: ref.currentTicket,
      probes: ref.probes,
      failureCount: metrics.failureCount,
      backoffSeconds,
    };
    if (JSON.stringify(real) !== JSON.stringify(expected)) diverge('state or permits differ', real, expected);
    // The runtime's answer at once, by the guard's rule, is the reference's answer to a call now.
    if (real.state === 'half_open' && mayAdmitProbe(c) !== ref.probes.admitted < config.halfOpenMaxCalls) {
      diverge('mayAdmitProbe() differs', mayAdmitProbe(c), ref.probes);
    }
  };
  const advance = advancer(clock, ref, compare);

  try {
    for (const command of commands) {
      const now = clock.now();
      switch (command.kind) {
        case 'call': {
          const seen = ref.currentTicket - (command.stale ? 1 : 0);
          trace.push(`call(${command.stale ? 'stale' : 'current'})`);
          const state = actor.getSnapshot().value;
          const before = context().probesAdmitted;
          const budgetLeft = state === 'half_open' && ref.probes.admitted < config.halfOpenMaxCalls;
          send({ type: 'PROBE', at: now, generation: seen });
          const admitted = state === 'closed' || context().probesAdmitted === before + 1;
          const admission = ref.admit(now, seen);
          if (admitted !== admission.admitted) diverge(`call ${trace.length} admission`, admitted, admission);
          if (admission.admitted) {
            out.push({ ticket: admission.ticket, startedAt: now });
            if (state === 'half_open' && reopened === ref.currentTicket) {
              permitCoverage.admittedAgain++;
              reopened = null;
            }
          } else if (command.stale && budgetLeft) {
            permitCoverage.staleRefused++;
          }
          break;
        }
        case 'end': {
          if (out.length === 0) {
            trace.push('end(none out)');
            break;
          }
          const index = out.length - 1 - (command.pick % out.length);
          const [call] = out.splice(index, 1) as [{ ticket: number; startedAt: number }];
          lastEnded = call;
          const late = call.ticket !== ref.currentTicket ? ', late' : '';
          trace.push(`${command.verdict}(${call.ticket - ref.currentTicket}${late})`);
          if (command.verdict === 'none') {
            const spent = ref.probes.admitted === config.halfOpenMaxCalls;
            const held = ref.probes.admitted;
            send({ type: 'PROBE_RELEASED', generation: call.ticket, at: now });
            ref.release(call.ticket);
            if (ref.probes.admitted === held - 1) {
              permitCoverage.givenBack++;
              if (spent) reopened = ref.currentTicket;
            } else permitCoverage.ignoredReleases++;
          } else {
            const succeeded = command.verdict === 'success';
            send(
              succeeded
                ? { type: 'SUCCESS', generation: call.ticket, at: now }
                : { type: 'FAILURE', generation: call.ticket, at: now, reason: 'failed' },
            );
            ref.settle(call.ticket, succeeded, call.startedAt, now);
          }
          break;
        }
        case 'again': {
          const { admitted, succeeded } = ref.probes;
          if (lastEnded === null || admitted > succeeded) {
            trace.push('again(skipped)');
            break;
          }
          trace.push(`again(${lastEnded.ticket - ref.currentTicket})`);
          const held = ref.probes.admitted;
          send({ type: 'PROBE_RELEASED', generation: lastEnded.ticket, at: now });
          ref.release(lastEnded.ticket);
          if (ref.probes.admitted === held) permitCoverage.ignoredReleases++;
          break;
        }
        case 'advance':
          trace.push(`+${command.ms}`);
          advance(command.ms);
          break;
        case 'isolate':
          trace.push('isolate');
          send({ type: 'ISOLATE', at: now });
          ref.isolate();
          break;
        case 'reset':
          trace.push('reset');
          send({ type: 'RESET', at: now });
          ref.reset();
          break;
        case 'peerTrip':
          trace.push(`peerTrip(+${command.inMs})`);
          send({ type: 'PEER_TRIPPED', at: now, nextProbeAt: now + command.inMs });
          ref.peerTripped(now, now + command.inMs);
          break;
        case 'peerClose':
          trace.push('peerClose');
          send({ type: 'PEER_CLOSED', at: now });
          ref.peerClosed();
          break;
      }
      compare();
    }
  } finally {
    actor.stop();
  }
}

describe('the reference model against the statechart, event by event: probe permits', () => {
  it(`agrees on ${EVENT_RUNS} generated sequences of permit requests, releases and results`, () => {
    fc.assert(
      fc.property(
        eventConfigArb,
        startArb,
        fc.array(eventCommandArb, { maxLength: 40, size: 'medium' }),
        (config, start, commands) => runEvents(config, start, commands),
      ),
      { numRuns: EVENT_RUNS },
    );
    console.log(`differential, event by event: ${EVENT_RUNS} sequences; ${JSON.stringify(permitCoverage)}`);
    // Measured at 2000 sequences: ~320 permits given back, ~30-50 admitted again, ~750 stale
    // requests refused, ~2900 releases ignored.
    expect(permitCoverage.givenBack).toBeGreaterThan(EVENT_RUNS / 20);
    expect(permitCoverage.admittedAgain).toBeGreaterThan(EVENT_RUNS / 200);
    expect(permitCoverage.staleRefused).toBeGreaterThan(EVENT_RUNS / 10);
    expect(permitCoverage.ignoredReleases).toBeGreaterThan(EVENT_RUNS / 10);
  });

  /** A reference that hands a permit to a request for an older window. */
  class AnyWindow extends ReferenceBreaker {
    override admit(now: number) {
      return super.admit(now);
    }
  }
  /** A reference that never takes a permit back. */
  class KeepsPermits extends ReferenceBreaker {
    override release() {}
  }
  /** A reference that takes back a permit a succeeded probe holds. */
  class ReleasesSucceeded extends ReferenceBreaker {
    override release(ticket: number) {
      if (this.state === 'half_open' && ticket === this.currentTicket && this.permits > 0) this.permits--;
    }
  }

  it.each([
    ['hands a permit to a request for an older window', (c: RefConfig) => new AnyWindow(c)],
    ['never takes a permit back', (c: RefConfig) => new KeepsPermits(c)],
    ["takes back a succeeded probe's permit", (c: RefConfig) => new ReleasesSucceeded(c)],
  ])('catches a reference that %s', (_name, reference) => {
    const failure = (() => {
      try {
        fc.assert(
          fc.property(
            eventConfigArb,
            startArb,
            fc.array(eventCommandArb, { maxLength: 40 }),
            (config, start, commands) => runEvents(config, start, commands, reference),
          ),
          { numRuns: 2000, seed: 42 },
        );
        return null;
      } catch (error) {
        return error as Error;
      }
    })();
    expect(failure?.message).toMatch(/Shrunk \d+ time/);
    expect((failure?.cause as Error | undefined)?.message).toMatch(
      /^(state or permits differ|call \d+ admission|mayAdmitProbe)/,
    );
  });
});
