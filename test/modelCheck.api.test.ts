/**
 * `modelCheck()` and `replayPath()` from `breakerbox/testing`: what users get. They must find real
 * violations (a wrong invariant of the user's, a broken guard of ours) with the shortest path, turn
 * that path back into a live replay, and reject bad input with `ConfigError` naming the field.
 */
import { describe, expect, it } from 'vitest';
import { assign } from 'xstate';
import {
  alwaysGrantedLease,
  type BreakerContext,
  type BreakerEvent,
  circuitBreakerMachine,
  mayAdmitProbe,
} from '../machines/circuitBreaker.js';
import { ConfigError } from '../src/common/errors.js';
import { checkBreakerMachine } from '../src/testing/modelCheck.js';
import { type ModelCheckOptions, modelCheck, replayPath, SimulatedClock } from '../src/testing.js';
import { breakerGrid, explore } from './support/exploreBreaker.js';
import { ignoresTheLease, losesReleasedPermit } from './support/permitMutants.js';

const types = (path: Array<{ type: string }>) => path.map((e) => e.type);
const AFTER_BACKOFF = 'xstate.after.backoff.circuitBreaker.open';

describe('modelCheck()', () => {
  it('passes the default configuration with every state and edge explored', () => {
    const result = modelCheck();
    expect(result).toMatchObject({ ok: true, complete: true, violations: [] });
    // 138 states and 1224 edges before the lease, peers and restores (issue 8); 2562 edges before
    // permit requests naming a window and PROBE_RELEASED (four events more per state, no state more).
    expect(result.states).toBe(168);
    expect(result.edges).toBeGreaterThanOrEqual(3234);
  });

  it('passes every configuration of the grid, agreeing with our own exploration on the states', () => {
    for (const { name, options } of breakerGrid()) {
      const result = modelCheck({ breaker: options });
      expect(result.violations, name).toEqual([]);
      expect(result.ok, name).toBe(true);
      // Same abstraction for consecutive policies (a rate policy's closed failure count is keyed
      // zero/non-zero here and not at all in the test's explorer).
      if (options.trip === undefined) expect(result.states, name).toBe(explore(options).keys.length);
    }
  });

  it('finds a wrong user invariant and returns the shortest counterexample, which replays', () => {
    const breaker = { failureThreshold: 2, halfOpenMaxCalls: 3 };
    const result = modelCheck({
      breaker,
      invariants: [
        { name: 'the breaker reaches half-open', check: () => true },
        // Wrong: a half-open window takes three successes to close, so it holds two on the way.
        { name: 'a window holds at most one probe success', check: (s) => s.context.probeSuccesses < 2 },
      ],
    });
    expect(result.ok).toBe(false);
    expect(result.violations).toHaveLength(1);
    const [violation] = result.violations;
    expect(violation?.invariant).toBe('a window holds at most one probe success');
    expect(violation?.state.value).toBe('half_open');
    expect(violation?.state.context).toMatchObject({ probeSuccesses: 2, probesAdmitted: 2, probeLease: 'granted' });
    // The shortest way into a half-open window is a restored snapshot; the lease's answer is a step.
    expect(violation?.path).toEqual([
      {
        type: 'RESTORE',
        at: 0,
        state: 'half_open',
        failureCount: 2,
        backoffMs: 1000,
        nextProbeAt: null,
        lastFailureAt: 0,
        lastFailureReason: 'model-check failure',
      },
      { type: 'LEASE_GRANTED' },
      { type: 'PROBE', at: 0 },
      { type: 'SUCCESS', generation: 1, at: 0 },
      { type: 'PROBE', at: 0 },
      { type: 'SUCCESS', generation: 1, at: 0 },
    ]);

    const replay = replayPath(violation?.path ?? [], breaker);
    expect(replay.states).toEqual(['closed', ...Array(6).fill('half_open')]);
    expect(replay.snapshots.map((s) => s.context.probeLease)).toEqual([
      'pending',
      'pending',
      'granted',
      'granted',
      'granted',
      'granted',
      'granted',
    ]);
    expect(replay.snapshots.at(-1)?.context).toMatchObject({ probeSuccesses: 2, probesAdmitted: 2 });
  });

  const growingBackoff = {
    failureThreshold: 2,
    halfOpenMaxCalls: 1,
    backoff: { initialMs: 1000, multiplier: 2, maxMs: 8000 },
  };

  it('finds a long backoff in one step, a restored snapshot, and replays it', () => {
    const result = modelCheck({
      breaker: growingBackoff,
      invariants: [{ name: 'the open period stays under 3 s', check: (s) => s.context.backoffMs < 3000 }],
    });
    expect(result.ok).toBe(false);
    expect(result.violations).toHaveLength(1);
    const [violation] = result.violations;
    expect(violation?.invariant).toBe('the open period stays under 3 s');
    expect(violation?.state.value).toBe('open');
    expect(violation?.state.context.backoffMs).toBeGreaterThanOrEqual(3000);
    // The shortest path: a snapshot restored at that level, not failed recoveries.
    expect(types(violation?.path ?? [])).toEqual(['RESTORE']);
    const replay = replayPath(violation?.path ?? [], growingBackoff);
    expect(replay.states).toEqual(['closed', 'open']);
    expect(replay.snapshots.at(-1)?.context).toEqual(violation?.state.context);
  });

  it('replays the backoff growing through failed recoveries, on the simulated clock', () => {
    // The long way to a long backoff, written by hand: failures only, no restores or peers.
    const breaker = growingBackoff;
    const replay = replayPath(
      [
        { type: 'FAILURE', generation: 0, at: 0, reason: 'model-check failure' },
        { type: 'FAILURE', generation: 0, at: 0, reason: 'model-check failure' },
        { type: AFTER_BACKOFF },
        { type: 'LEASE_GRANTED' },
        { type: 'PROBE', at: 0 },
        { type: 'FAILURE', generation: 2, at: 0, reason: 'model-check failure' },
        { type: AFTER_BACKOFF },
        { type: 'LEASE_GRANTED' },
        { type: 'PROBE', at: 0 },
        { type: 'FAILURE', generation: 4, at: 0, reason: 'model-check failure' },
      ],
      breaker,
    );
    expect(replay.states).toEqual([
      'closed',
      'closed',
      'open',
      'half_open',
      'half_open',
      'half_open',
      'open',
      'half_open',
      'half_open',
      'half_open',
      'open',
    ]);
    // The backoff elapsed on the simulated clock: 1 s, then 2 s.
    expect(replay.times).toEqual([0, 0, 0, 1000, 1000, 1000, 1000, 3000, 3000, 3000, 3000]);
    expect(replay.snapshots.at(-1)?.context.backoffMs).toBe(4000);
  });

  it('reports a user invariant that throws, with the path to where it threw', () => {
    const result = modelCheck({
      breaker: { failureThreshold: 1 },
      invariants: [
        {
          name: 'reads a probe field',
          check: (s) => {
            if (s.value === 'open') throw new Error('no probe while open');
            return true;
          },
        },
      ],
    });
    expect(result.violations).toMatchObject([
      { invariant: 'reads a probe field', message: /threw.*no probe while open/ },
    ]);
    expect(types(result.violations[0]?.path ?? [])).toEqual(['FAILURE']);
  });

  it.each([
    [
      'half-open admits more probes than its budget',
      { probeBudgetLeft: () => true },
      'half-open admits at most halfOpenMaxCalls probes',
    ],
    [
      'probes go out without the lease',
      {
        probeBudgetLeft: ({ context }: { context: BreakerContext }) =>
          context.probesAdmitted < context.policy.halfOpenMaxCalls,
      },
      'no probe admitted without the lease',
    ],
    [
      'late results count while closed',
      { isCurrentGeneration: () => true },
      'a result of an older generation never changes the state',
    ],
    [
      'late probe results count',
      { isProbeResult: () => true },
      'a result of an older generation never changes the state',
    ],
    [
      'the trip policy is ignored',
      { failureThresholdReached: () => false },
      'closed trips open exactly when the trip policy says so',
    ],
    [
      'one success closes',
      { lastProbeSucceeded: () => true },
      'half-open closes only after halfOpenMaxCalls successes in its window',
    ],
    [
      'a breaker that moved accepts a restore',
      { restoresOpen: ({ event }: { event: BreakerEvent }) => event.type === 'RESTORE' && event.state === 'open' },
      'RESTORE only from a pristine breaker',
    ],
  ] as const)('its built-in invariants catch a broken machine: %s', (_name, guards, invariant) => {
    const broken = circuitBreakerMachine.provide({ guards });
    // A broken budget makes the space infinite: maxStates bounds it.
    const result = checkBreakerMachine(broken, {
      breaker: { failureThreshold: 2, halfOpenMaxCalls: 2 },
      maxStates: 500,
    });
    expect(result.ok).toBe(false);
    const found = result.violations.find((v) => v.invariant === invariant);
    expect(found, result.violations.map((v) => v.invariant).join('; ')).toBeDefined();
    expect(found?.path.length).toBeLessThanOrEqual(7);
  });

  it.each([
    [
      "a peer's trip waits one backoff, not the peer's nextProbeAt",
      {
        openLikePeer: assign(({ context }: { context: BreakerContext }) => ({
          generation: context.generation + 1,
          probeDelayMs: context.backoffMs,
          nextProbeAt: context.changedAt + context.backoffMs,
          probesAdmitted: 0,
          probeSuccesses: 0,
        })),
      },
      "PEER_TRIPPED opens until exactly the peer's nextProbeAt",
    ],
    [
      'a denied lease still lets probes in',
      { denyLease: assign({ probeLease: 'granted' as const }) },
      "the lease's answer sets the lease and nothing else",
    ],
  ] as const)('its built-in invariants catch a broken action: %s', (_name, actions, invariant) => {
    const broken = circuitBreakerMachine.provide({ actions } as Parameters<typeof circuitBreakerMachine.provide>[0]);
    const result = checkBreakerMachine(broken, { breaker: { failureThreshold: 2, halfOpenMaxCalls: 2 } });
    expect(result.violations.map((v) => v.invariant)).toContain(invariant);
  });

  const keepsThePermit = {
    actions: {
      releaseProbe: assign(({ context }: { context: BreakerContext }) => ({ probesAdmitted: context.probesAdmitted })),
    },
  };
  const releaseOnly = 'PROBE_RELEASED gives back one permit of the current window, and changes nothing else';
  const liveness = 'a permit given back is admitted again';

  it.each([
    [
      'a permit is given back with none out',
      { guards: { probePermitOut: () => true } },
      ['probe permits are never negative', 'never more probe successes than probes admitted', releaseOnly],
      'PROBE_RELEASED',
    ],
    [
      "a succeeded probe's permit is given back",
      {
        guards: {
          probePermitOut: ({ context, event }: { context: BreakerContext; event: BreakerEvent }) =>
            event.type === 'PROBE_RELEASED' && event.generation === context.generation && context.probesAdmitted > 0,
        },
      },
      ['never more probe successes than probes admitted', releaseOnly],
      'PROBE_RELEASED',
    ],
    [
      'a permit of an older window is given back',
      {
        guards: {
          probePermitOut: ({ context }: { context: BreakerContext }) => context.probesAdmitted > context.probeSuccesses,
        },
      },
      [releaseOnly],
      'PROBE_RELEASED',
    ],
    ['PROBE_RELEASED keeps the permit', keepsThePermit, [releaseOnly, liveness], 'PROBE_RELEASED'],
    [
      'PROBE_RELEASED starts a new generation',
      {
        actions: {
          releaseProbe: assign(({ context }: { context: BreakerContext }) => ({
            probesAdmitted: context.probesAdmitted - 1,
            generation: context.generation + 1,
          })),
        },
      },
      [releaseOnly],
      'PROBE_RELEASED',
    ],
    [
      'a request for an older window takes a permit',
      { guards: { probeBudgetLeft: ({ context }: { context: BreakerContext }) => mayAdmitProbe(context) } },
      ['a PROBE for an older window changes nothing'],
      'PROBE',
    ],
    [
      'the guard admits probes without the lease, unlike mayAdmitProbe()',
      ignoresTheLease,
      ['mayAdmitProbe() answers every PROBE of a half-open window as the machine does'],
      'PROBE',
    ],
    [
      // The window a release leaves has the key of one reached with fewer steps, which is the one
      // explored further: only the two-step invariant, stepping from the release's own target, sees it.
      'a permit given back is lost to context the state key leaves out',
      losesReleasedPermit,
      [liveness],
      'PROBE_RELEASED',
    ],
  ] as const)(
    'its built-in invariants on probe permits catch a broken machine: %s',
    (_name, implementations, invariants, last) => {
      const broken = circuitBreakerMachine.provide(
        implementations as Parameters<typeof circuitBreakerMachine.provide>[0],
      );
      // A permit given back with none out makes the space infinite: maxStates bounds it.
      const result = checkBreakerMachine(broken, {
        breaker: { failureThreshold: 2, halfOpenMaxCalls: 2 },
        maxStates: 500,
      });
      expect(result.ok).toBe(false);
      const names = result.violations.map((v) => v.invariant);
      for (const invariant of invariants) {
        const found = result.violations.find((v) => v.invariant === invariant);
        expect(found, names.join('; ')).toBeDefined();
        // The shortest counterexample: into a granted window, a probe, then the step that breaks it.
        expect(found?.path.length).toBeLessThanOrEqual(6);
        expect(found?.path.at(-1)?.type).toBe(last);
      }
    },
  );

  it('only the two-step invariant sees a permit lost to context the state key leaves out', () => {
    const lost = circuitBreakerMachine.provide(losesReleasedPermit);
    const result = checkBreakerMachine(lost, { breaker: { failureThreshold: 2, halfOpenMaxCalls: 2 } });
    expect(result.violations.map((v) => v.invariant)).toEqual([liveness]);
  });

  it("a broken release's counterexample replays on the real machine, which gives the permit back", () => {
    const breaker = { failureThreshold: 2, halfOpenMaxCalls: 2 };
    const broken = circuitBreakerMachine.provide(keepsThePermit as Parameters<typeof circuitBreakerMachine.provide>[0]);
    const found = checkBreakerMachine(broken, { breaker }).violations.find((v) => v.invariant === releaseOnly);
    expect(types(found?.path ?? [])).toEqual(['RESTORE', 'LEASE_GRANTED', 'PROBE', 'PROBE_RELEASED']);
    expect(found?.state.context.probesAdmitted).toBe(1);
    const replay = replayPath(found?.path ?? [], breaker);
    expect(replay.snapshots.map((s) => s.context.probesAdmitted)).toEqual([0, 0, 0, 1, 0]);
  });

  it('explores the lease with a lease actor that never answers, whatever the machine provides', () => {
    // A machine whose lease grants at once explores the same space: the answer is an explicit step.
    const granting = circuitBreakerMachine.provide({ actors: { probeLease: alwaysGrantedLease } });
    const options = { breaker: { failureThreshold: 2, halfOpenMaxCalls: 2 } };
    const result = checkBreakerMachine(granting, options);
    expect(result).toMatchObject({ ok: true, states: modelCheck(options).states });
    const probe = modelCheck({
      ...options,
      invariants: [{ name: 'never a probe', check: (s) => s.context.probesAdmitted === 0 }],
    });
    expect(types(probe.violations[0]?.path ?? [])).toEqual(['RESTORE', 'LEASE_GRANTED', 'PROBE']);
  });

  it('stops at maxStates and says the result is incomplete', () => {
    const result = modelCheck({ maxStates: 10 });
    expect(result).toMatchObject({ ok: false, complete: false, violations: [] });
    expect(result.states).toBeGreaterThan(10);
  });

  it.each([
    [{ breaker: { failureThreshold: 0 } }, 'breaker.failureThreshold'],
    [{ breaker: { backoff: { multiplier: 0.5 } } }, 'breaker.backoff.multiplier'],
    [{ breaker: { nope: 1 } }, 'breaker.nope'],
    [{ invariants: {} }, 'invariants'],
    [{ invariants: [{ name: 'x' }] }, 'invariants[0].check'],
    [{ invariants: [{ name: '', check: () => true }] }, 'invariants[0].name'],
    [{ maxStates: 0 }, 'maxStates'],
    [{ maxStates: 1.5 }, 'maxStates'],
    [{ depth: 3 }, 'depth'],
  ])('rejects %j with a ConfigError naming %s', (options, field) => {
    expect(() => modelCheck(options as unknown as ModelCheckOptions)).toThrow(ConfigError);
    expect(() => modelCheck(options as unknown as ModelCheckOptions)).toThrow(expect.objectContaining({ field }));
  });
});

