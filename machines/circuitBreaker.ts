/**
 * The circuit breaker statechart: every state decision of a breaker is made here.
 *
 * Pure: no I/O, no clock reads, no randomness of its own. Time arrives on events (`at`) and the
 * only timers are the machine's own `after` transitions, so `SimulatedClock` and fake timers drive
 * it and `xstate/graph` can explore it. Guards, actions and delays are named in `setup()` so the
 * inspector, the visualizer and counterexample paths read like the rules they implement
 * (docs/architecture.md, principle 8).
 *
 * The original design's states (docs/architecture.md, "Default semantics"): `closed` = CLOSED,
 * `open` = OPEN, `half_open` = HALF_OPEN; `isolated` is a manual OPEN with no automatic recovery
 * until `RESET`.
 */
import { assign, fromCallback, setup } from 'xstate';
import { growBackoff, jitteredDelay, seedFor } from './backoff.js';
import { type BreakerOptions, type BreakerPolicy, resolveBreakerPolicy } from './breakerOptions.js';

/** Every state of the breaker, in the original design's order (plus `isolated`; docs/architecture.md). */
export const BREAKER_STATES = ['closed', 'open', 'half_open', 'isolated'] as const;

/** The reason of a close by successful probes (a shared-state adapter publishes only these). */
export const PROBES_SUCCEEDED = 'probes succeeded';
export type BreakerState = (typeof BREAKER_STATES)[number];

export interface BreakerContext {
  agentId: string;
  policy: BreakerPolicy;
  /**
   * Bumped on every state change. An admitted call carries the generation it was admitted in; a
   * result from an older generation never changes state.
   */
  generation: number;
  /**
   * Consecutive failures of the current closed period (the original design's `failure_count`): a
   * success of the current generation clears it, a close or reset starts it at 0. Open, half-open
   * and isolated keep the count the closed period ended with (the one that tripped it); a failed
   * probe reopens the circuit without adding to it.
   */
  failureCount: number;
  lastFailureAt: number | null;
  lastFailureReason: string | null;
  /** The current backoff level, before jitter (the original design's `backoff_seconds` × 1000). */
  backoffMs: number;
  /** The open period actually scheduled (backoff after jitter). */
  probeDelayMs: number;
  /** When the open circuit lets probes in. Kept because XState does not persist pending timers. */
  nextProbeAt: number | null;
  /** When the current half-open window started. */
  halfOpenAt: number | null;
  probesAdmitted: number;
  probeSuccesses: number;
  /**
   * Whether this instance may probe in the current half-open window. The half-open state invokes
   * the `probeLease` actor: by default it grants at once; a shared-state adapter (Redis) grants it
   * to one instance of a cluster per window.
   */
  probeLease: 'pending' | 'granted' | 'denied';
  /** State of the jitter's pseudo-random generator. */
  rngState: number;
  /** When and why the last state change happened. */
  changedAt: number;
  changeReason: string;
}

export type BreakerEvent =
  /** A call admitted in `generation` succeeded. */
  | { type: 'SUCCESS'; generation: number; at: number }
  /**
   * A call admitted in `generation` failed. Under a rate trip policy the caller passes the sliding
   * window's figures including this failure; `ejectionAllowed: false` (the supervisor's
   * `maxEjectionPercent`) keeps the circuit closed.
   */
  | {
      type: 'FAILURE';
      generation: number;
      at: number;
      reason: string;
      windowCalls?: number;
      windowFailures?: number;
      ejectionAllowed?: boolean;
    }
  /**
   * A call asks for one of the half-open window's probe permits. `generation` is the window the
   * caller saw: a request queued behind a state change must not take a permit of the next window.
   * Omitted, it means the current one.
   */
  | { type: 'PROBE'; at: number; generation?: number }
  /**
   * An admitted probe ended with no verdict (the caller's error, an abort, the supervisor
   * stopping): its permit goes back to the window, so the next call can probe at once.
   */
  | { type: 'PROBE_RELEASED'; generation: number; at: number }
  /** Force the circuit open with no automatic recovery. */
  | { type: 'ISOLATE'; at: number }
  /** Back to a fresh closed circuit, from any state. */
  | { type: 'RESET'; at: number }
  /** Another instance tripped this agent's circuit: open until its `nextProbeAt`. */
  | { type: 'PEER_TRIPPED'; at: number; nextProbeAt: number }
  /** Another instance's probes closed this agent's circuit. */
  | { type: 'PEER_CLOSED'; at: number }
  /** The `probeLease` actor's answer for the current half-open window. */
  | { type: 'LEASE_GRANTED' }
  | { type: 'LEASE_DENIED' }
  /**
   * Resume from a snapshot of an earlier run (accepted only by a breaker that has not moved yet).
   * An open circuit stays open until the recorded `nextProbeAt`: the timer is re-armed from it,
   * since XState does not restore pending delayed events. A half-open window restarts cleanly.
   */
  | ({ type: 'RESTORE'; at: number } & BreakerResume);

