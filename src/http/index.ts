/** The HTTP surface: JSON API, SSE, Prometheus `/metrics` and the visualizer. */
export { createDashboardHandler, type DashboardHandler } from './handler.js';
export { METRIC_NAMES, registerPrometheusMetrics } from './metrics.js';
export type { DashboardOptions } from './options.js';
export { type DashboardServer, type ServeDashboardOptions, serveDashboard } from './serve.js';
export type { AgentJson, FailureJson, FrameJson, HealthJson, MetricsJson, TransitionJson } from './wire.js';
