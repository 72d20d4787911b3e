/**
 * The events a model check tries in every state of the breaker machine: results of the current
 * generation and of an older one (late results), permit requests (for the current half-open window
 * and for an older one), permits given back (`PROBE_RELEASED`), manual isolate and reset, the
 * probe lease's answer, a peer instance's trip and close, a restore from a snapshot, and the
 * state's delayed (`after`) transitions, named as XState names them
 * (`xstate.after.backoff.circuitBreaker.open`).
 */
import { fromCallback } from 'xstate';
import type { BreakerPolicy, RateTripPolicy } from '../../machines/breakerOptions.js';
import {
  type BreakerEvent,
  type BreakerState,
  circuitBreakerMachine,
  type ProbeLeaseInput,
} from '../../machines/circuitBreaker.js';

/** The event XState raises when a delayed transition's time is up: `xstate.after.<delay>.<state id>`. */
export interface DelayedEvent {
  type: `xstate.after.${string}`;
}

/** One step of an explored path: a breaker event, or time passing until a delayed transition fires. */
export type ExplorationEvent = BreakerEvent | DelayedEvent;

/** The `reason` explored failures carry. */
const EXPLORED_FAILURE_REASON = 'model-check failure';

/**
 * A probe lease that never answers: the half-open state still invokes it, and its answers
 * (`LEASE_GRANTED`, `LEASE_DENIED`) are explicit steps of an explored or replayed path, so nothing
 * depends on an invoked actor running.
 */
const manualLease = fromCallback<{ type: 'LEASE_GRANTED' }, ProbeLeaseInput>(() => {});

/** `machine` with the manual lease: the machine model checks explore and replays run. */
export function withManualLease(machine: typeof circuitBreakerMachine = circuitBreakerMachine) {
  return machine.provide({ actors: { probeLease: manualLease } });
}

/** The parts of a breaker snapshot exploration reads (any XState machine snapshot of the breaker fits). */
export interface BreakerSnapshotLike {
  value: BreakerState;
  context: {
    generation: number;
    policy: BreakerPolicy;
    backoffMs: number;
    probeLease: 'pending' | 'granted' | 'denied';
  };
}

const delayedByState = new Map<string, DelayedEvent[]>();

/** The delayed events the state `value` schedules on entry (none for `closed` and `isolated`). */
export function delayedEvents(value: BreakerState): DelayedEvent[] {
  let events = delayedByState.get(value);
  if (events === undefined) {
    const node = circuitBreakerMachine.getStateNodeById(`${circuitBreakerMachine.id}.${value}`);
    const types = [...new Set(node.after.map((transition) => transition.eventType as string))];
    events = types.map((type) => ({ type }) as DelayedEvent);
    delayedByState.set(value, events);
  }
  return events;
}

/** Whether `event` is a delayed transition's event rather than one a caller sends. */
export function isDelayedEvent(event: { type: string }): event is DelayedEvent {
  return event.type.startsWith('xstate.after.');
}

/**
 * Sliding-window figures (`windowCalls`, `windowFailures`) around the rate policy's boundaries:
 * just below `minimumCalls`, at it, and with a full window; for each, a failure share just below
 * `failureRate`, exactly at it, and every call failed. The guard only compares these figures with
 * the policy, so these partitions stand for every figure the runtime can send.
 */
function rateWindowFigures(trip: RateTripPolicy): Array<{ windowCalls: number; windowFailures: number }> {
  const callCounts = new Set([
    Math.max(1, trip.minimumCalls - 1),
    trip.minimumCalls,
    trip.window === 'count' ? trip.size : trip.minimumCalls + 1,
  ]);
  const figures: Array<{ windowCalls: number; windowFailures: number }> = [];
  const seen = new Set<string>();
  for (const calls of callCounts) {
    // The fewest failures whose share of the calls reaches the rate.
    let atRate = 1;
    while (atRate < calls && atRate / calls < trip.failureRate) atRate++;
    for (const failures of [atRate - 1, atRate, calls]) {
      const key = `${calls}/${failures}`;
      if (failures < 1 || failures > calls || seen.has(key)) continue;
      seen.add(key);
      figures.push({ windowCalls: calls, windowFailures: failures });
    }
  }
  return figures;
}

type RestoreEvent = Extract<BreakerEvent, { type: 'RESTORE' }>;

const restoresByPolicy = new WeakMap<BreakerPolicy, { all: RestoreEvent[]; onePerState: RestoreEvent[] }>();

/**
 * The snapshots a fresh breaker is restored from, with bounded figures: a closed circuit with no
 * failure and with one failure short of tripping; an open circuit (until one backoff after the
 * restore), a half-open and an isolated one at the first, second and last backoff levels the
 * policy reaches. Times are relative to `at` = 0.
 */
