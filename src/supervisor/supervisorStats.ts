/** What `getStats()`, `getHealthStatus()` and `/metrics` read: counters, never pushed. */
import type { Agent } from '../pool/agent.js';
import type { AgentPool } from '../pool/agentPool.js';
import type { AgentStats, HealthStatus } from './supervisorTypes.js';

const EMPTY_BUCKETS: readonly number[] = Object.freeze(new Array(12).fill(0));

/** One agent's counters. */
export function agentStats(agent: Agent): AgentStats {
  const b = agent.breaker;
  const latency = b.latency;
  return {
    agentId: agent.id,
    state: b.state,
    successful: b.successCount,
    failed: b.totalFailures - b.timeouts,
    timeout: b.timeouts,
    notPermitted: b.totalRejections,
    halfOpenProbes: b.probes,
    openToHalfOpen: b.openToHalfOpen,
    inFlight: b.inFlight,
    nextProbeAt: b.state === 'open' ? b.context.nextProbeAt : null,
    latency: latency
      ? { buckets: latency.cumulative(), sumSeconds: latency.sumMs / 1000, count: latency.count }
      : { buckets: EMPTY_BUCKETS, sumSeconds: 0, count: 0 },
  };
}

/** The original design's health fields, camelCase. */
export function healthOf(pool: AgentPool, routingEvents: number): HealthStatus {
  const counts = pool.counts;
  return {
    totalAgents: pool.size,
    healthyAgents: counts.closed,
    openCircuits: counts.open,
    halfOpenCircuits: counts.half_open,
    isolatedCircuits: counts.isolated,
    routingEvents,
  };
}
