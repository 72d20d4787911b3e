/**
 * The HTTP API's JSON shapes: the original design's snake_case keys (`total_agents`, `task_id`, …;
 * docs/architecture.md, "Default semantics") over the TypeScript API's camelCase records, and the
 * per-agent rows the visualizer and SSE frames carry.
 */
import type { BreakerState } from '../../machines/circuitBreaker.js';
import type { BreakerMetrics, Transition } from '../breaker/breaker.js';
import { isoTime } from '../common/clock.js';
import type { AgentInfo, AgentStats, FailureRecord, HealthStatus, Supervisor } from '../supervisor/supervisorTypes.js';

/** `GET /api/circuit-breaker/health`: the original design's `get_health_status()`. */
export interface HealthJson {
  total_agents: number;
  healthy_agents: number;
  open_circuits: number;
  half_open_circuits: number;
  /** Beyond the original design: circuits isolated by hand. */
  isolated_circuits: number;
  routing_events: number;
}

/** One entry of `GET /api/circuit-breaker/failures`: the original design's `get_recent_failures()`. */
export interface FailureJson {
  task_id: string;
  agent_id: string;
  status: 'FAILED';
  reason: string;
  timestamp: string;
  /** Beyond the original design: `failed` or `timeout`, and which attempt of the task it was. */
  kind: 'failed' | 'timeout';
  attempt: number;
}

/** One entry of `GET /api/circuit-breaker/metrics`: the original design's `get_all_metrics()`. */
export interface MetricsJson {
  agent_id: string;
  state: BreakerState;
  metrics: {
    failure_count: number;
    success_count: number;
    total_rejections: number;
    last_failure_time: string | null;
    last_success_time: string | null;
    /** Beyond the original design: every failure ever counted. */
    total_failures: number;
  };
  backoff_seconds: number;
}

/** A state change, as SSE sends it. */
export interface TransitionJson {
  agent_id: string;
  from: BreakerState;
  to: BreakerState;
  timestamp: string;
  reason: string;
  /** Milliseconds until the next probe when the circuit just opened, else null. */
  retry_after_ms: number | null;
}

/** One agent's tile: everything the visualizer draws, read at once. */
export interface AgentJson {
  agent_id: string;
  state: BreakerState;
  priority: number | null;
  in_flight: number;
  successful: number;
  failed: number;
  timeout: number;
  not_permitted: number;
  half_open_probes: number;
  /** Consecutive failures of the current closed period; kept while open or half-open, 0 after a close. */
  failure_count: number;
  backoff_seconds: number;
  /** (failed + timeout) ÷ calls that ran, 0…1; 0 with no calls. */
  error_rate: number;
  /** Calls that ran (successful + failed + timeout): the visualizer's volume and sparkline. */
  calls: number;
  /** While open: milliseconds until the next probe by the supervisor's clock. Else null. */
  retry_after_ms: number | null;
  last_failure_time: string | null;
  last_success_time: string | null;
}

/** What an SSE `frame` event and `GET /api/agents` carry. */
export interface FrameJson {
  /** The supervisor clock's time, ISO-8601. */
  timestamp: string;
  health: HealthJson;
  /** Every agent's row, or in a capped frame the worst ones: by error rate, then volume. */
  agents: AgentJson[];
  /** How many agents there are (more than `agents.length` in a capped frame). */
  agents_total: number;
  tasks: { succeeded: number; failed: number; rejected: number };
  failovers: number;
  phase: string;
}

export function healthJson(health: HealthStatus): HealthJson {
  return {
    total_agents: health.totalAgents,
    healthy_agents: health.healthyAgents,
    open_circuits: health.openCircuits,
    half_open_circuits: health.halfOpenCircuits,
    isolated_circuits: health.isolatedCircuits,
    routing_events: health.routingEvents,
  };
}

export function failureJson(failure: FailureRecord): FailureJson {
  return {
    task_id: failure.taskId,
    agent_id: failure.agentId,
    status: failure.status,
    reason: failure.reason,
    timestamp: failure.timestamp,
    kind: failure.kind,
    attempt: failure.attempt,
  };
}

