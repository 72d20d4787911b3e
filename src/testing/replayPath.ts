/**
 * `replayPath()`: runs an event path (a `modelCheck()` counterexample, or one you write) on a live
 * breaker actor driven by XState's `SimulatedClock`, so a counterexample becomes a regular test.
 */
import { createActor, SimulatedClock } from 'xstate';
import type { BreakerOptions } from '../../machines/breakerOptions.js';
import { BREAKER_STATES, type BreakerEvent, type BreakerState } from '../../machines/circuitBreaker.js';
import { validateBreakerOptions } from '../breaker/validateBreakerOptions.js';
import { ConfigError } from '../common/errors.js';
import { checkNumber, checkOneOf, checkPlainObject } from '../common/validate.js';
import { delayedEvents, type ExplorationEvent, isDelayedEvent, withManualLease } from './explorationEvents.js';
import type { BreakerSnapshot } from './modelCheck.js';

export interface ReplayResult {
  /** The state before the first event, then after each event: `path.length + 1` entries. */
  states: BreakerState[];
  /** The snapshots, index for index with `states`. */
  snapshots: BreakerSnapshot[];
  /** The simulated time after each entry of `states`, in ms from the start (0). */
  times: number[];
}

const EVENT_TYPES = new Set([
  'SUCCESS',
  'FAILURE',
  'PROBE',
  'PROBE_RELEASED',
  'ISOLATE',
  'RESET',
  'LEASE_GRANTED',
  'LEASE_DENIED',
  'PEER_TRIPPED',
  'PEER_CLOSED',
  'RESTORE',
]);

/** The breaker machine with a probe lease that answers only when the path says so. */
const replayedMachine = withManualLease();

/**
 * Replays `path` on a fresh breaker actor with `options`. A delayed event
 * (`xstate.after.backoff.circuitBreaker.open`) advances the simulated clock by exactly that delay,
 * so the actor's own timer fires; every other event is sent with `at` set to the clock's time, and
 * the times it carries (a peer's or a snapshot's `nextProbeAt`, a snapshot's `lastFailureAt`) moved
 * by as much, so they keep their distance from `at`. The half-open state's probe lease answers only
 * when the path says so (`LEASE_GRANTED`, `LEASE_DENIED`), as in `modelCheck()`.
 * Throws `ConfigError` for an invalid option, an unknown or malformed event, or a delayed event the
 * current state does not schedule.
 */
export function replayPath(path: readonly ExplorationEvent[], options: BreakerOptions = {}): ReplayResult {
  validateBreakerOptions(options);
  if (!Array.isArray(path)) throw new ConfigError('path', path, 'an array of events');
  path.forEach((event: unknown, i) => {
    checkPlainObject(event, `path[${i}]`);
    const type = event.type;
    if (typeof type !== 'string' || !(EVENT_TYPES.has(type) || isDelayedEvent({ type }))) {
      throw new ConfigError(
        `path[${i}].type`,
        type,
        `one of ${[...EVENT_TYPES].join(', ')} or an xstate.after.… event`,
      );
    }
    if (type === 'SUCCESS' || type === 'FAILURE' || type === 'PROBE_RELEASED') {
      checkNumber(event.generation, `path[${i}].generation`, { integer: true });
    }
    // A PROBE names the half-open window its caller saw, or none (the current one).
    if (type === 'PROBE' && event.generation !== undefined) {
      checkNumber(event.generation, `path[${i}].generation`, { integer: true });
    }
    if (type === 'FAILURE' && typeof event.reason !== 'string') {
      throw new ConfigError(`path[${i}].reason`, event.reason, 'a string');
    }
    if (type === 'PEER_TRIPPED') checkNumber(event.nextProbeAt, `path[${i}].nextProbeAt`);
    if (type === 'RESTORE') {
      checkOneOf(event.state, `path[${i}].state`, BREAKER_STATES);
      checkNumber(event.failureCount, `path[${i}].failureCount`, { min: 0, integer: true });
      checkNumber(event.backoffMs, `path[${i}].backoffMs`, { min: 0 });
      if (event.nextProbeAt !== null) checkNumber(event.nextProbeAt, `path[${i}].nextProbeAt`);
      if (event.lastFailureAt !== null) checkNumber(event.lastFailureAt, `path[${i}].lastFailureAt`);
      if (event.lastFailureReason !== null && typeof event.lastFailureReason !== 'string') {
        throw new ConfigError(`path[${i}].lastFailureReason`, event.lastFailureReason, 'a string or null');
      }
    }
  });

  const clock = new SimulatedClock();
  const actor = createActor(replayedMachine, {
    input: { agentId: options.id ?? 'breaker', options, now: 0 },
    clock,
  });
  actor.start();
  const snapshots: BreakerSnapshot[] = [actor.getSnapshot()];
  const times = [0];
  try {
    path.forEach((event, i) => {
      const before = actor.getSnapshot();
      if (isDelayedEvent(event)) {
        if (!delayedEvents(before.value).some((delayed) => delayed.type === event.type)) {
          throw new ConfigError(`path[${i}].type`, event.type, `a delayed event of the state ${before.value}`);
        }
        clock.increment(delayOf(event.type, before));
      } else {
        actor.send(atClockTime(event, clock.now()));
      }
      snapshots.push(actor.getSnapshot());
      times.push(clock.now());
    });
  } finally {
    actor.stop();
  }
  return { states: snapshots.map((snapshot) => snapshot.value), snapshots, times };
}

/** `event` sent at `now`: its `at` is `now`, and the times it carries move by as much. */
function atClockTime(event: BreakerEvent, now: number): BreakerEvent {
  if (!('at' in event)) return event;
  const shift = (time: number) => now + time - (typeof event.at === 'number' ? event.at : 0);
  switch (event.type) {
    case 'PEER_TRIPPED':
      return { ...event, at: now, nextProbeAt: shift(event.nextProbeAt) };
    case 'RESTORE':
      return {
        ...event,
        at: now,
        nextProbeAt: event.nextProbeAt === null ? null : shift(event.nextProbeAt),
        lastFailureAt: event.lastFailureAt === null ? null : shift(event.lastFailureAt),
      };
    default:
      return { ...event, at: now };
  }
}

/** The length of the delay a delayed event is named after: `xstate.after.<delay>.<state id>`. */
function delayOf(type: string, snapshot: BreakerSnapshot): number {
  const delay = type.slice('xstate.after.'.length, type.indexOf('.', 'xstate.after.'.length));
  const named = (replayedMachine.implementations.delays as Record<string, unknown>)[delay];
  if (typeof named === 'function') {
    return (named as (args: { context: unknown; event: unknown }) => number)({
      context: snapshot.context,
      event: { type },
    });
  }
  return Number(delay);
}