/** What a breaker resumes from (a snapshot entry, a `RESTORE` event): its state and its context's record. */
export type BreakerResume = { state: BreakerState } & Pick<
  BreakerContext,
  'failureCount' | 'backoffMs' | 'nextProbeAt' | 'lastFailureAt' | 'lastFailureReason'
>;

/** Input of the `probeLease` actor the half-open state invokes. */
export interface ProbeLeaseInput {
  agentId: string;
  generation: number;
}

/** The default lease: granted at once (one process decides alone). */
export const alwaysGrantedLease = fromCallback<{ type: 'LEASE_GRANTED' }, ProbeLeaseInput>(({ sendBack }) => {
  sendBack({ type: 'LEASE_GRANTED' });
});

export interface BreakerInput {
  /** The agent's id. */
  agentId: string;
  options?: BreakerOptions;
  /** The clock's time when the breaker is created. Default 0. */
  now?: number;
}

export function initialBreakerContext(input: BreakerInput): BreakerContext {
  const policy = resolveBreakerPolicy(input.options);
  return {
    agentId: input.agentId,
    policy,
    generation: 0,
    failureCount: 0,
    lastFailureAt: null,
    lastFailureReason: null,
    backoffMs: policy.backoff.initialMs,
    probeDelayMs: policy.backoff.initialMs,
    nextProbeAt: null,
    halfOpenAt: null,
    probesAdmitted: 0,
    probeSuccesses: 0,
    probeLease: 'pending',
    // Each agent draws its own sequence: with one shared seed, agents that failed together would
    // all draw the same delays and probe together, which jitter is there to prevent.
    rngState: seedFor(policy.jitterSeed, input.agentId),
    changedAt: input.now ?? 0,
    changeReason: 'created',
  };
}

/** Open the circuit at `at` for the current backoff level (after jitter). */
function openedAt(context: BreakerContext, at: number, reason: string): Partial<BreakerContext> {
  const { delayMs, rngState } = jitteredDelay(
    context.backoffMs,
    context.probeDelayMs,
    context.policy.backoff,
    context.rngState,
  );
  return {
    generation: context.generation + 1,
    probeDelayMs: delayMs,
    nextProbeAt: at + delayMs,
    halfOpenAt: null,
    probesAdmitted: 0,
    probeSuccesses: 0,
    rngState,
    changedAt: at,
    changeReason: reason,
  };
}

/** A fresh closed period (a close or a reset): no failures, the initial backoff, a new generation. */
function freshClosed(context: BreakerContext, event: { type: string }, reason: string): Partial<BreakerContext> {
  return {
    generation: context.generation + 1,
    failureCount: 0,
    backoffMs: context.policy.backoff.initialMs,
    probeDelayMs: context.policy.backoff.initialMs,
    nextProbeAt: null,
    halfOpenAt: null,
    probesAdmitted: 0,
    probeSuccesses: 0,
    changedAt: 'at' in event ? (event as { at: number }).at : context.changedAt,
    changeReason: reason,
  };
}

type GuardArgs = { context: BreakerContext; event: BreakerEvent };

/**
 * Whether a half-open window may hand out another probe permit: it holds the lease and has a
 * permit left. The `probeBudgetLeft` guard, exported so the runtime can tell a caller at once
 * whether it holds a permit, by the same rule, even while the actor is busy and the `PROBE` it
 * sends is only queued (docs/architecture.md, "Admission is synchronous").
 */
export function mayAdmitProbe(context: Pick<BreakerContext, 'probeLease' | 'probesAdmitted' | 'policy'>): boolean {
  return context.probeLease === 'granted' && context.probesAdmitted < context.policy.halfOpenMaxCalls;
}

function isCurrentGeneration({ context, event }: GuardArgs): boolean {
  return (event.type === 'SUCCESS' || event.type === 'FAILURE') && event.generation === context.generation;
}