export function metricsJson(metrics: BreakerMetrics): MetricsJson {
  const m = metrics.metrics;
  return {
    agent_id: metrics.agentId,
    state: metrics.state,
    metrics: {
      failure_count: m.failureCount,
      success_count: m.successCount,
      total_rejections: m.totalRejections,
      last_failure_time: m.lastFailureTime,
      last_success_time: m.lastSuccessTime,
      total_failures: m.totalFailures,
    },
    backoff_seconds: metrics.backoffSeconds,
  };
}

/**
 * Milliseconds until an open circuit admits its next probe, by the supervisor's clock; null when
 * it is not open.
 */
export function retryAfterMs(supervisor: Supervisor, agentId: string): number | null {
  return openRetryAfterMs(supervisor, supervisor.getAgent(agentId));
}

function openRetryAfterMs(supervisor: Supervisor, agent: AgentInfo | undefined): number | null {
  if (agent === undefined || agent.state !== 'open') return null;
  return agent.breaker.retryAfterMs(supervisor.clock.now());
}

export function transitionJson(supervisor: Supervisor, transition: Transition): TransitionJson {
  return {
    agent_id: transition.agentId,
    from: transition.from,
    to: transition.to,
    timestamp: isoTime(transition.at) ?? '',
    reason: transition.reason,
    retry_after_ms: transition.to === 'open' ? retryAfterMs(supervisor, transition.agentId) : null,
  };
}

/** A row from the agent's counters and its `getAgent()` record (priority, metrics, retry-after). */
function agentJson(supervisor: Supervisor, stats: AgentStats, agent: AgentInfo | undefined): AgentJson {
  const calls = stats.successful + stats.failed + stats.timeout;
  const metrics = agent?.breaker.getMetrics();
  return {
    agent_id: stats.agentId,
    state: stats.state,
    priority: agent?.priority ?? null,
    in_flight: stats.inFlight,
    successful: stats.successful,
    failed: stats.failed,
    timeout: stats.timeout,
    not_permitted: stats.notPermitted,
    half_open_probes: stats.halfOpenProbes,
    failure_count: metrics?.metrics.failureCount ?? 0,
    backoff_seconds: metrics?.backoffSeconds ?? 0,
    error_rate: calls === 0 ? 0 : (stats.failed + stats.timeout) / calls,
    calls,
    retry_after_ms: stats.state === 'open' ? openRetryAfterMs(supervisor, agent) : null,
    last_failure_time: metrics?.metrics.lastFailureTime ?? null,
    last_success_time: metrics?.metrics.lastSuccessTime ?? null,
  };
}

/** Hystrix's order: the highest error rate first, then the most calls, then by id. */
function worstFirst(a: AgentJson, b: AgentJson): number {
  return (
    b.error_rate - a.error_rate || b.calls - a.calls || (a.agent_id < b.agent_id ? -1 : a.agent_id > b.agent_id ? 1 : 0)
  );
}

/**
 * Every agent's row and the totals: one `getStats()` read for the counters, then one `getAgent()`
 * lookup per row for the rest. With `maxAgents`, only that many rows, the worst first (a dashboard
 * of 10,000 agents shows the ones in trouble; an SSE frame stays small).
 */
export function frameJson(supervisor: Supervisor, maxAgents = Number.POSITIVE_INFINITY): FrameJson {
  const stats = supervisor.getStats();
  let agents = stats.agents.map((a) => agentJson(supervisor, a, supervisor.getAgent(a.agentId)));
  if (agents.length > maxAgents) agents = agents.sort(worstFirst).slice(0, maxAgents);
  return {
    timestamp: isoTime(supervisor.clock.now()) ?? '',
    health: healthJson(supervisor.getHealthStatus()),
    agents,
    agents_total: stats.agents.length,
    tasks: { ...stats.tasks },
    failovers: stats.failovers,
    phase: supervisor.phase,
  };
}

/** One agent's row (the same as its row in `frameJson`), read from that agent only; undefined for an unknown id. */
export function agentRow(supervisor: Supervisor, agentId: string): AgentJson | undefined {
  const stats = supervisor.getAgentStats(agentId);
  return stats === undefined ? undefined : agentJson(supervisor, stats, supervisor.getAgent(agentId));
}
