/**
 * Exhaustive exploration of the breaker statechart with `xstate/graph`, for our own verification.
 * Written independently of `src/testing/` (the users' `modelCheck()`): its own events, its own
 * state key, so the two check each other.
 *
 * The machine explored (and replayed) is the breaker machine provided with a probe lease that never
 * answers: the half-open state still invokes it, and LEASE_GRANTED / LEASE_DENIED are explicit steps,
 * so neither the exploration nor a replay depends on an invoked actor running.
 */

import { fromCallback } from 'xstate';
import { type AdjacencyMap, getAdjacencyMap } from 'xstate/graph';
import type { BreakerOptions } from '../../machines/breakerOptions.js';
import { type BreakerEvent, circuitBreakerMachine, type ProbeLeaseInput } from '../../machines/circuitBreaker.js';

/** A lease actor that never answers. */
const silentLease = fromCallback<{ type: 'LEASE_GRANTED' }, ProbeLeaseInput>(() => {});
export const machine = circuitBreakerMachine.provide({ actors: { probeLease: silentLease } });
export type Snapshot = ReturnType<typeof machine.transition>;
/** A breaker event, or a delayed transition's event (`xstate.after.<delay>.<state id>`). */
export type AnyEvent = BreakerEvent | { type: `xstate.after.${string}` };

/** The delayed events, exactly as XState (and so `xstate/graph`) names them. */
export const AFTER_BACKOFF = 'xstate.after.backoff.circuitBreaker.open';
export const AFTER_HALF_OPEN_TIMEOUT = 'xstate.after.halfOpenTimeout.circuitBreaker.half_open';

export const isAfter = (event: { type: string }) => event.type.startsWith('xstate.after.');

/**
 * State value and the context guards read; the generation only as "current", via the events, and
 * as "never moved" (generation 0, which RESTORE reads) while closed; the lease while half-open.
 */
export function keyOf(snapshot: Snapshot): string {
  const c = snapshot.context;
  const trip = c.policy.trip;
  const failures =
    snapshot.value !== 'closed' ? '-' : trip.kind === 'consecutive' ? Math.min(c.failureCount, trip.threshold) : 'n/a';
  const fresh = snapshot.value === 'closed' && c.generation === 0 ? '|new' : '';
  const lease = snapshot.value === 'half_open' ? `|l=${c.probeLease}` : '';
  return `${snapshot.value}${fresh}|f=${failures}|p=${c.probesAdmitted}/${c.probeSuccesses}${lease}|b=${c.backoffMs}`;
}

/** The backoff levels of a policy: initialMs × multiplierⁿ, capped at maxMs. */
export function ladder(backoff: { initialMs: number; multiplier: number; maxMs: number }): number[] {
  const levels: number[] = [];
  for (let b = backoff.initialMs; !levels.includes(b); b = Math.min(b * backoff.multiplier, backoff.maxMs)) {
    levels.push(b);
  }
  return levels;
}

type Restore = Extract<BreakerEvent, { type: 'RESTORE' }>;

/**
 * Snapshots restored into a fresh breaker: closed with every failure count short of tripping (0 and
 * 1 under a rate policy), and open, half-open and isolated at every backoff level; open until one
 * backoff after the restore, with no recorded time (the machine then probes at once), and until a
 * moment that has already passed when the restore arrives.
 */
function restoresFor(snapshot: Snapshot): Restore[] {
  const { policy } = snapshot.context;
  const levels = ladder(policy.backoff);
  const trip = policy.trip;
  const counts = trip.kind === 'consecutive' ? Array.from({ length: trip.threshold }, (_, i) => i) : [0, 1];
  const restores: Restore[] = counts.map((failureCount) => ({
    type: 'RESTORE',
    at: 0,
    state: 'closed',
    failureCount,
    backoffMs: policy.backoff.initialMs,
    nextProbeAt: null,
    lastFailureAt: failureCount > 0 ? -5 : null,
    lastFailureReason: failureCount > 0 ? 'before the restart' : null,
  }));
  const last = { failureCount: counts.length, lastFailureAt: -5, lastFailureReason: 'before the restart' };
  for (const backoffMs of levels) {
    for (const nextProbeAt of [backoffMs, null, -1]) {
      restores.push({ type: 'RESTORE', at: 0, state: 'open', backoffMs, nextProbeAt, ...last });
    }
    restores.push({ type: 'RESTORE', at: 0, state: 'half_open', backoffMs, nextProbeAt: null, ...last });
    restores.push({ type: 'RESTORE', at: 0, state: 'isolated', backoffMs, nextProbeAt: null, ...last });
  }
  return restores;
}

/**
 * Window figures tried for a rate policy: every (calls, failures) of a small window; for a large
 * one, every failure count at `minimumCalls` and the counts around the rate one call either side.
 */
