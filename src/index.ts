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
export type { BreakerMetrics, BreakerState, CircuitBreaker, Transition } from './breaker/breaker.js';
export { createCircuitBreaker } from './breaker/breaker.js';
export type { BreakerSync, SyncPeer, SyncTransition } from './breaker/breakerSync.js';
export { LATENCY_BUCKETS_SECONDS } from './breaker/latencyHistogram.js';
export { realClock } from './common/clock.js';
export type { AttemptKind, AttemptRecord } from './common/errors.js';
export {
  AllAgentsFailedError,
  AttemptTimeoutError,
  BreakerboxError,
  CircuitOpenError,
  ConfigError,
  SupervisorStoppedError,
  TaskAbortedError,
} from './common/errors.js';
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
export type { Inspector, InspectorOptions } from './inspection/inspectorRelay.js';
export { createInspector } from './inspection/inspectorRelay.js';
export { createSupervisor } from './supervisor/createSupervisor.js';
export type { AgentSnapshot, SupervisorSnapshot } from './supervisor/snapshot.js';
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
} from './supervisor/supervisorTypes.js';
export type { CallContext } from './task/callContext.js';
