/**
 * Prometheus metrics, pulled at scrape time (docs/architecture.md, principle 7): every metric is a
 * prom-client metric whose `collect()` reads the supervisor's counters when `/metrics` is scraped.
 * Nothing runs on the call path.
 *
 * Names are prefixed `breakerbox_`; the per-breaker label is `name` and the outcome label `kind`,
 * as resilience4j's Micrometer binder does, so its Grafana dashboards translate by renaming
 * `resilience4j_` to `breakerbox_`.
 */
import { Counter, Gauge, type Metric, Registry } from 'prom-client';
import { BREAKER_STATES } from '../../machines/circuitBreaker.js';
import { LATENCY_BUCKETS_SECONDS } from '../breaker/latencyHistogram.js';
import type { Supervisor } from '../supervisor/supervisorTypes.js';

/** Every metric name this module registers. */
export const METRIC_NAMES = {
  state: 'breakerbox_circuitbreaker_state',
  calls: 'breakerbox_circuitbreaker_calls_total',
  duration: 'breakerbox_circuitbreaker_call_duration_seconds',
  probes: 'breakerbox_circuitbreaker_half_open_probes_total',
  openToHalfOpen: 'breakerbox_circuitbreaker_open_to_half_open_total',
  inFlight: 'breakerbox_circuitbreaker_in_flight_calls',
  tasks: 'breakerbox_tasks_total',
  failovers: 'breakerbox_failovers_total',
  routingEvents: 'breakerbox_routing_events_total',
} as const;

/**
 * A histogram whose buckets were counted elsewhere (the breaker's `LatencyHistogram`): prom-client's
 * own `Histogram` can only observe values one by one, so this is a custom collector that hands the
 * registry ready-made samples at scrape time.
 */
class PrecountedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => {
      labels: Record<string, string>;
      buckets: readonly number[];
      sum: number;
      count: number;
    }[],
  ) {}

  async get() {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const series of this.read()) {
      series.buckets.forEach((value, i) => {
        const le = i < LATENCY_BUCKETS_SECONDS.length ? (LATENCY_BUCKETS_SECONDS[i] as number) : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...series.labels, le }, value });
      });
      values.push({ metricName: `${this.name}_sum`, labels: series.labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: series.labels, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}

/**
 * Registers the supervisor's metrics in `registry` (a new one by default) and returns it. Each
 * scrape reads `getStats()` once. Register one supervisor per registry: the names would clash.
 *
 * @example
 * const registry = registerPrometheusMetrics(supervisor);
 * const text = await registry.metrics();
 */
export function registerPrometheusMetrics(supervisor: Supervisor, registry: Registry = new Registry()): Registry {
  // One read of the counters per scrape: the registry runs every metric's collect() in the same
  // synchronous pass, so the read is shared until the next microtask.
  let cached: ReturnType<Supervisor['getStats']> | undefined;
  const stats = () => {
    if (cached === undefined) {
      cached = supervisor.getStats();
      queueMicrotask(() => {
        cached = undefined;
      });
    }
    return cached;
  };
  const registers = [registry];

  new Gauge({
    name: METRIC_NAMES.state,
    help: 'The state of the circuit breaker: 1 for its current state, 0 for the others',
    labelNames: ['name', 'state'],
    registers,
    collect() {
      this.reset();
      for (const agent of stats().agents) {
        for (const state of BREAKER_STATES) this.set({ name: agent.agentId, state }, agent.state === state ? 1 : 0);
      }
    },
  });

  new Counter({
    name: METRIC_NAMES.calls,
    help: 'Calls by outcome: successful, failed, timeout (attempt timed out), not_permitted (rejected by the circuit)',
    labelNames: ['name', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const a of stats().agents) {
        this.inc({ name: a.agentId, kind: 'successful' }, a.successful);
        this.inc({ name: a.agentId, kind: 'failed' }, a.failed);
        this.inc({ name: a.agentId, kind: 'timeout' }, a.timeout);
        this.inc({ name: a.agentId, kind: 'not_permitted' }, a.notPermitted);
      }
    },
  });

  const histogram = new PrecountedHistogram(
    METRIC_NAMES.duration,
    'Duration of the calls a circuit admitted, in seconds',
    () =>
      stats().agents.map((a) => ({
        labels: { name: a.agentId },
        buckets: a.latency.buckets,
        sum: a.latency.sumSeconds,
        count: a.latency.count,
      })),
  );
  // A duck-typed collector: the registry only calls get() (and reads name, type, aggregator).
  registry.registerMetric(histogram as unknown as Metric);

  new Counter({
    name: METRIC_NAMES.probes,
    help: 'Probe calls admitted while half-open',
    labelNames: ['name'],
    registers,
    collect() {
      this.reset();
      for (const a of stats().agents) this.inc({ name: a.agentId }, a.halfOpenProbes);
    },
  });

  new Counter({
    name: METRIC_NAMES.openToHalfOpen,
    help: 'Transitions from open to half_open (recovery attempts after a backoff)',
    labelNames: ['name'],
    registers,
    collect() {
      this.reset();
      for (const a of stats().agents) this.inc({ name: a.agentId }, a.openToHalfOpen);
    },
  });

  new Gauge({
    name: METRIC_NAMES.inFlight,
    help: 'Calls admitted and not yet settled',
    labelNames: ['name'],
    registers,
    collect() {
      this.reset();
      for (const a of stats().agents) this.set({ name: a.agentId }, a.inFlight);
    },
  });

  new Counter({
    name: METRIC_NAMES.tasks,
    help: 'Routed tasks by outcome: successful, failed (every attempt failed), rejected (no agent could take it)',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      const { tasks } = stats();
      this.inc({ kind: 'successful' }, tasks.succeeded);
      this.inc({ kind: 'failed' }, tasks.failed);
      this.inc({ kind: 'rejected' }, tasks.rejected);
    },
  });

  new Counter({
    name: METRIC_NAMES.failovers,
    help: 'Attempts after the first attempt of a task (a failover to another agent, or a retry)',
    registers,
    collect() {
      this.reset();
      this.inc(stats().failovers);
    },
  });

  new Counter({
    name: METRIC_NAMES.routingEvents,
    help: 'Attempts routed, whatever their outcome (routing_events in the health JSON)',
    registers,
    collect() {
      this.reset();
      this.inc(stats().routingEvents);
    },
  });

  return registry;
}