function windowFigures(options: BreakerOptions): Array<{ windowCalls?: number; windowFailures?: number }> {
  const trip = options.trip;
  if (trip === undefined || trip.kind === 'consecutive') return [{}];
  const all = (calls: number) => Array.from({ length: calls }, (_, i) => i + 1);
  if (trip.window === 'count' && trip.size <= 6) {
    return all(trip.size).flatMap((calls) =>
      all(calls).map((failures) => ({ windowCalls: calls, windowFailures: failures })),
    );
  }
  const around = (calls: number) => {
    const middle = Math.round(trip.failureRate * calls);
    return [1, middle - 1, middle, middle + 1, calls].filter(
      (f, i, list) => f >= 1 && f <= calls && list.indexOf(f) === i,
    );
  };
  const min = trip.minimumCalls;
  return [
    ...(min > 1 ? around(min - 1).map((failures) => ({ windowCalls: min - 1, windowFailures: failures })) : []),
    ...all(min).map((failures) => ({ windowCalls: min, windowFailures: failures })),
    ...around(min + 1).map((failures) => ({ windowCalls: min + 1, windowFailures: failures })),
  ];
}

function delayedEventsOf(snapshot: Snapshot): AnyEvent[] {
  const node = machine.getStateNodeById(`circuitBreaker.${snapshot.value}`);
  return [...new Set(node.after.map((t) => t.eventType as string))].map((type) => ({ type }) as AnyEvent);
}

/**
 * Every event tried in `snapshot`: results of this and an older generation, permit requests (no
 * generation, this one, an older one), permits given back (this generation, an older one), manual, the
 * lease's answer (once per half-open window: the lease actor answers once), a peer's trip (its
 * `nextProbeAt` one backoff ahead, or already past) and close, restores (every snapshot into a
 * breaker that never moved, one per state into any other), delayed. Times are relative to `at` = 0.
 */
export function eventsFor(options: BreakerOptions): (snapshot: Snapshot) => AnyEvent[] {
  const figures = windowFigures(options);
  let restores: Restore[] | undefined;
  return (snapshot) => {
    const c = snapshot.context;
    const g = c.generation;
    const events: AnyEvent[] = [];
    for (const generation of [g, g - 1]) {
      events.push({ type: 'SUCCESS', generation, at: 0 });
      for (const f of figures) events.push({ type: 'FAILURE', generation, at: 0, reason: 'explored', ...f });
      events.push({ type: 'FAILURE', generation, at: 0, reason: 'blocked', ...figures.at(-1), ejectionAllowed: false });
    }
    // Permit requests: as the runtime sends them (no generation: the current window), naming the
    // current window, and naming the previous one (a request queued behind a state change).
    events.push(
      { type: 'PROBE', at: 0 },
      { type: 'PROBE', at: 0, generation: g },
      { type: 'PROBE', at: 0, generation: g - 1 },
    );
    // A probe that ended with no verdict gives its permit back: one of this window, one of an older.
    events.push({ type: 'PROBE_RELEASED', generation: g, at: 0 }, { type: 'PROBE_RELEASED', generation: g - 1, at: 0 });
    events.push({ type: 'ISOLATE', at: 0 }, { type: 'RESET', at: 0 });
    if (snapshot.value === 'half_open' && c.probeLease === 'pending') {
      events.push({ type: 'LEASE_GRANTED' }, { type: 'LEASE_DENIED' });
    }
    events.push(
      { type: 'PEER_TRIPPED', at: 0, nextProbeAt: c.backoffMs },
      { type: 'PEER_TRIPPED', at: 0, nextProbeAt: -1 },
      { type: 'PEER_CLOSED', at: 0 },
    );
    restores ??= restoresFor(snapshot);
    if (snapshot.value === 'closed' && g === 0) events.push(...restores);
    else events.push(...new Map(restores.map((r) => [r.state, r])).values());
    events.push(...delayedEventsOf(snapshot));
    return events;
  };
}

export interface Edge {
  from: Snapshot;
  event: AnyEvent;
  to: Snapshot;
  fromKey: string;
  toKey: string;
}

export interface Exploration {
  options: BreakerOptions;
  /** The machine explored, to take a step from an explored snapshot (two-step properties). */
  machine: typeof machine;
  /** False when `maxStates` stopped the exploration. */
  complete: boolean;
  adjacency: AdjacencyMap<Snapshot, AnyEvent>;
  /** Distinct states (keys), in breadth-first order. */
  keys: string[];
  edges: Edge[];
}