function tripPolicySaysOpen({ context, event }: GuardArgs): boolean {
  if (event.type !== 'FAILURE' || event.ejectionAllowed === false) return false;
  const trip = context.policy.trip;
  if (trip.kind === 'consecutive') return context.failureCount + 1 >= trip.threshold;
  const calls = event.windowCalls ?? 0;
  const failures = event.windowFailures ?? 0;
  // Compare the failed share, not failures with rate × calls: 55 of 100 calls is a share of
  // exactly 0.55, while 0.55 × 100 is 55.00000000000001 and would not trip.
  return calls >= trip.minimumCalls && calls > 0 && failures / calls >= trip.failureRate;
}

function isRestoreOf(context: BreakerContext, event: BreakerEvent, state: BreakerState): boolean {
  return event.type === 'RESTORE' && event.state === state && context.generation === 0;
}

/**
 * The open period until a peer's or a snapshot's probe time: never negative, and never past
 * `backoff.maxMs` (a far-future time from outside must not hold the circuit open for ever, and
 * Node turns a timer beyond 2^31 ms into one of 1 ms). A time already past is kept as it is.
 */
function openUntil(context: BreakerContext, at: number, nextProbeAt: number) {
  const probeDelayMs = Math.min(Math.max(0, nextProbeAt - at), context.policy.backoff.maxMs);
  return { probeDelayMs, nextProbeAt: nextProbeAt - at > probeDelayMs ? at + probeDelayMs : nextProbeAt };
}

