/** The supervisor's public types: options, records and the `Supervisor` interface. */
import type { Observable } from 'rxjs';
import type { AnyActorRef } from 'xstate';
import type { BreakerOptions, Clock } from '../../machines/breakerOptions.js';
import type { BreakerState } from '../../machines/circuitBreaker.js';
import type { BreakerMetrics, CircuitBreaker, Transition } from '../breaker/breaker.js';
import type { BreakerSync } from '../breaker/breakerSync.js';
import type { InspectorOptions } from '../inspection/inspectorRelay.js';
import type { CallContext } from '../task/callContext.js';
import type { SupervisorSnapshot } from './snapshot.js';

export type RoutingPolicyName = 'priority' | 'round-robin' | 'least-outstanding';

export interface AgentSpec<TTask = unknown, TResult = unknown> {
  /** A unique non-empty string; any string works, `__proto__` included. */
  id: string;
  /** Does the work. A throw or rejection of any value is a failure of this attempt. */
  run: (task: TTask, ctx: CallContext) => TResult | PromiseLike<TResult>;
  /** Lower is tried first by the `priority` policy. Default: the order agents were added. */
  priority?: number;
  /** Relative capacity (> 0) for `least-outstanding`: load is in-flight ÷ weight. Default 1. */
  weight?: number;
  /** Overrides the supervisor's `breaker` defaults for this agent. */
  breaker?: Omit<BreakerOptions, 'clock' | 'id'>;
}

/** Finagle's retry budget: retries ≤ `ratio` × recent tasks + `minRetriesPerSecond` × window. */
export interface RetryBudgetOptions {
  /** Share of recent tasks that may be retried. E.g. 0.2. */
  ratio: number;
  /** A floor, so a quiet supervisor can still retry. Default 10. */
  minRetriesPerSecond?: number;
  /** The window "recent" covers, in ms. Default 10000. */
  windowMs?: number;
}

export interface RoutingOptions {
  /** Default `'priority'`: the original design's order. */
  policy?: RoutingPolicyName;
  /** Attempts per task (the original design's `max_retries`). Default 3. */
  maxAttempts?: number;
  /** An attempt running longer is cut off: its signal aborts and it counts as a failure. Default off. */
  attemptTimeoutMs?: number;
  /** Caps retries to a share of traffic, so failover cannot multiply load in an outage. Default off. */
  retryBudget?: RetryBudgetOptions;
  /** Envoy: at most this % of agents may be open at once; a trip beyond it is refused. Default off (100). */
  maxEjectionPercent?: number;
  /**
   * Envoy: when the share of routable agents falls below this %, open circuits are ignored and
   * every non-isolated agent is a candidate (better a likely failure than none). Default off (0).
   */
  panicThreshold?: number;
  /** Which errors count against an agent (default: all). Others go back to the caller at once. */
  isFailure?: (error: unknown) => boolean;
}

export interface SupervisorOptions<TTask = unknown, TResult = unknown> {
  agents?: readonly AgentSpec<TTask, TResult>[];
  /** Breaker defaults for every agent. */
  breaker?: Omit<BreakerOptions, 'clock' | 'id'>;
  routing?: RoutingOptions;
  /** Size of the recent-failures ring buffer. Default 1000. */
  failureLogSize?: number;
  /**
   * One clock for every timer and timestamp. Default: real time. A reading of `now()` that is not a
   * time `Date` can represent (NaN, ±Infinity, beyond ±8.64e15 ms, not a number) or a throw is
   * replaced by the last good reading (0 before the first): time stands still until the clock reads
   * well again (calls last 0 ms, no deadline passes, no window slides; the clock's own timers still
   * fire), and every timestamp stays printable. The first bad reading is reported once, to
   * `onError(error, 'clock')`.
   */
  clock?: Clock;
  /** Breaker actors per shard actor (spawning under one parent is O(n²)). Default 100. */
  shardSize?: number;
  /** Keep every breaker actor active (the inspector sees them all). Default false. */
  eagerActors?: boolean;
  /**
   * Wire the Stately inspector: `true` or `{ port }`. Every breaker actor is active while it is on.
   * Default off (it costs ~35 µs per event, docs/architecture.md principle 9, and its socket keeps Node alive).
   */
  inspect?: boolean | InspectorOptions;
  /** Where contained errors (a throwing hook, an actor error) are reported. Default: console.error. */
  onError?: (error: unknown, where: string) => void;
  /**
   * A snapshot from `supervisor.snapshot()` to resume from: open circuits stay open until their
   * recorded `nextProbeAt`, counters carry on. Entries for agents added later apply when they are.
   */
  restore?: SupervisorSnapshot;
  /** Share breaker state with other instances (e.g. `createRedisSync` from `breakerbox/redis`). */
  sync?: BreakerSync;
}

export interface RouteOptions {
  /** Names the task in logs, errors and decisions. Default: `task-<n>`. */
  taskId?: string;
  /** Restricts and orders the candidates for this task. Unknown ids → `ConfigError`. */
  agents?: readonly string[];
  /** Aborting it settles the task at once (`TaskAbortedError`) and aborts the running attempt. */
  signal?: AbortSignal;
  /** Per-attempt timeout for this task, overriding `routing.attemptTimeoutMs`. */
  timeoutMs?: number;
}