export function traversalOptions(options: BreakerOptions) {
  return {
    input: { agentId: 'explored', options },
    serializeState: (snapshot: Snapshot) => keyOf(snapshot),
    events: eventsFor(options) as (snapshot: Snapshot) => BreakerEvent[],
  };
}

/**
 * Explores `explored` (the chart with a silent lease unless told otherwise) for `options`; stops
 * expanding after `maxStates` states (a broken machine's space can be infinite).
 */
export function explore(
  options: BreakerOptions,
  explored: typeof machine = machine,
  maxStates = Number.POSITIVE_INFINITY,
): Exploration {
  let expanded = 0;
  let complete = true;
  const stopWhen = () => {
    if (expanded < maxStates) {
      expanded++;
      return false;
    }
    complete = false;
    return true;
  };
  const adjacency = getAdjacencyMap(explored, { ...traversalOptions(options), stopWhen }) as unknown as AdjacencyMap<
    Snapshot,
    AnyEvent
  >;
  const keys = Object.keys(adjacency);
  const edges: Edge[] = [];
  for (const fromKey of keys) {
    const node = adjacency[fromKey as keyof typeof adjacency];
    if (node === undefined) continue;
    for (const { event, state } of Object.values(node.transitions)) {
      edges.push({ from: node.state, event, to: state, fromKey, toKey: keyOf(state) });
    }
  }
  return { options, machine: explored, complete, adjacency, keys, edges };
}

/** The configurations explored: the defaults, and a grid. Backoff is capped low so levels stay few. */
export function breakerGrid(): Array<{ name: string; options: BreakerOptions }> {
  const grid: Array<{ name: string; options: BreakerOptions }> = [{ name: 'defaults', options: {} }];
  const backoff = { initialMs: 1000, multiplier: 2, maxMs: 4000 };
  for (let threshold = 1; threshold <= 5; threshold++) {
    for (let halfOpenMaxCalls = 1; halfOpenMaxCalls <= 4; halfOpenMaxCalls++) {
      grid.push({
        name: `consecutive ${threshold}, ${halfOpenMaxCalls} probes`,
        options: { failureThreshold: threshold, halfOpenMaxCalls, backoff },
      });
    }
  }
  const rates = [
    { kind: 'rate', window: 'count', size: 4, minimumCalls: 2, failureRate: 0.5 },
    { kind: 'rate', window: 'count', size: 3, minimumCalls: 3, failureRate: 1 },
    { kind: 'rate', window: 'time', size: 10_000, minimumCalls: 3, failureRate: 0.34 },
  ] as const;
  for (const trip of rates) {
    for (let halfOpenMaxCalls = 1; halfOpenMaxCalls <= 4; halfOpenMaxCalls++) {
      grid.push({
        name: `rate ${trip.window} ${trip.size}/${trip.minimumCalls}@${trip.failureRate}, ${halfOpenMaxCalls} probes`,
        options: { trip, halfOpenMaxCalls, backoff },
      });
    }
  }
  // Rates whose product with the window is not exact in binary floating point:
  // 0.55 × 100 = 55.00000000000001 and 0.28 × 25 = 7.000000000000001, yet 55 of 100 is a 0.55 share.
  for (const [size, failureRate] of [
    [100, 0.55],
    [25, 0.28],
  ] as const) {
    grid.push({
      name: `rate count ${size}/${size}@${failureRate}`,
      options: { trip: { kind: 'rate', window: 'count', size, minimumCalls: size, failureRate }, backoff },
    });
  }
  grid.push(
    { name: 'multiplier 1 (the backoff never grows)', options: { backoff: { multiplier: 1 } } },
    { name: 'full jitter', options: { failureThreshold: 2, backoff: { ...backoff, jitter: 'full' } } },
    {
      name: 'decorrelated jitter',
      options: { failureThreshold: 2, halfOpenMaxCalls: 2, backoff: { ...backoff, jitter: 'decorrelated' } },
    },
    { name: 'zero initial backoff', options: { failureThreshold: 2, backoff: { initialMs: 0, maxMs: 0 } } },
  );
  return grid;
}

/** Number of distinct states a consecutive-policy breaker has, by counting: see the exploration test. */
export function expectedConsecutiveStates(threshold: number, halfOpenMaxCalls: number, backoffLevels: number): number {
  const m = halfOpenMaxCalls;
  // closed: 0 … threshold failures (the last only while ejection is blocked), each never moved
  // (generation 0) or not; open and isolated: one per backoff level; half-open: per level, the lease
  // pending or denied with no probe, and granted with every (admitted, succeeded) with
  // succeeded ≤ admitted ≤ m and succeeded < m (the m-th success closes).
  const grantedWindows = ((m + 1) * (m + 2)) / 2 - 1;
  return 2 * (threshold + 1) + backoffLevels * (2 + 2 + grantedWindows);
}