const breakerSetup = setup({
  types: {
    context: {} as BreakerContext,
    events: {} as BreakerEvent,
    input: {} as BreakerInput,
  },
  actors: { probeLease: alwaysGrantedLease },
  guards: {
    /** The result belongs to a call admitted in the current generation. */
    isCurrentGeneration: (args) => isCurrentGeneration(args),
    /** A current-generation failure that the trip policy says opens the circuit. */
    failureThresholdReached: (args) => isCurrentGeneration(args) && tripPolicySaysOpen(args),
    /** A probe request for this half-open window, which holds the lease and has a permit left. */
    probeBudgetLeft: ({ context, event }) =>
      event.type === 'PROBE' &&
      (event.generation === undefined || event.generation === context.generation) &&
      mayAdmitProbe(context),
    /** An admitted probe of this window ended with no verdict: its permit is still out. */
    probePermitOut: ({ context, event }) =>
      event.type === 'PROBE_RELEASED' &&
      event.generation === context.generation &&
      context.probesAdmitted > context.probeSuccesses,
    /** The probe lease of this half-open window has not been answered yet. */
    leasePending: ({ context }) => context.probeLease === 'pending',
    /** An admitted probe has not reported yet. */
    probeOutstanding: ({ context }) => context.probesAdmitted > context.probeSuccesses,
    /** A current-generation result of an admitted probe. */
    isProbeResult: (args) => isCurrentGeneration(args) && args.context.probesAdmitted > args.context.probeSuccesses,
    /** A probe success that completes the window's probes. */
    lastProbeSucceeded: (args) =>
      isCurrentGeneration(args) &&
      args.context.probesAdmitted > args.context.probeSuccesses &&
      args.context.probeSuccesses + 1 >= args.context.policy.halfOpenMaxCalls,
    /** RESTORE is accepted only by a breaker that has not moved since it was created. */
    restoresOpen: ({ context, event }) => isRestoreOf(context, event, 'open'),
    restoresHalfOpen: ({ context, event }) => isRestoreOf(context, event, 'half_open'),
    restoresIsolated: ({ context, event }) => isRestoreOf(context, event, 'isolated'),
    restoresClosed: ({ context, event }) => isRestoreOf(context, event, 'closed'),
  },
  actions: {
    recordFailure: assign(({ context, event }) => {
      if (event.type !== 'FAILURE') return {};
      return {
        failureCount: context.failureCount + 1,
        lastFailureAt: event.at,
        lastFailureReason: event.reason,
      };
    }),
    /** A failed probe: the last failure's time and reason, not a failure of a closed period. */
    recordProbeFailure: assign(({ event }) =>
      event.type === 'FAILURE' ? { lastFailureAt: event.at, lastFailureReason: event.reason } : {},
    ),
    clearFailures: assign({ failureCount: 0 }),
    openCircuit: assign(({ context, event }) => {
      const at = 'at' in event ? event.at : context.changedAt;
      const reason =
        event.type === 'FAILURE'
          ? context.policy.trip.kind === 'rate'
            ? `failure rate reached: ${event.reason}`
            : `failure threshold reached: ${event.reason}`
          : event.type;
      return openedAt(context, at, reason);
    }),
    reopenCircuit: assign(({ context, event }) => {
      const at = event.type === 'FAILURE' ? event.at : context.changedAt;
      const backoffMs = growBackoff(context.backoffMs, context.policy.backoff);
      const reason = event.type === 'FAILURE' ? `probe failed: ${event.reason}` : 'probe timed out';
      return { backoffMs, ...openedAt({ ...context, backoffMs }, at, reason) };
    }),
    reopenStuckProbe: assign(({ context }) => {
      const at = (context.halfOpenAt ?? context.changedAt) + context.policy.halfOpenTimeoutMs;
      const backoffMs = growBackoff(context.backoffMs, context.policy.backoff);
      return {
        backoffMs,
        lastFailureAt: at,
        lastFailureReason: 'probe timed out',
        ...openedAt({ ...context, backoffMs }, at, 'probe timed out'),
      };
    }),
    startHalfOpenWindow: assign(({ context }) => {
      // A probe time already past when the circuit opened (a late peer message, a long restart)
      // starts the window when it opened, not in the past.
      const at = Math.max(context.nextProbeAt ?? context.changedAt, context.changedAt);
      return {
        generation: context.generation + 1,
        nextProbeAt: null,
        halfOpenAt: at,
        probesAdmitted: 0,
        probeSuccesses: 0,
        probeLease: 'pending' as const,
        changedAt: at,
        changeReason: 'backoff elapsed',
      };
    }),
    restartHalfOpenWindow: assign(({ context }) => {
      const at = (context.halfOpenAt ?? context.changedAt) + context.policy.halfOpenTimeoutMs;
      return {
        generation: context.generation + 1,
        halfOpenAt: at,
        probesAdmitted: 0,
        probeSuccesses: 0,
        probeLease: 'pending' as const,
        changedAt: at,
        changeReason: 'half-open window restarted',
      };
    }),
    admitProbe: assign({ probesAdmitted: ({ context }) => context.probesAdmitted + 1 }),
    releaseProbe: assign({ probesAdmitted: ({ context }) => context.probesAdmitted - 1 }),
    countProbeSuccess: assign({ probeSuccesses: ({ context }) => context.probeSuccesses + 1 }),
    closeCircuit: assign(({ context, event }) =>
      freshClosed(context, event, event.type === 'PEER_CLOSED' ? 'closed by a peer' : PROBES_SUCCEEDED),
    ),
    grantLease: assign({ probeLease: 'granted' as const }),
    denyLease: assign({ probeLease: 'denied' as const }),
    /** Open until the peer's `nextProbeAt`, the same moment every instance probes. */
    openLikePeer: assign(({ context, event }) => {
      if (event.type !== 'PEER_TRIPPED') return {};
      return {
        generation: context.generation + 1,
        ...openUntil(context, event.at, event.nextProbeAt),
        halfOpenAt: null,
        probesAdmitted: 0,
        probeSuccesses: 0,
        changedAt: event.at,
        changeReason: 'tripped by a peer',
      };
    }),
    restoreCircuit: assign(({ context, event }) => {
      if (event.type !== 'RESTORE') return {};
      const { initialMs, maxMs } = context.policy.backoff;
      const backoffMs = Math.min(Math.max(event.backoffMs, initialMs), maxMs);
      const open = event.state === 'open' ? openUntil(context, event.at, event.nextProbeAt ?? event.at) : undefined;
      return {
        generation: context.generation + 1,
        failureCount: event.failureCount,
        backoffMs,
        probeDelayMs: open?.probeDelayMs ?? backoffMs,
        nextProbeAt: open?.nextProbeAt ?? null,
        // A restored half-open window starts now: its probes are the new run's.
        halfOpenAt: event.state === 'half_open' ? event.at : null,
        probesAdmitted: 0,
        probeSuccesses: 0,
        probeLease: 'pending' as const,
        lastFailureAt: event.lastFailureAt,
        lastFailureReason: event.lastFailureReason,
        changedAt: event.at,
        changeReason: 'restored',
      };
    }),
    isolateCircuit: assign(({ context, event }) => ({
      generation: context.generation + 1,
      nextProbeAt: null,
      halfOpenAt: null,
      probesAdmitted: 0,
      probeSuccesses: 0,
      changedAt: 'at' in event ? event.at : context.changedAt,
      changeReason: 'isolated',
    })),
    resetCircuit: assign(({ context, event }) => freshClosed(context, event, 'reset')),
  },
  delays: {
    /** The open period: the backoff level after jitter. */
    backoff: ({ context }) => context.probeDelayMs,
    /** The longest a half-open window may wait for its probes. */
    halfOpenTimeout: ({ context }) => context.policy.halfOpenTimeoutMs,
  },
});

