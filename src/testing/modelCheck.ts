/**
 * `modelCheck()`: explores every reachable state of the breaker machine configured with the user's
 * options (with `xstate/graph`), checks the built-in invariants and the user's own on every state
 * and transition, and returns each broken invariant with the shortest event path that breaks it.
 * The half-open state's probe lease is explored as explicit `LEASE_GRANTED`/`LEASE_DENIED` steps
 * (the machine is provided with a lease that never answers by itself).
 */
import { transition } from 'xstate';
import { getAdjacencyMap } from 'xstate/graph';
import type { BreakerOptions } from '../../machines/breakerOptions.js';
import { type BreakerEvent, circuitBreakerMachine } from '../../machines/circuitBreaker.js';
import { validateBreakerOptions } from '../breaker/validateBreakerOptions.js';
import { ConfigError } from '../common/errors.js';
import { checkFunction, checkId, checkKnownKeys, checkNumber, checkPlainObject, optional } from '../common/validate.js';
import { type ExplorationEvent, explorationEvents, withManualLease } from './explorationEvents.js';
import { type InvariantSnapshot, type Step, stateInvariants, transitionInvariants } from './invariants.js';
import { breakerStateKey } from './stateKey.js';

/** A snapshot of the breaker machine: its state `value` and its `context`. */
export type BreakerSnapshot = ReturnType<typeof circuitBreakerMachine.transition>;

/** A property of the breaker's states: `check` returns true when it holds. */
export interface BreakerInvariant {
  name: string;
  check(snapshot: BreakerSnapshot): boolean;
}

export interface ModelCheckOptions {
  /** The breaker's options, as given to `createCircuitBreaker` (the `clock` is not used). */
  breaker?: BreakerOptions;
  /** Your invariants, checked on every reachable state besides the built-in ones. */
  invariants?: readonly BreakerInvariant[];
  /** Stop exploring after this many states (the result is then incomplete and not ok). Default 20000. */
  maxStates?: number;
}

export interface ModelCheckViolation {
  /** The invariant's name. */
  invariant: string;
  /** What went wrong, in words. */
  message: string;
  /**
   * The shortest sequence of events from a fresh breaker that breaks the invariant. Delayed
   * transitions appear as their XState events (`xstate.after.backoff.circuitBreaker.open`: the
   * open period elapsed); the probe lease's answer as `LEASE_GRANTED` or `LEASE_DENIED`; a probe
   * that ended with no verdict as `PROBE_RELEASED`.
   * `replayPath(path, options)` replays it on a live actor.
   */
  path: ExplorationEvent[];
  /** The snapshot where it is broken. */
  state: BreakerSnapshot;
  /** How many states and transitions break it (the path leads to one of the nearest). */
  occurrences: number;
}

export interface ModelCheckResult {
  /** Every invariant holds in every reachable state and the exploration was complete. */
  ok: boolean;
  /** False when `maxStates` stopped the exploration. */
  complete: boolean;
  /** Distinct states explored (state value and the context the guards read, the lease included). */
  states: number;
  /** Transitions explored (state × event, including events that change nothing). */
  edges: number;
  /** One entry per broken invariant, with its shortest counterexample. */
  violations: ModelCheckViolation[];
}

const DEFAULT_MAX_STATES = 20_000;

/**
 * Explores the breaker machine with your options and checks its invariants.
 *
 * @example
 * const result = modelCheck({
 *   breaker: { failureThreshold: 3, halfOpenMaxCalls: 2 },
 *   invariants: [{ name: 'never open', check: (s) => s.value !== 'open' }],
 * });
 * result.violations[0].path; // three FAILURE events
 */
export function modelCheck(options: ModelCheckOptions = {}): ModelCheckResult {
  validateModelCheckOptions(options);
  return checkBreakerMachine(circuitBreakerMachine, options);
}

/**
 * `modelCheck()` on a variant of the breaker machine (`circuitBreakerMachine.provide(…)`), with
 * validated options. Not part of the public API: our tests use it to show the built-in invariants
 * catch a broken guard.
 */
