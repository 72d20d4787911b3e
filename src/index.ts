/**
 * Breakerbox: an actor-model agent supervisor with statechart circuit breakers.
 * The public API is exactly what this file exports.
 */

export type {
  BackoffOptions,
  BreakerOptions,
  Clock,
  ConsecutiveTripPolicy,
  JitterMode,
  RateTripPolicy,
  TripPolicy,
} from '../machines/breakerOptions.js';
export { BREAKER_DEFAULTS } from '../machines/breakerOptions.js';
export type { BreakerContext, BreakerEvent, BreakerInput, ProbeLeaseInput } from '../machines/circuitBreaker.js';
export { alwaysGrantedLease, circuitBreakerMachine, localBreakerMachine } from '../machines/circuitBreaker.js';
export { supervisorMachine } from '../machines/supervisor.js';
export type { CallContext } from './callContext.js';
export type { BreakerMetrics, BreakerState, CircuitBreaker, Transition } from './circuitBreaker.js';
export { createCircuitBreaker } from './circuitBreaker.js';
export { realClock } from './clock.js';
export type { AttemptKind, AttemptRecord } from './errors.js';
export {
  AllAgentsFailedError,
  AttemptTimeoutError,
  BreakerboxError,
  CircuitOpenError,
  ConfigError,
  SupervisorStoppedError,
  TaskAbortedError,
} from './errors.js';
export type {
  AgentJson,
  DashboardHandler,
  DashboardOptions,
  DashboardServer,
  FailureJson,
  FrameJson,
  HealthJson,
  MetricsJson,
  ServeDashboardOptions,
  TransitionJson,
} from './http/index.js';
export { createDashboardHandler, METRIC_NAMES, registerPrometheusMetrics, serveDashboard } from './http/index.js';
export type { Inspector, InspectorOptions } from './inspect.js';
export { createInspector } from './inspect.js';
export { LATENCY_BUCKETS_SECONDS } from './latencyHistogram.js';
export type { AgentSnapshot, SupervisorSnapshot } from './snapshot.js';
export { createSupervisor } from './supervisor.js';
export type {
  AgentInfo,
  AgentSpec,
  AgentStats,
  FailureRecord,
  HealthStatus,
  RetryBudgetOptions,
  RouteOptions,
  RoutingDecision,
  RoutingOptions,
  RoutingPolicyName,
  SkippedCandidate,
  StopOptions,
  Supervisor,
  SupervisorOptions,
  SupervisorPhase,
  SupervisorStats,
} from './supervisorTypes.js';
export type { BreakerSync, SyncPeer, SyncTransition } from './sync.js';