/** The seed's `get_health_status()`, camelCase. */
export interface HealthStatus {
  totalAgents: number;
  /** Agents whose circuit is closed. */
  healthyAgents: number;
  openCircuits: number;
  halfOpenCircuits: number;
  /** Isolated by hand (counted apart from open circuits). */
  isolatedCircuits: number;
  /** Attempts routed so far, whatever their outcome (the original design's routing log length). */
  routingEvents: number;
}

/** One failed attempt, as the original design's `get_recent_failures()` lists it. */
export interface FailureRecord {
  taskId: string;
  agentId: string;
  status: 'FAILED';
  reason: string;
  /** ISO-8601. */
  timestamp: string;
  kind: 'failed' | 'timeout';
  attempt: number;
}

export interface SkippedCandidate {
  agentId: string;
  /** `open`, `isolated`, `half_open (no permit)`, `tried`, `draining`, `no run function`. */
  reason: string;
}

/** Why a task went where it went: one per attempt (and one when nothing could take it). */
export interface RoutingDecision {
  taskId: string;
  attempt: number;
  policy: RoutingPolicyName;
  /** The agents considered, in order (for large pools, those looked at before choosing). */
  considered: readonly string[];
  skipped: readonly SkippedCandidate[];
  /** The agent chosen, or null when none could take the task. */
  chosen: string | null;
  /** Panic mode routed past open circuits. */
  panic: boolean;
  at: number;
}

export interface AgentInfo {
  id: string;
  priority: number;
  weight: number;
  state: BreakerState;
  inFlight: number;
  /** Removed, finishing its in-flight tasks. */
  draining: boolean;
  breaker: CircuitBreaker;
}

/** Counters for `/metrics` and dashboards, read at scrape time. */
export interface AgentStats {
  agentId: string;
  state: BreakerState;
  successful: number;
  failed: number;
  timeout: number;
  notPermitted: number;
  halfOpenProbes: number;
  openToHalfOpen: number;
  inFlight: number;
  /** For an open circuit: when it lets probes in (clock ms); else null. */
  nextProbeAt: number | null;
  /** Cumulative counts per `LATENCY_BUCKETS_SECONDS` bound, +Inf last; sum in seconds. */
  latency: { buckets: readonly number[]; sumSeconds: number; count: number };
}

export interface SupervisorStats {
  agents: AgentStats[];
  tasks: { succeeded: number; failed: number; rejected: number };
  /** Attempts after the first (a failover to another agent or a retry). */
  failovers: number;
  routingEvents: number;
}

export interface StopOptions {
  /** How long in-flight tasks may finish before their attempts are aborted. Default 5000. */
  drainMs?: number;
}

export interface Supervisor<TTask = unknown, TResult = unknown> {
  /** Routes `task` to the first agent that succeeds; `AllAgentsFailedError` when none does. */
  route(task: TTask, options?: RouteOptions): Promise<TResult>;
  /**
   * The seed's `route_task(task_id, agents, task_func)`: `taskFn(agentId, ctx)` does the work.
   * Unknown ids are registered on first use, as the original design creates circuits lazily.
   */
  routeTask<R>(
    taskId: string,
    agentIds: readonly string[],
    taskFn: (agentId: string, ctx: CallContext) => R | PromiseLike<R>,
  ): Promise<R>;
  getHealthStatus(): HealthStatus;
  /** Newest first. */
  getRecentFailures(limit?: number): FailureRecord[];
  getAllMetrics(): BreakerMetrics[];
  getStats(): SupervisorStats;
  /** One agent's entry of `getStats().agents`, without reading the others; undefined for an unknown id. */
  getAgentStats(id: string): AgentStats | undefined;
  getAgent(id: string): AgentInfo | undefined;
  /** Ids of the agents, in priority order. */
  agentIds(): string[];
  addAgent(spec: AgentSpec<TTask, TResult>): void;
  /** Takes no new tasks at once; resolves when its in-flight tasks have finished. */
  removeAgent(id: string): Promise<void>;
  /**
   * Forces the agent's circuit open until `reset()`. Also while draining; once stopped it throws
   * `SupervisorStoppedError` (the breakers are detached), and `ConfigError` for an unknown id.
   */
  isolate(id: string): void;
  /**
   * Back to a fresh closed circuit. Also while draining; once stopped it throws
   * `SupervisorStoppedError`, and `ConfigError` for an unknown id.
   */
  reset(id: string): void;
  /** Every breaker's state, backoff level, `nextProbeAt` and counters, as JSON-safe data. */
  snapshot(): SupervisorSnapshot;
  /** No new tasks; in-flight ones finish or are aborted at `drainMs`; timers cleared; streams complete. */
  stop(options?: StopOptions): Promise<void>;

  readonly health$: Observable<HealthStatus>;
  readonly states$: Observable<ReadonlyMap<string, BreakerState>>;
  agentState$(id: string): Observable<BreakerState>;
  readonly transitions$: Observable<Transition>;
  readonly failures$: Observable<FailureRecord>;
  readonly decisions$: Observable<RoutingDecision>;
  /** The supervisor's root XState actor: `from(supervisor.actor)` works. */
  readonly actor: AnyActorRef;
  readonly clock: Clock;
  /** With `inspect` on: the page that shows the Stately inspector, once it started; else undefined. */
  readonly inspectorUrl: Promise<string | undefined>;
  /** `'running' | 'draining' | 'stopped'`. */
  readonly phase: SupervisorPhase;
}

export type SupervisorPhase = 'running' | 'draining' | 'stopped';