export function checkBreakerMachine(
  machine: typeof circuitBreakerMachine,
  options: ModelCheckOptions = {},
): ModelCheckResult {
  const breaker = options.breaker ?? {};
  const maxStates = options.maxStates ?? DEFAULT_MAX_STATES;
  const userInvariants = options.invariants ?? [];

  let expanded = 0;
  let complete = true;
  const explored = withManualLease(machine);
  const step: Step = (snapshot, event) =>
    transition(explored, snapshot as BreakerSnapshot, event)[0] as unknown as InvariantSnapshot;
  const adjacency = getAdjacencyMap(explored, {
    input: { agentId: breaker.id ?? 'breaker', options: breaker },
    serializeState: (snapshot) => breakerStateKey(snapshot),
    events: (snapshot) => explorationEvents(snapshot) as BreakerEvent[],
    stopWhen: () => {
      if (expanded >= maxStates) {
        complete = false;
        return true;
      }
      expanded++;
      return false;
    },
  });

  // Breadth-first parents over the explored graph: the shortest path to every state.
  const keys = Object.keys(adjacency) as Array<keyof typeof adjacency>;
  const initialKey = keys[0] as keyof typeof adjacency;
  const parent = new Map<string, { from: string; event: ExplorationEvent } | null>([[initialKey, null]]);
  const order: string[] = [initialKey];
  for (let i = 0; i < order.length; i++) {
    const key = order[i] as keyof typeof adjacency;
    for (const { event, state } of Object.values(adjacency[key]?.transitions ?? {})) {
      const next = breakerStateKey(state);
      if (!parent.has(next)) {
        parent.set(next, { from: key, event });
        order.push(next);
      }
    }
  }
  const pathTo = (key: string): ExplorationEvent[] => {
    const path: ExplorationEvent[] = [];
    for (let step = parent.get(key); step; step = parent.get(step.from)) path.unshift(step.event);
    return path;
  };

  const found = new Map<string, Omit<ModelCheckViolation, 'path'> & { key: string; event?: ExplorationEvent }>();
  const report = (
    invariant: string,
    message: string,
    state: BreakerSnapshot,
    key: string,
    event?: ExplorationEvent,
  ) => {
    const seen = found.get(invariant);
    if (seen) {
      seen.occurrences++;
      return;
    }
    found.set(invariant, { invariant, message, state, occurrences: 1, key, ...(event ? { event } : {}) });
  };

  let edges = 0;
  // States in breadth-first order, so the first violation of an invariant is one of the nearest.
  for (const key of order) {
    const node = adjacency[key as keyof typeof adjacency];
    if (node === undefined) continue;
    const state = node.state;
    for (const invariant of stateInvariants) {
      const message = invariant.violation(state as InvariantSnapshot);
      if (message !== null) report(invariant.name, message, state, key);
    }
    for (const invariant of userInvariants) {
      let holds: boolean;
      let message = `does not hold in ${describe(state)}`;
      try {
        holds = invariant.check(state) === true;
      } catch (error) {
        holds = false;
        message = `threw in ${describe(state)}: ${error instanceof Error ? error.message : String(error)}`;
      }
      if (!holds) report(invariant.name, message, state, key);
    }
    for (const { event, state: next } of Object.values(node.transitions)) {
      edges++;
      for (const invariant of transitionInvariants) {
        const message = invariant.violation(state as InvariantSnapshot, event, next as InvariantSnapshot, step);
        if (message !== null) report(invariant.name, message, next, key, event);
      }
    }
  }

  const violations = [...found.values()].map(({ key, event, ...violation }) => ({
    ...violation,
    path: event ? [...pathTo(key), event] : pathTo(key),
  }));
  return { ok: complete && violations.length === 0, complete, states: order.length, edges, violations };
}

function describe(snapshot: BreakerSnapshot): string {
  const c = snapshot.context;
  const lease = snapshot.value === 'half_open' ? `, lease ${c.probeLease}` : '';
  return `${snapshot.value} (failureCount ${c.failureCount}, probes ${c.probeSuccesses}/${c.probesAdmitted}${lease}, backoff ${c.backoffMs} ms)`;
}

function validateModelCheckOptions(options: unknown): asserts options is ModelCheckOptions {
  checkPlainObject(options, 'options');
  checkKnownKeys(options, '', ['breaker', 'invariants', 'maxStates']);
  optional(options.breaker, (breaker) => validateBreakerOptions(breaker, 'breaker'));
  optional(options.maxStates, (v) => checkNumber(v, 'maxStates', { min: 1, integer: true }));
  optional(options.invariants, (invariants) => {
    if (!Array.isArray(invariants)) throw new ConfigError('invariants', invariants, 'an array of { name, check }');
    invariants.forEach((invariant: unknown, i) => {
      checkPlainObject(invariant, `invariants[${i}]`);
      checkKnownKeys(invariant, `invariants[${i}]`, ['name', 'check']);
      checkId(invariant.name, `invariants[${i}].name`);
      checkFunction(invariant.check, `invariants[${i}].check`);
    });
  });
}
