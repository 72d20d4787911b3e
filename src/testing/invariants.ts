/**
 * The invariants `modelCheck()` checks on every explored state and every explored transition of the
 * breaker machine, whatever the user's options. Each returns `null` when it holds, or what went
 * wrong, in words.
 */
import type { BreakerPolicy } from '../../machines/breakerOptions.js';
import {
  type BreakerContext,
  type BreakerEvent,
  type BreakerState,
  mayAdmitProbe,
} from '../../machines/circuitBreaker.js';
import { type ExplorationEvent, isDelayedEvent } from './explorationEvents.js';
import { breakerStateKey } from './stateKey.js';

export interface InvariantSnapshot {
  value: BreakerState;
  context: BreakerContext;
}

/** Holds in every reachable state. */
export interface StateInvariant {
  name: string;
  violation(state: InvariantSnapshot): string | null;
}

/** One step of the machine explored: the snapshot `event` leads to from `snapshot`. */
export type Step = (snapshot: InvariantSnapshot, event: BreakerEvent) => InvariantSnapshot;

/**
 * Holds on every transition `from --event--> to` (including events that change nothing). `step`
 * takes a further step from `to` itself, for properties of two steps: `to` may carry context the
 * state key leaves out, which the explored representative of its key does not.
 */
export interface TransitionInvariant {
  name: string;
  violation(from: InvariantSnapshot, event: ExplorationEvent, to: InvariantSnapshot, step: Step): string | null;
}

/** Whether the trip policy says a failure with these figures, after `failureCount` failures, opens. */
function tripPolicyTrips(
  policy: BreakerPolicy,
  failureCount: number,
  event: { windowCalls?: number; windowFailures?: number },
): boolean {
  const trip = policy.trip;
  if (trip.kind === 'consecutive') return failureCount + 1 >= trip.threshold;
  const calls = event.windowCalls ?? 0;
  // The failed share, as a share: 55 of 100 calls is 0.55 exactly, while 0.55 × 100 is 55.000…01.
  return calls >= trip.minimumCalls && (event.windowFailures ?? 0) / calls >= trip.failureRate;
}

/** Events that come from outside the call path: each has an invariant of its own. */
const EXTERNAL = new Set(['ISOLATE', 'RESET', 'PEER_TRIPPED', 'PEER_CLOSED', 'RESTORE']);

/** A `PROBE` for the current half-open window: it names no window, or this one. */
const forCurrentWindow = (from: InvariantSnapshot, event: { generation?: number }) =>
  event.generation === undefined || event.generation === from.context.generation;

/**
 * Whether `PROBE_RELEASED` from `from` gives a permit back: in half-open, for the current window,
 * with a permit out (admitted and not yet succeeded).
 */
const releases = (from: InvariantSnapshot, event: { generation: number }) =>
  from.value === 'half_open' &&
  event.generation === from.context.generation &&
  from.context.probesAdmitted > from.context.probeSuccesses;

/** The state and the context the guards read did not change. */
const unchanged = (from: InvariantSnapshot, to: InvariantSnapshot) =>
  to.value === from.value &&
  to.context.generation === from.context.generation &&
  breakerStateKey(to) === breakerStateKey(from);

export const stateInvariants: readonly StateInvariant[] = [
  {
    name: 'half-open admits at most halfOpenMaxCalls probes',
    violation: ({ context: c }) =>
      c.probesAdmitted > c.policy.halfOpenMaxCalls
        ? `${c.probesAdmitted} probes admitted, halfOpenMaxCalls is ${c.policy.halfOpenMaxCalls}`
        : null,
  },
  {
    name: 'probe permits are never negative',
    violation: ({ context: c }) =>
      c.probesAdmitted < 0 || c.probeSuccesses < 0
        ? `${c.probesAdmitted} probes admitted and ${c.probeSuccesses} successes`
        : null,
  },
  {
    // A permit given back is one still out: a probe that succeeded keeps its permit.
    name: 'never more probe successes than probes admitted',
    violation: ({ context: c }) =>
      c.probeSuccesses > c.probesAdmitted
        ? `${c.probeSuccesses} probe successes for ${c.probesAdmitted} probes admitted`
        : null,
  },
  {
    name: 'only half-open holds probe permits',
    violation: ({ value, context: c }) =>
      value !== 'half_open' && (c.probesAdmitted !== 0 || c.probeSuccesses !== 0)
        ? `${value} with ${c.probesAdmitted} probes admitted and ${c.probeSuccesses} successes`
        : null,
  },
  {
    name: 'no probe admitted without the lease',
    violation: ({ value, context: c }) =>
      value === 'half_open' && c.probesAdmitted > 0 && c.probeLease !== 'granted'
        ? `${c.probesAdmitted} probes admitted with the lease ${c.probeLease}`
        : null,
  },
  {
    name: 'backoff stays within [initialMs, maxMs]',
    violation: ({ context: c }) => {
      const { initialMs, maxMs } = c.policy.backoff;
      if (c.backoffMs < initialMs || c.backoffMs > maxMs) return `backoff ${c.backoffMs} ms`;
      if (c.probeDelayMs < 0 || c.probeDelayMs > maxMs) return `open period ${c.probeDelayMs} ms`;
      return null;
    },
  },
  {
    name: 'a closed circuit runs on the initial backoff',
    violation: ({ value, context: c }) =>
      value === 'closed' && c.backoffMs !== c.policy.backoff.initialMs ? `closed with backoff ${c.backoffMs} ms` : null,
  },
];

