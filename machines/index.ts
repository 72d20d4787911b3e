/** The statecharts on their own: for the Stately editor, `xstate/graph` and users' model checks. */
export * from './backoff.js';
export * from './breakerOptions.js';
export * from './breakerShard.js';
export * from './circuitBreaker.js';
export * from './supervisor.js';
