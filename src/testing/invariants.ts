/**
 * The invariants `modelCheck()` checks on every explored state and every explored transition of the
 * breaker machine, whatever the user's options. Each returns `null` when it holds, or what went
 * wrong, in words.
 */
import type { BreakerPolicy } from '../../machines/breakerOptions.js';
import type { BreakerContext, BreakerState } from '../../machines/circuitBreaker.js';
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

/** Holds on every transition `from --event--> to` (including events that change nothing). */
export interface TransitionInvariant {
  name: string;
  violation(from: InvariantSnapshot, event: ExplorationEvent, to: InvariantSnapshot): string | null;
}

/** Whether the trip policy says a failure with these figures, after `failureCount` failures, opens. */
export function tripPolicyTrips(
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

export const stateInvariants: readonly StateInvariant[] = [
  {
    name: 'half-open admits at most halfOpenMaxCalls probes',
    violation: ({ context: c }) =>
      c.probesAdmitted > c.policy.halfOpenMaxCalls
        ? `${c.probesAdmitted} probes admitted, halfOpenMaxCalls is ${c.policy.halfOpenMaxCalls}`
        : c.probeSuccesses > c.probesAdmitted
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
    name: 'half-open hands out one permit per request while the budget lasts',
    violation: (from, event, to) => {
      if (event.type !== 'PROBE' || from.value !== 'half_open') return null;
      const budget = from.context.policy.halfOpenMaxCalls;
      const expected = Math.min(from.context.probesAdmitted + 1, budget);
      return to.value !== 'half_open' || to.context.probesAdmitted !== expected
        ? `PROBE with ${from.context.probesAdmitted}/${budget} admitted led to ${to.value} with ${to.context.probesAdmitted}`
        : null;
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
      if (from.value === 'half_open' && to.value === 'open') {
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
      if (from.value !== 'closed' || event.type === 'ISOLATE' || event.type === 'RESET') return null;
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
      if (from.value !== 'half_open' || to.value !== 'closed' || event.type === 'RESET') return null;
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
    name: 'only the backoff ends an open period',
    violation: (from, event, to) => {
      if (from.value !== 'open' || event.type === 'ISOLATE' || event.type === 'RESET') return null;
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
];