export const transitionInvariants: readonly TransitionInvariant[] = [
  {
    name: 'open and isolated admit no call',
    violation: (from, event, to) =>
      event.type === 'PROBE' &&
      (from.value === 'open' || from.value === 'isolated') &&
      (to.value !== from.value || to.context.probesAdmitted !== 0)
        ? `PROBE in ${from.value} led to ${to.value} with ${to.context.probesAdmitted} probes admitted`
        : null,
  },
  {
    name: 'half-open hands out one permit per request while it holds the lease and the budget lasts',
    violation: (from, event, to) => {
      // A request for an older window has an invariant of its own.
      if (event.type !== 'PROBE' || from.value !== 'half_open' || !forCurrentWindow(from, event)) return null;
      const budget = from.context.policy.halfOpenMaxCalls;
      const granted = from.context.probeLease === 'granted';
      const expected = granted ? Math.min(from.context.probesAdmitted + 1, budget) : from.context.probesAdmitted;
      return to.value !== 'half_open' || to.context.probesAdmitted !== expected
        ? `PROBE with ${from.context.probesAdmitted}/${budget} admitted and the lease ${from.context.probeLease} led to ${to.value} with ${to.context.probesAdmitted}`
        : null;
    },
  },
  {
    name: 'a PROBE for an older window changes nothing',
    violation: (from, event, to) =>
      event.type === 'PROBE' && !forCurrentWindow(from, event) && !unchanged(from, to)
        ? `PROBE of generation ${event.generation} in ${from.value} (generation ${from.context.generation}) changed ${breakerStateKey(from)} to ${breakerStateKey(to)}`
        : null,
  },
  {
    // The runtime answers a caller by this rule at once, before its queued PROBE is processed.
    name: 'mayAdmitProbe() answers every PROBE of a half-open window as the machine does',
    violation: (from, event, to) => {
      if (event.type !== 'PROBE' || from.value !== 'half_open' || !forCurrentWindow(from, event)) return null;
      const admitted = to.value === 'half_open' && to.context.probesAdmitted === from.context.probesAdmitted + 1;
      const predicted = mayAdmitProbe(from.context);
      return admitted === predicted
        ? null
        : `mayAdmitProbe() said ${predicted} with ${from.context.probesAdmitted} admitted and the lease ${from.context.probeLease}; the machine ${admitted ? 'admitted' : 'refused'}`;
    },
  },
  {
    name: 'PROBE_RELEASED gives back one permit of the current window, and changes nothing else',
    violation: (from, event, to) => {
      if (event.type !== 'PROBE_RELEASED') return null;
      const expected = from.context.probesAdmitted - (releases(from, event) ? 1 : 0);
      // Everything the guards read is as before, but for one permit fewer.
      const released = { value: from.value, context: { ...from.context, probesAdmitted: expected } };
      return to.value === from.value &&
        to.context.generation === from.context.generation &&
        breakerStateKey(to) === breakerStateKey(released)
        ? null
        : `PROBE_RELEASED of generation ${event.generation} in ${from.value} (generation ${from.context.generation}, ${from.context.probeSuccesses}/${from.context.probesAdmitted} probes) led to ${to.value} (generation ${to.context.generation}, ${to.context.probeSuccesses}/${to.context.probesAdmitted} probes)`;
    },
  },
  {
    // Liveness of a permit: one given back goes to the next caller, at once.
    name: 'a permit given back is admitted again',
    violation: (from, event, to, step) => {
      if (event.type !== 'PROBE_RELEASED' || !releases(from, event) || from.context.probeLease !== 'granted') {
        return null;
      }
      const again = step(to, { type: 'PROBE', at: event.at, generation: to.context.generation });
      return again.value === 'half_open' &&
        again.context.generation === from.context.generation &&
        again.context.probesAdmitted === from.context.probesAdmitted
        ? null
        : `after PROBE_RELEASED with ${from.context.probesAdmitted} probes admitted, PROBE led to ${again.value} with ${again.context.probesAdmitted}`;
    },
  },
  {
    name: 'a result of an older generation never changes the state',
    violation: (from, event, to) =>
      (event.type === 'SUCCESS' || event.type === 'FAILURE') &&
      event.generation !== from.context.generation &&
      (to.context.generation !== from.context.generation || breakerStateKey(to) !== breakerStateKey(from))
        ? `${event.type} of generation ${event.generation} in generation ${from.context.generation} changed ${breakerStateKey(from)} to ${breakerStateKey(to)}`
        : null,
  },
  {
    name: 'backoff never decreases while failures continue, and grows after a failed recovery',
    violation: (from, event, to) => {
      const { multiplier, maxMs } = from.context.policy.backoff;
      // A failed recovery (a probe failed or timed out); a peer's trip keeps the level.
      if (from.value === 'half_open' && to.value === 'open' && event.type !== 'PEER_TRIPPED') {
        const expected = Math.min(from.context.backoffMs * multiplier, maxMs);
        return to.context.backoffMs !== expected
          ? `failed recovery moved the backoff from ${from.context.backoffMs} to ${to.context.backoffMs} ms, expected ${expected}`
          : null;
      }
      return to.value !== 'closed' && event.type !== 'RESET' && to.context.backoffMs < from.context.backoffMs
        ? `${event.type} lowered the backoff from ${from.context.backoffMs} to ${to.context.backoffMs} ms`
        : null;
    },
  },
  {
    name: 'closed trips open exactly when the trip policy says so',
    violation: (from, event, to) => {
      // Manual commands, a peer's trip and a restore have invariants of their own.
      if (from.value !== 'closed' || EXTERNAL.has(event.type)) return null;
      const shouldTrip =
        event.type === 'FAILURE' &&
        event.generation === from.context.generation &&
        event.ejectionAllowed !== false &&
        tripPolicyTrips(from.context.policy, from.context.failureCount, event);
      if (shouldTrip && to.value !== 'open') return `${event.type} should have tripped, stayed ${to.value}`;
      if (!shouldTrip && to.value !== 'closed') return `${event.type} moved closed to ${to.value}`;
      return null;
    },
  },
  {
    name: 'half-open closes only after halfOpenMaxCalls successes in its window',
    violation: (from, event, to) => {
      if (from.value !== 'half_open' || to.value !== 'closed' || EXTERNAL.has(event.type)) return null;
      const ok =
        event.type === 'SUCCESS' &&
        event.generation === from.context.generation &&
        from.context.probeSuccesses + 1 === from.context.policy.halfOpenMaxCalls;
      return ok
        ? null
        : `${event.type} closed the circuit after ${from.context.probeSuccesses} of ${from.context.policy.halfOpenMaxCalls} probe successes`;
    },
  },
  {
    name: 'isolated leaves only by RESET',
    violation: (from, event, to) =>
      from.value === 'isolated' &&
      event.type !== 'RESET' &&
      (to.value !== 'isolated' || to.context.generation !== from.context.generation)
        ? `${event.type} changed an isolated circuit (to ${to.value})`
        : null,
  },
  {
    name: 'RESET gives a fresh closed circuit; ISOLATE isolates',
    violation: (_from, event, to) => {
      const c = to.context;
      if (
        event.type === 'RESET' &&
        (to.value !== 'closed' || c.failureCount !== 0 || c.backoffMs !== c.policy.backoff.initialMs)
      ) {
        return `RESET led to ${to.value} with ${c.failureCount} failures and backoff ${c.backoffMs} ms`;
      }
      return event.type === 'ISOLATE' && to.value !== 'isolated' ? `ISOLATE led to ${to.value}` : null;
    },
  },
  {
    name: "only the backoff (or a peer's close) ends an open period",
    violation: (from, event, to) => {
      if (from.value !== 'open' || EXTERNAL.has(event.type)) return null;
      if (isDelayedEvent(event)) return to.value === 'half_open' ? null : `the backoff led to ${to.value}`;
      return to.value !== 'open' ? `${event.type} moved open to ${to.value}` : null;
    },
  },
  {
    name: 'every state change starts a new generation',
    violation: (from, event, to) =>
      to.value !== from.value && to.context.generation !== from.context.generation + 1
        ? `${event.type}: ${from.value} → ${to.value} with generation ${from.context.generation} → ${to.context.generation}`
        : null,
  },
  {
    name: "the lease's answer sets the lease and nothing else",
    violation: (from, event, to) => {
      if (event.type !== 'LEASE_GRANTED' && event.type !== 'LEASE_DENIED') return null;
      const answer = event.type === 'LEASE_GRANTED' ? 'granted' : 'denied';
      if (from.value !== 'half_open') return unchanged(from, to) ? null : `${event.type} changed ${from.value}`;
      return to.value !== 'half_open' ||
        to.context.probeLease !== answer ||
        to.context.generation !== from.context.generation ||
        to.context.probesAdmitted !== from.context.probesAdmitted
        ? `${event.type} led to ${to.value} with the lease ${to.context.probeLease}`
        : null;
    },
  },
  {
    name: "PEER_TRIPPED opens until exactly the peer's nextProbeAt",
    violation: (from, event, to) => {
      if (event.type !== 'PEER_TRIPPED') return null;
      if (from.value === 'open' || from.value === 'isolated') {
        return unchanged(from, to) ? null : `PEER_TRIPPED changed ${from.value} to ${to.value}`;
      }
      const c = to.context;
      const delay = Math.max(0, event.nextProbeAt - event.at);
      return to.value !== 'open' ||
        c.nextProbeAt !== event.nextProbeAt ||
        c.probeDelayMs !== delay ||
        c.backoffMs !== from.context.backoffMs
        ? `PEER_TRIPPED (nextProbeAt ${event.nextProbeAt}) led to ${to.value} until ${c.nextProbeAt} after ${c.probeDelayMs} ms, backoff ${from.context.backoffMs} → ${c.backoffMs} ms`
        : null;
    },
  },
  {
    name: 'PEER_CLOSED closes an open or half-open circuit, and nothing else',
    violation: (from, event, to) => {
      if (event.type !== 'PEER_CLOSED') return null;
      if (from.value === 'closed' || from.value === 'isolated') {
        return unchanged(from, to) ? null : `PEER_CLOSED changed ${from.value} to ${to.value}`;
      }
      const c = to.context;
      return to.value !== 'closed' || c.failureCount !== 0 || c.backoffMs !== c.policy.backoff.initialMs
        ? `PEER_CLOSED led to ${to.value} with ${c.failureCount} failures and backoff ${c.backoffMs} ms`
        : null;
    },
  },
  {
    name: 'RESTORE only from a pristine breaker',
    violation: (from, event, to) => {
      if (event.type !== 'RESTORE') return null;
      const pristine = from.value === 'closed' && from.context.generation === 0;
      if (!pristine)
        return unchanged(from, to) ? null : `RESTORE changed ${from.value} (generation ${from.context.generation})`;
      const c = to.context;
      const nextProbeAt = event.state === 'open' ? (event.nextProbeAt ?? event.at) : null;
      const restored =
        to.value === event.state &&
        c.generation === 1 &&
        c.failureCount === event.failureCount &&
        c.backoffMs === event.backoffMs &&
        c.nextProbeAt === nextProbeAt &&
        (nextProbeAt === null || c.probeDelayMs === Math.max(0, nextProbeAt - event.at)) &&
        c.probesAdmitted === 0 &&
        c.probeSuccesses === 0 &&
        (to.value !== 'half_open' || c.probeLease === 'pending');
      return restored
        ? null
        : `RESTORE of ${event.state} (backoff ${event.backoffMs} ms, nextProbeAt ${event.nextProbeAt}) led to ${to.value} with backoff ${c.backoffMs} ms, nextProbeAt ${c.nextProbeAt}`;
    },
  },
];
