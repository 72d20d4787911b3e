/**
 * `breakerbox/testing`: helpers for users' own tests. Model checking arrives with its issue.
 */
export { SimulatedClock } from 'xstate';
