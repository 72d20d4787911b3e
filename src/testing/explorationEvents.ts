/**
 * The events a model check tries in every state of the breaker machine: results of the current
 * generation and of an older one (late results), permit requests, manual isolate and reset, and the
 * state's delayed (`after`) transitions, named as XState names them
 * (`xstate.after.backoff.circuitBreaker.open`).
 */
import type { BreakerPolicy, RateTripPolicy } from '../../machines/breakerOptions.js';
import { type BreakerEvent, type BreakerState, circuitBreakerMachine } from '../../machines/circuitBreaker.js';

/** The event XState raises when a delayed transition's time is up: `xstate.after.<delay>.<state id>`. */
export interface DelayedEvent {
  type: `xstate.after.${string}`;
}

/** One step of an explored path: a breaker event, or time passing until a delayed transition fires. */
export type ExplorationEvent = BreakerEvent | DelayedEvent;

/** The `reason` explored failures carry. */
export const EXPLORED_FAILURE_REASON = 'model-check failure';

/** The parts of a breaker snapshot exploration reads (any XState machine snapshot of the breaker fits). */
export interface BreakerSnapshotLike {
  value: BreakerState;
  context: { generation: number; policy: BreakerPolicy };
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
export function rateWindowFigures(trip: RateTripPolicy): Array<{ windowCalls: number; windowFailures: number }> {
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

/**
 * Every event explored from `snapshot`. Results carry the current generation or the one before it
 * (a late result; any older generation is equivalent, since the guards only test equality). Times
 * (`at`) are 0: no guard reads them, and `replayPath` stamps the simulated clock's time instead.
 */
export function explorationEvents(snapshot: BreakerSnapshotLike): ExplorationEvent[] {
  const { generation, policy } = snapshot.context;
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
  events.push({ type: 'PROBE', at: 0 }, { type: 'ISOLATE', at: 0 }, { type: 'RESET', at: 0 });
  events.push(...delayedEvents(snapshot.value));
  return events;
}