export const circuitBreakerMachine = breakerSetup.createMachine({
  id: 'circuitBreaker',
  context: ({ input }) => initialBreakerContext(input),
  initial: 'closed',
  on: {
    ISOLATE: { target: '.isolated', actions: 'isolateCircuit' },
    RESET: { target: '.closed', actions: 'resetCircuit' },
  },
  states: {
    closed: {
      on: {
        FAILURE: [
          { guard: 'failureThresholdReached', target: 'open', actions: ['recordFailure', 'openCircuit'] },
          { guard: 'isCurrentGeneration', actions: 'recordFailure' },
        ],
        SUCCESS: { guard: 'isCurrentGeneration', actions: 'clearFailures' },
        PEER_TRIPPED: { target: 'open', actions: 'openLikePeer' },
        RESTORE: [
          { guard: 'restoresOpen', target: 'open', actions: 'restoreCircuit' },
          { guard: 'restoresHalfOpen', target: 'half_open', actions: 'restoreCircuit' },
          { guard: 'restoresIsolated', target: 'isolated', actions: 'restoreCircuit' },
          { guard: 'restoresClosed', actions: 'restoreCircuit' },
        ],
      },
    },
    open: {
      after: {
        backoff: { target: 'half_open', actions: 'startHalfOpenWindow' },
      },
      on: {
        PEER_CLOSED: { target: 'closed', actions: 'closeCircuit' },
      },
    },
    half_open: {
      invoke: {
        src: 'probeLease',
        input: ({ context }) => ({ agentId: context.agentId, generation: context.generation }),
      },
      after: {
        halfOpenTimeout: [
          { guard: 'probeOutstanding', target: 'open', actions: 'reopenStuckProbe' },
          { target: 'half_open', reenter: true, actions: 'restartHalfOpenWindow' },
        ],
      },
      on: {
        // One answer per window: a late or repeated answer cannot revoke a lease probes run under.
        LEASE_GRANTED: { guard: 'leasePending', actions: 'grantLease' },
        LEASE_DENIED: { guard: 'leasePending', actions: 'denyLease' },
        PROBE: { guard: 'probeBudgetLeft', actions: 'admitProbe' },
        PROBE_RELEASED: { guard: 'probePermitOut', actions: 'releaseProbe' },
        SUCCESS: [
          { guard: 'lastProbeSucceeded', target: 'closed', actions: 'closeCircuit' },
          { guard: 'isProbeResult', actions: 'countProbeSuccess' },
        ],
        FAILURE: { guard: 'isProbeResult', target: 'open', actions: ['recordProbeFailure', 'reopenCircuit'] },
        PEER_TRIPPED: { target: 'open', actions: 'openLikePeer' },
        PEER_CLOSED: { target: 'closed', actions: 'closeCircuit' },
      },
    },
    isolated: {
      on: {
        // Already isolated: stay, keep the generation (the root's ISOLATE would re-enter).
        ISOLATE: {},
      },
    },
  },
});

/**
 * The same chart without the probe-lease actor: each half-open window holds its lease from the
 * moment it starts (`grantLease` on entry, after the transition set it `pending`). This is what a
 * breaker runs when no shared-state adapter decides who probes, the default: invoking even the
 * always-granting actor created and stopped an actor per window, about half of every open →
 * half-open transition's cost. Its runs are the chart's runs with `LEASE_GRANTED` answered at once,
 * so the chart's model check covers it; `test/modelCheck.breaker.test.ts` checks it as well. Typed
 * as the chart: the same context, events, states and implementations, one invoke fewer.
 */
export const localBreakerMachine = breakerSetup.createMachine(
  withoutProbeLease(circuitBreakerMachine.config),
) as unknown as typeof circuitBreakerMachine;

type BreakerChart = Parameters<typeof breakerSetup.createMachine>[0];

function withoutProbeLease(chart: typeof circuitBreakerMachine.config): BreakerChart {
  const states = chart.states as Record<string, Record<string, unknown>>;
  const { invoke: _leaseActor, ...halfOpen } = states.half_open as Record<string, unknown>;
  return { ...chart, states: { ...states, half_open: { ...halfOpen, entry: 'grantLease' } } } as BreakerChart;
}

export type CircuitBreakerMachine = typeof circuitBreakerMachine;
