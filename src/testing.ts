/**
 * `breakerbox/testing`: helpers for users' own tests. `modelCheck()` explores every reachable state
 * of a breaker configured with your options and checks invariants (ours and yours); `replayPath()`
 * turns a counterexample into a regular test on a live actor with a simulated clock.
 */
export { SimulatedClock } from 'xstate';
export type { DelayedEvent, ExplorationEvent } from './testing/explorationEvents.js';
export type {
  BreakerInvariant,
  BreakerSnapshot,
  ModelCheckOptions,
  ModelCheckResult,
  ModelCheckViolation,
} from './testing/modelCheck.js';
export { modelCheck } from './testing/modelCheck.js';
export type { ReplayResult } from './testing/replayPath.js';
export { replayPath } from './testing/replayPath.js';
