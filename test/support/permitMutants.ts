/**
 * Broken copies of the breaker chart's probe-permit rules, shared by the two model-check suites
 * (`modelCheck.api` checks them through `breakerbox/testing`, `modelCheck.breaker` through our own
 * explorer): each must be caught by the checks on probe permits.
 */
import { assign } from 'xstate';
import {
  type BreakerContext,
  type BreakerEvent,
  type circuitBreakerMachine,
  mayAdmitProbe,
} from '../../machines/circuitBreaker.js';

/** What `circuitBreakerMachine.provide()` takes. */
export type Implementations = Parameters<typeof circuitBreakerMachine.provide>[0];

type GuardArgs = { context: BreakerContext; event: BreakerEvent };

/** `probeBudgetLeft`'s request test: the PROBE names the current window, or none. */
export const currentWindow = ({ context, event }: GuardArgs): boolean =>
  event.type === 'PROBE' && (event.generation === undefined || event.generation === context.generation);

/** Admits probes without the lease, unlike `mayAdmitProbe()`. */
export const ignoresTheLease = {
  guards: {
    probeBudgetLeft: (args: GuardArgs) =>
      currentWindow(args) && args.context.probesAdmitted < args.context.policy.halfOpenMaxCalls,
  },
} as Implementations;

/**
 * A permit given back is lost to context the state key leaves out: only a check that steps on from
 * the release's own target sees it (the window has the key of one reached with fewer steps).
 */
export const losesReleasedPermit = {
  guards: {
    probeBudgetLeft: (args: GuardArgs) =>
      currentWindow(args) && mayAdmitProbe(args.context) && args.context.changeReason !== 'permit released',
  },
  actions: {
    releaseProbe: assign(({ context }: { context: BreakerContext }) => ({
      probesAdmitted: context.probesAdmitted - 1,
      changeReason: 'permit released',
    })),
  },
} as Implementations;