describe('replayPath()', () => {
  it('replays events on a live actor, firing delayed transitions on the simulated clock', () => {
    const { states, times, snapshots } = replayPath(
      [
        { type: 'FAILURE', generation: 0, at: 0, reason: 'boom' },
        { type: AFTER_BACKOFF },
        { type: 'PROBE', at: 0 },
        { type: 'LEASE_GRANTED' },
        { type: 'PROBE', at: 0 },
        { type: 'xstate.after.halfOpenTimeout.circuitBreaker.half_open' },
        { type: 'ISOLATE', at: 0 },
        { type: 'RESET', at: 0 },
      ],
      { failureThreshold: 1, halfOpenTimeoutMs: 5000 },
    );
    expect(states).toEqual([
      'closed',
      'open',
      'half_open',
      'half_open',
      'half_open',
      'half_open',
      'open',
      'isolated',
      'closed',
    ]);
    expect(times).toEqual([0, 0, 1000, 1000, 1000, 1000, 6000, 6000, 6000]);
    // The lease answers only when the path says so: the first PROBE is refused.
    expect(snapshots.slice(2, 6).map((s) => [s.context.probeLease, s.context.probesAdmitted])).toEqual([
      ['pending', 0],
      ['pending', 0],
      ['granted', 0],
      ['granted', 1],
    ]);
  });

  it('replays permit requests naming a window and permits given back', () => {
    const { states, snapshots } = replayPath(
      [
        { type: 'FAILURE', generation: 0, at: 0, reason: 'boom' },
        { type: AFTER_BACKOFF },
        { type: 'LEASE_GRANTED' },
        { type: 'PROBE', at: 0, generation: 2 },
        { type: 'PROBE_RELEASED', generation: 1, at: 0 }, // a probe of an older window: nothing
        { type: 'PROBE_RELEASED', generation: 2, at: 0 }, // this window's: the permit is back
        { type: 'PROBE_RELEASED', generation: 2, at: 0 }, // none out: nothing
        { type: 'PROBE', at: 0, generation: 1 }, // queued behind the change to half-open: refused
        { type: 'PROBE', at: 0, generation: 2 },
        { type: 'PROBE', at: 0 },
        { type: 'SUCCESS', generation: 2, at: 0 },
        { type: 'PROBE_RELEASED', generation: 2, at: 0 }, // one permit is still out
        { type: 'PROBE', at: 0, generation: 2 },
        { type: 'SUCCESS', generation: 2, at: 0 },
      ],
      { failureThreshold: 1, halfOpenMaxCalls: 2 },
    );
    expect(states).toEqual(['closed', 'open', ...Array(12).fill('half_open'), 'closed']);
    expect(snapshots.slice(3).map((s) => [s.context.probesAdmitted, s.context.probeSuccesses])).toEqual([
      [0, 0],
      [1, 0],
      [1, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [1, 0],
      [2, 0],
      [2, 1],
      [1, 1],
      [2, 1],
      [0, 0],
    ]);
  });

  it("moves a peer's and a snapshot's nextProbeAt to the clock's time with the event", () => {
    const peer = replayPath(
      [
        { type: 'FAILURE', generation: 0, at: 0, reason: 'boom' },
        { type: AFTER_BACKOFF },
        { type: 'PEER_TRIPPED', at: 0, nextProbeAt: 5000 },
        { type: AFTER_BACKOFF },
        { type: 'PEER_CLOSED', at: 0 },
      ],
      { failureThreshold: 1 },
    );
    expect(peer.states).toEqual(['closed', 'open', 'half_open', 'open', 'half_open', 'closed']);
    expect(peer.times).toEqual([0, 0, 1000, 1000, 6000, 6000]);
    expect(peer.snapshots[3]?.context).toMatchObject({ nextProbeAt: 6000, probeDelayMs: 5000, backoffMs: 1000 });

    const restored = replayPath(
      [
        { type: 'ISOLATE', at: 0 },
        {
          type: 'RESTORE',
          at: 0,
          state: 'open',
          failureCount: 5,
          backoffMs: 1500,
          nextProbeAt: 700,
          lastFailureAt: -100,
          lastFailureReason: 'x',
        },
      ],
      {},
    );
    // A breaker that moved refuses a restore.
    expect(restored.states).toEqual(['closed', 'isolated', 'isolated']);
    const fresh = replayPath(
      [
        {
          type: 'RESTORE',
          at: 0,
          state: 'open',
          failureCount: 5,
          backoffMs: 1500,
          nextProbeAt: 700,
          lastFailureAt: -100,
          lastFailureReason: 'x',
        },
        { type: AFTER_BACKOFF },
      ],
      {},
    );
    expect(fresh.states).toEqual(['closed', 'open', 'half_open']);
    expect(fresh.times).toEqual([0, 0, 700]);
    expect(fresh.snapshots[1]?.context).toMatchObject({
      failureCount: 5,
      backoffMs: 1500,
      nextProbeAt: 700,
      lastFailureAt: -100,
    });
  });

  it('stamps events with the clock time', () => {
    const { snapshots } = replayPath(
      [
        { type: 'FAILURE', generation: 0, at: 123, reason: 'boom' },
        { type: AFTER_BACKOFF },
        { type: 'LEASE_GRANTED' },
        { type: 'PROBE', at: 0 },
        { type: 'FAILURE', generation: 2, at: 0, reason: 'again' },
      ],
      { failureThreshold: 1 },
    );
    expect(snapshots[1]?.context.nextProbeAt).toBe(1000);
    expect(snapshots[5]?.context).toMatchObject({ lastFailureAt: 1000, nextProbeAt: 2500, backoffMs: 1500 });
  });

  /** A well-formed restore, for the bad-path table to spoil one field of. */
  const restore = {
    type: 'RESTORE',
    at: 0,
    state: 'open',
    failureCount: 5,
    backoffMs: 1000,
    nextProbeAt: 1000,
    lastFailureAt: 0,
    lastFailureReason: 'boom',
  } as const;

  it('accepts the well-formed restore the bad-path table spoils', () => {
    expect(replayPath([restore]).states).toEqual(['closed', 'open']);
    expect(replayPath([{ ...restore, lastFailureAt: null, lastFailureReason: null }]).states).toEqual([
      'closed',
      'open',
    ]);
  });

  it.each([
    [[{ type: 'NOPE' }], {}, 'path[0].type'],
    [[{ type: 'RESET', at: 0 }, 7], {}, 'path[1]'],
    [[{ type: AFTER_BACKOFF }], {}, 'path[0].type'],
    [[{ type: 'PEER_TRIPPED', at: 0 }], {}, 'path[0].nextProbeAt'],
    [[{ type: 'RESTORE', at: 0, state: 'ajar' }], {}, 'path[0].state'],
    [[{ type: 'RESTORE', at: 0, state: 'open', failureCount: 0, backoffMs: -1 }], {}, 'path[0].backoffMs'],
    [[{ type: 'SUCCESS', at: 0 }], {}, 'path[0].generation'],
    [
      [
        { type: 'RESET', at: 0 },
        { type: 'FAILURE', at: 0, reason: 'boom' },
      ],
      {},
      'path[1].generation',
    ],
    [[{ type: 'FAILURE', generation: '0', at: 0, reason: 'boom' }], {}, 'path[0].generation'],
    [[{ type: 'FAILURE', generation: 0, at: 0 }], {}, 'path[0].reason'],
    [[{ type: 'PROBE_RELEASED', at: 0 }], {}, 'path[0].generation'],
    [[{ type: 'PROBE_RELEASED', generation: 0.5, at: 0 }], {}, 'path[0].generation'],
    [[{ type: 'PROBE', at: 0, generation: '1' }], {}, 'path[0].generation'],
    [[{ ...restore, lastFailureAt: undefined }], {}, 'path[0].lastFailureAt'],
    [[{ ...restore, lastFailureAt: '5' }], {}, 'path[0].lastFailureAt'],
    [[{ ...restore, lastFailureReason: 7 }], {}, 'path[0].lastFailureReason'],
    ['FAILURE', {}, 'path'],
    [[], { halfOpenMaxCalls: 0 }, 'halfOpenMaxCalls'],
  ])('rejects %j (options %j) with a ConfigError naming %s', (path, options, field) => {
    const run = () => replayPath(path as never, options);
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(expect.objectContaining({ field }));
  });

  it('is exported next to SimulatedClock', () => {
    expect(new SimulatedClock().now()).toBe(0);
  });
});

/** The README's "Model-check your configuration" test, as a user would write it. */
describe('the README example', () => {
  it("finds that a peer's trip opens the circuit, and replays it", () => {
    const options = { failureThreshold: 3, halfOpenMaxCalls: 2 };
    const result = modelCheck({
      breaker: options,
      invariants: [{ name: 'never opens', check: (snapshot) => snapshot.value !== 'open' }],
    });
    expect(result.violations.map((v) => v.invariant)).toEqual(['never opens']);
    expect(result.states).toBe(116);
    const [violation] = result.violations;
    expect(types(violation?.path ?? [])).toEqual(['PEER_TRIPPED']);
    expect(replayPath(violation?.path ?? [], options).states).toEqual(['closed', 'open']);
    // Three failures in a row, written by hand, open it too.
    const failure = { type: 'FAILURE', generation: 0, at: 0, reason: 'boom' } as const;
    expect(replayPath([failure, failure, failure], options).states.at(-1)).toBe('open');

    // Our own invariants hold for this configuration.
    expect(modelCheck({ breaker: options }).ok).toBe(true);
  });
});