function restoreEvents(policy: BreakerPolicy): { all: RestoreEvent[]; onePerState: RestoreEvent[] } {
  let restores = restoresByPolicy.get(policy);
  if (restores !== undefined) return restores;
  const { initialMs, multiplier, maxMs } = policy.backoff;
  // The last level: where growing stops (the first one, if it never grows).
  const last = multiplier > 1 && initialMs > 0 ? maxMs : initialMs;
  const levels = [...new Set([initialMs, Math.min(initialMs * multiplier, maxMs), last])];
  const tripAt = policy.trip.kind === 'consecutive' ? policy.trip.threshold : 1;
  const failed = { lastFailureAt: 0, lastFailureReason: EXPLORED_FAILURE_REASON };
  const healthy = { lastFailureAt: null, lastFailureReason: null };
  const all: RestoreEvent[] = [];
  for (const failureCount of new Set([0, tripAt - 1])) {
    const lastFailure = failureCount === 0 ? healthy : failed;
    all.push({
      type: 'RESTORE',
      at: 0,
      state: 'closed',
      failureCount,
      backoffMs: initialMs,
      nextProbeAt: null,
      ...lastFailure,
    });
  }
  for (const state of ['open', 'half_open', 'isolated'] as const) {
    for (const backoffMs of levels) {
      const nextProbeAt = state === 'open' ? backoffMs : null;
      all.push({ type: 'RESTORE', at: 0, state, failureCount: tripAt, backoffMs, nextProbeAt, ...failed });
    }
  }
  const onePerState = [...new Map(all.map((event) => [event.state, event])).values()];
  restores = { all, onePerState };
  restoresByPolicy.set(policy, restores);
  return restores;
}

/**
 * Every event explored from `snapshot`. Results carry the current generation or the one before it
 * (a late result; any older generation is equivalent, since the guards only test equality). Times
 * (`at`) are 0: no guard reads them, and `replayPath` stamps the simulated clock's time instead
 * (moving the times an event carries, like a peer's `nextProbeAt`, by as much).
 *
 * - `PROBE` without a generation (the current window, as the runtime sends it), with the current
 *   generation, and with the one before it (a request queued behind a state change, which must not
 *   take a permit of the next window); tried in every state.
 * - `PROBE_RELEASED` (an admitted probe ended with no verdict) with the current generation and the
 *   one before it (a probe of an earlier window, whose permit is gone with it); tried in every state.
 * - The lease answers once per half-open window (`LEASE_GRANTED` or `LEASE_DENIED` while pending).
 * - A peer trips with a `nextProbeAt` one backoff ahead, and closes; tried in every state.
 * - `RESTORE`: every bounded snapshot from a breaker that never moved (closed, generation 0); one
 *   per recorded state from any other, where it must change nothing.
 */
export function explorationEvents(snapshot: BreakerSnapshotLike): ExplorationEvent[] {
  const { generation, policy, backoffMs, probeLease } = snapshot.context;
  const trip = policy.trip;
  const failures: Array<Partial<Extract<BreakerEvent, { type: 'FAILURE' }>>> =
    trip.kind === 'rate' ? rateWindowFigures(trip) : [{}];
  const events: ExplorationEvent[] = [];
  for (const gen of [generation, generation - 1]) {
    events.push({ type: 'SUCCESS', generation: gen, at: 0 });
    for (const figures of failures) {
      events.push({ type: 'FAILURE', generation: gen, at: 0, reason: EXPLORED_FAILURE_REASON, ...figures });
    }
  }
  // A failure the supervisor's maxEjectionPercent keeps from tripping (the last figures trip).
  events.push({
    type: 'FAILURE',
    generation,
    at: 0,
    reason: EXPLORED_FAILURE_REASON,
    ...failures.at(-1),
    ejectionAllowed: false,
  });
  events.push(
    { type: 'PROBE', at: 0 },
    { type: 'PROBE', at: 0, generation },
    { type: 'PROBE', at: 0, generation: generation - 1 },
    { type: 'PROBE_RELEASED', generation, at: 0 },
    { type: 'PROBE_RELEASED', generation: generation - 1, at: 0 },
    { type: 'ISOLATE', at: 0 },
    { type: 'RESET', at: 0 },
  );
  if (snapshot.value === 'half_open' && probeLease === 'pending') {
    events.push({ type: 'LEASE_GRANTED' }, { type: 'LEASE_DENIED' });
  }
  events.push({ type: 'PEER_TRIPPED', at: 0, nextProbeAt: backoffMs }, { type: 'PEER_CLOSED', at: 0 });
  const restores = restoreEvents(policy);
  events.push(...(snapshot.value === 'closed' && generation === 0 ? restores.all : restores.onePerState));
  events.push(...delayedEvents(snapshot.value));
  return events;
}
