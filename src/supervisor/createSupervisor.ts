/**
 * `createSupervisor`: agents with a breaker each, routed with failover and retries, observable.
 *
 * The root XState actor (machines/supervisor.ts) owns the lifecycle and the shards that parent the
 * breaker actors; breakers are virtual until they first need their actor (DESIGN principle 3).
 * Routing reads snapshots and bumps counters (principle 1): a task routed to a healthy closed agent
 * sends no XState event at all.
 */
import { type Actor, type AnyActorRef, createActor } from 'xstate';
import { type BreakerOptions, type BreakerPolicy, resolveBreakerPolicy } from '../../machines/breakerOptions.js';
import { breakerShardMachine } from '../../machines/breakerShard.js';
import type { BreakerState } from '../../machines/circuitBreaker.js';
import { type alwaysGrantedLease, circuitBreakerMachine } from '../../machines/circuitBreaker.js';
import { supervisorMachine } from '../../machines/supervisor.js';
import { Breaker, type BreakerHost, type BreakerMetrics, type Transition } from '../breaker/breaker.js';
import type { BreakerSync } from '../breaker/breakerSync.js';
import { isoTime, pauseRealClock, realClock } from '../common/clock.js';
import {
  type AttemptRecord,
  BreakerboxError,
  ConfigError,
  SupervisorStoppedError,
  withoutStack,
} from '../common/errors.js';
import { rejectLater } from '../common/rejectLater.js';
import { RingBuffer } from '../common/ringBuffer.js';
import { type Inspection, startInspection } from '../inspection/supervisorInspection.js';
import { Agent, type RunFunction } from '../pool/agent.js';
import { AgentPool } from '../pool/agentPool.js';
import { createRoutingPolicy } from '../routing/index.js';
import type { RoutingPolicy } from '../routing/policy.js';
import { AttemptContext, type CallContext, type SignalRegistry } from '../task/callContext.js';
import { DeadlineQueue } from '../task/deadlineQueue.js';
import { RetryBudget } from '../task/retryBudget.js';
import { isThenable, TaskRun } from '../task/taskRun.js';
import { indexScheduledEvents } from './scheduledEventIndex.js';
import { type AgentSnapshot, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type SupervisorSnapshot } from './snapshot.js';
import type { SupervisorCore } from './supervisorCore.js';
import {
  validateAgentIds,
  validateAgentSpec,
  validateRouteOptions,
  validateStopOptions,
  validateSupervisorOptions,
} from './supervisorOptions.js';
import { SupervisorStreams } from './supervisorStreams.js';
import type {
  AgentInfo,
  AgentSpec,
  AgentStats,
  FailureRecord,
  HealthStatus,
  RouteOptions,
  RoutingDecision,
  SkippedCandidate,
  StopOptions,
  Supervisor,
  SupervisorOptions,
  SupervisorPhase,
  SupervisorStats,
} from './supervisorTypes.js';

const DEFAULT_SHARD_SIZE = 100;
const DEFAULT_FAILURE_LOG_SIZE = 1000;
const DEFAULT_DRAIN_MS = 5000;
/** How many agents a routing decision lists (pools can hold 100,000). */
const EXPLAIN_LIMIT = 20;

interface StoredFailure {
  taskId: string;
  agentId: string;
  reason: string;
  kind: 'failed' | 'timeout';
  attempt: number;
  at: number;
}

class SupervisorImpl implements Supervisor, SupervisorCore, BreakerHost, SignalRegistry {
  readonly clock;
  readonly pool = new AgentPool();
  readonly policy: RoutingPolicy;
  readonly maxAttempts: number;
  readonly panicThreshold: number;
  readonly retryBudget: RetryBudget | undefined;
  readonly deadlines: DeadlineQueue;
  readonly streams: SupervisorStreams;
  phase: SupervisorPhase = 'running';
  failovers = 0;
  routingEvents = 0;
  tasksSucceeded = 0;
  tasksFailed = 0;
  tasksRejected = 0;

  private readonly root: Actor<typeof supervisorMachine>;
  private readonly attemptTimeoutMs: number;
  private readonly isFailure: ((error: unknown) => boolean) | undefined;
  private readonly maxEjectionPercent: number;
  private readonly breakerDefaults: BreakerOptions;
  private readonly defaultPolicy: BreakerPolicy;
  private readonly failureLog: RingBuffer<StoredFailure>;
  private readonly shardSize: number;
  private readonly eagerActors: boolean;
  private readonly reportError: (error: unknown, where: string) => void;
  private activated = 0;
  private taskCounter = 0;
  private running: TaskRun | undefined;
  /** Whether `route()` without options may take the fast path (no deadline, budget or panic). */
  private readonly fastPath: boolean;
  private runningCount = 0;
  private drained: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private readonly drainWaiters = new Map<Agent, Array<() => void>>();
  private readonly inspection: Inspection | undefined;
  private readonly sync: BreakerSync | undefined;
  /** Snapshot entries for agents not registered yet: applied when they are. */
  private readonly pendingRestore = new Map<string, AgentSnapshot>();

  constructor(options: SupervisorOptions) {
    const routing = options.routing ?? {};
    this.clock = options.clock ?? realClock;
    this.policy = createRoutingPolicy(routing.policy ?? 'priority');
    this.maxAttempts = routing.maxAttempts ?? 3;
    this.attemptTimeoutMs = routing.attemptTimeoutMs ?? 0;
    this.panicThreshold = routing.panicThreshold ?? 0;
    this.maxEjectionPercent = routing.maxEjectionPercent ?? 100;
    this.isFailure = routing.isFailure;
    this.retryBudget = routing.retryBudget ? new RetryBudget(routing.retryBudget, this.clock) : undefined;
    this.deadlines = new DeadlineQueue(this.clock);
    this.fastPath = this.attemptTimeoutMs === 0 && this.retryBudget === undefined && this.panicThreshold === 0;
    this.breakerDefaults = { ...options.breaker, clock: this.clock };
    this.defaultPolicy = resolveBreakerPolicy(this.breakerDefaults);
    this.failureLog = new RingBuffer(options.failureLogSize ?? DEFAULT_FAILURE_LOG_SIZE);
    this.shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE;
    this.eagerActors = options.eagerActors === true || (options.inspect !== undefined && options.inspect !== false);
    const onError = options.onError;
    this.reportError = onError
      ? (error, where) => {
          // The hook is user code too (principle 5): if it throws, the task it reports on must
          // still settle, so its own error goes nowhere.
          try {
            onError(error, where);
          } catch {
            // contained
          }
        }
      : (error, where) => console.error(`[breakerbox] contained error in ${where}:`, error);
    this.streams = new SupervisorStreams(
      () => this.getHealthStatus(),
      () => this.stateMap(),
      (id) => this.pool.byId.get(id)?.breaker.state,
    );

    if (options.inspect !== undefined && options.inspect !== false) {
      this.inspection = startInspection(options.inspect === true ? {} : options.inspect, this.reportError);
    }
    const inspection = this.inspection;
    this.sync = options.sync;
    this.root = createActor(rootMachineFor(options.sync), {
      clock: this.clock,
      ...(inspection ? { inspect: (event) => inspection.inspect(event) } : {}),
    });
    indexScheduledEvents(this.root.system);
    // Principle 5: an unobserved actor error is rethrown from a timer and exits the process.
    this.root.subscribe({ error: (error) => this.reportError(error, 'supervisor actor') });
    this.root.on('breakerError', (event) => this.reportError(event.error, `breaker ${event.agentId}`));
    this.root.start();

    for (const entry of options.restore?.agents ?? []) this.pendingRestore.set(entry.id, entry);
    const agents = (options.agents ?? []).map((spec) => this.register(spec, false));
    if (this.eagerActors) this.activateAll(agents);
    if (this.sync) {
      const sync = this.sync;
      this.contain('sync.attach', () =>
        sync.attach({
          peerTripped: (id, nextProbeAt) => this.pool.byId.get(id)?.breaker.peerTripped(nextProbeAt),
          peerClosed: (id) => this.pool.byId.get(id)?.breaker.peerClosed(),
          agentIds: () => this.agentIds(),
          hasAgent: (id) => this.pool.byId.has(id),
          reportError: this.reportError,
        }),
      );
    }
  }

  /** Runs a user or adapter callback; what it throws is reported, never thrown into the caller. */
  private contain(where: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.reportError(error, where);
    }
  }

  // ─── routing ────────────────────────────────────────────────────────────────────────────────

  route(task: unknown, options?: RouteOptions): Promise<unknown> {
    if (options === undefined) {
      if (this.phase !== 'running') return this.rejectStopped(undefined);
      // The common case: a closed agent from the routable list, no deadline, nobody watching
      // decisions; or nothing routable at all. Anything else goes through a TaskRun (which picks
      // for itself: a pick made here first would move round-robin's cursor twice).
      if (!this.streams.decisions.observed) {
        if (this.fastPath) {
          const agent = this.policy.pick(this.pool.routable.items, undefined);
          if (agent === undefined) return this.rejectNoAgent(); // policies pick nothing only from an empty list
          if (agent.breaker.state === 'closed') return this.runFirstAttempt(agent, task);
        } else if (this.panicThreshold === 0 && this.pool.routable.length === 0) {
          // A deadline or a retry budget changes nothing for a task no agent can take; panic would.
          return this.rejectNoAgent();
        }
      }
      const run = new TaskRun(
        this,
        task,
        undefined,
        undefined,
        ++this.taskCounter,
        undefined,
        undefined,
        this.attemptTimeoutMs,
      );
      return run.start();
    }
    try {
      validateRouteOptions(options, (id) => this.pool.byId.has(id));
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.phase !== 'running') return this.rejectStopped(options.taskId);
    const candidates = options.agents?.map((id) => this.pool.byId.get(id) as Agent);
    return new TaskRun(
      this,
      task,
      undefined,
      options.taskId,
      ++this.taskCounter,
      candidates,
      options.signal,
      options.timeoutMs ?? this.attemptTimeoutMs,
    ).start();
  }

  routeTask<R>(
    taskId: string,
    agentIds: readonly string[],
    taskFn: (agentId: string, ctx: CallContext) => R | PromiseLike<R>,
  ): Promise<R> {
    try {
      if (typeof taskId !== 'string' || taskId.length === 0)
        throw new ConfigError('taskId', taskId, 'a non-empty string');
      validateAgentIds(agentIds, 'agentIds');
      if (typeof taskFn !== 'function') throw new ConfigError('taskFn', taskFn, 'a function');
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.phase !== 'running') return this.rejectStopped(taskId) as Promise<R>;
    // The seed creates circuits lazily: unknown ids become agents on first use.
    const candidates = agentIds.map((id) => this.pool.byId.get(id) ?? this.register({ id }));
    return new TaskRun(
      this,
      undefined,
      taskFn as (agentId: string, ctx: CallContext) => unknown,
      taskId,
      ++this.taskCounter,
      candidates,
      undefined,
      this.attemptTimeoutMs,
    ).start() as Promise<R>;
  }

  /**
   * The hot path: one attempt on a healthy closed agent. Reads the breaker's generation, bumps
   * counters, sends no XState event, and chains on the agent's own promise (an async wrapper here
   * cost ~120 ns, more than the rest together). A failure hands the task to a TaskRun.
   */
  private runFirstAttempt(agent: Agent, task: unknown): Promise<unknown> {
    const breaker = agent.breaker;
    const generation = breaker.generation;
    const ctx = new AttemptContext(1, agent.id, undefined, ++this.taskCounter, this);
    const startedAt = this.clock.now();
    breaker.inFlight++;
    this.runningCount++;
    const onValue = (value: unknown) => this.firstAttemptSucceeded(agent, generation, startedAt, ctx, value);
    const onError = (error: unknown) => this.firstAttemptFailed(agent, task, generation, startedAt, ctx, error);
    let result: unknown;
    try {
      result = (agent.run as RunFunction)(task, ctx);
    } catch (error) {
      return settleNow(onError, error);
    }
    if (result instanceof Promise) return result.then(onValue, onError);
    if (isThenable(result)) return Promise.resolve(result).then(onValue, onError);
    return settleNow(onValue, result);
  }

  private firstAttemptSucceeded(
    agent: Agent,
    generation: number,
    startedAt: number,
    ctx: AttemptContext,
    value: unknown,
  ) {
    const breaker = agent.breaker;
    const now = this.clock.now();
    breaker.inFlight--;
    this.routingEvents++;
    this.tasksSucceeded++;
    breaker.recordSuccess(generation, now - startedAt, now);
    this.firstAttemptEnded(ctx);
    if (agent.draining) this.attemptEnded(agent);
    return value;
  }

  private firstAttemptFailed(
    agent: Agent,
    task: unknown,
    generation: number,
    startedAt: number,
    ctx: AttemptContext,
    error: unknown,
  ): Promise<unknown> {
    this.firstAttemptEnded(ctx);
    const run = new TaskRun(this, task, undefined, undefined, ctx.taskNumber, undefined, undefined, 0);
    return run.resumeAfterFailedAttempt(agent, generation, startedAt, ctx, error);
  }

  private firstAttemptEnded(ctx: AttemptContext): void {
    ctx.finished();
    this.runningCount--;
    if (this.runningCount === 0 && this.drained !== undefined) this.drained();
  }

  // SignalRegistry: first attempts whose signal exists, so stop() can abort them.
  abortAllReason: unknown = undefined;
  private readonly signalled = new Set<AttemptContext>();
  track(ctx: AttemptContext): void {
    this.signalled.add(ctx);
  }
  untrack(ctx: AttemptContext): void {
    this.signalled.delete(ctx);
  }

  /**
   * Nothing is routable (every circuit open or isolated, or every agent draining): reject at
   * once, naming the agents that could not take the task. No attempt, no TaskRun, no stack
   * capture: in an outage this is the hot path.
   */
  private rejectNoAgent(): Promise<never> {
    const taskId = `task-${++this.taskCounter}`;
    let outage = this.outage;
    if (outage === undefined || outage.poolVersion !== this.pool.version) {
      const rejected: AttemptRecord[] = [];
      this.listRejected(undefined, undefined, rejected, this.maxAttempts, undefined);
      const listed = rejected.map((record) => this.pool.byId.get(record.agentId) as Agent);
      outage = {
        poolVersion: this.pool.version,
        attempts: Object.freeze(rejected.map((record) => Object.freeze(record))),
        listed,
      };
      this.outage = outage;
    } else {
      for (const agent of outage.listed) agent.breaker.totalRejections++;
    }
    this.tasksRejected++;
    this.retryBudget?.deposit(); // every task counts towards the budget, as in TaskRun.start
    return rejectLater(withoutStack.allAgentsFailed(taskId, outage.attempts));
  }

  /**
   * What `rejectNoAgent` lists, kept until the pool changes: an outage rejects every task with
   * the same agents and reasons, so they share one frozen list.
   */
  private outage: { poolVersion: number; attempts: readonly AttemptRecord[]; listed: readonly Agent[] } | undefined;

  private rejectStopped(taskId: string | undefined): Promise<never> {
    this.tasksRejected++;
    const detail = this.phase === 'draining' ? 'the supervisor is stopping' : 'the supervisor is stopped';
    return rejectLater(withoutStack.supervisorStopped(taskId ?? `task-${++this.taskCounter}`, detail));
  }

  // ─── SupervisorCore: what tasks call back ───────────────────────────────────────────────────

  link(run: TaskRun): void {
    run.next = this.running;
    if (this.running !== undefined) this.running.prev = run;
    this.running = run;
    this.runningCount++;
  }

  unlink(run: TaskRun): void {
    if (run.prev === undefined && this.running !== run) return; // not linked
    if (run.prev !== undefined) run.prev.next = run.next;
    else this.running = run.next;
    if (run.next !== undefined) run.next.prev = run.prev;
    run.prev = undefined;
    run.next = undefined;
    this.runningCount--;
    if (this.runningCount === 0 && this.drained !== undefined) this.drained();
  }

  attemptEnded(agent: Agent): void {
    if (!agent.draining || agent.breaker.inFlight > 0) return;
    const waiters = this.drainWaiters.get(agent);
    if (waiters === undefined) return;
    this.drainWaiters.delete(agent);
    this.forget(agent);
    for (const resolve of waiters) resolve();
  }

  countsAsFailure(error: unknown): boolean {
    if (this.isFailure === undefined) return true;
    try {
      return this.isFailure(error) !== false;
    } catch (hookError) {
      this.reportError(hookError, 'routing.isFailure');
      return true;
    }
  }

  logFailure(run: TaskRun, agentId: string, reason: string, kind: 'failed' | 'timeout', at: number): void {
    const stored: StoredFailure = { taskId: run.taskId, agentId, reason, kind, attempt: run.attempt, at };
    this.failureLog.push(stored);
    if (this.streams.failures.observed) this.streams.failures.next(toFailureRecord(stored));
  }

  explain(
    run: TaskRun,
    chosen: Agent | undefined,
    candidates: readonly Agent[] | undefined,
    panic: boolean,
    attempt: number,
  ): void {
    const considered: string[] = [];
    const skipped: SkippedCandidate[] = [];
    const list = candidates ?? this.pool.ordered.items;
    for (let i = 0; i < list.length && considered.length < EXPLAIN_LIMIT; i++) {
      const agent = list[i] as Agent;
      considered.push(agent.id);
      if (agent === chosen) break;
      const reason = skipReason(agent, run);
      if (reason !== undefined) skipped.push({ agentId: agent.id, reason });
    }
    const decision: RoutingDecision = {
      taskId: run.taskId,
      attempt,
      policy: this.policy.name,
      considered,
      skipped,
      chosen: chosen?.id ?? null,
      panic,
      at: this.clock.now(),
    };
    this.streams.decisions.next(decision);
  }

  listRejected(
    candidates: readonly Agent[] | undefined,
    refused: readonly Agent[] | undefined,
    into: AttemptRecord[],
    max: number,
    tried: readonly Agent[] | undefined,
  ): void {
    const list = candidates ?? this.pool.ordered.items;
    let added = 0;
    for (let i = 0; i < list.length && added < max; i++) {
      const agent = list[i] as Agent;
      if (tried?.includes(agent)) continue;
      const state = agent.breaker.state;
      const wasRefused = refused?.includes(agent) === true;
      if (!wasRefused && (state === 'closed' || state === 'half_open') && !agent.draining) continue;
      if (!wasRefused) agent.breaker.totalRejections++;
      into.push({
        agentId: agent.id,
        reason: agent.draining ? 'draining' : wasRefused ? NO_PERMIT_REASON[state] : CIRCUIT_REASON[state],
        kind: 'rejected',
        durationMs: 0,
      });
      added++;
    }
  }

  // ─── BreakerHost: where breaker actors live ─────────────────────────────────────────────────

  activate(breaker: Breaker): AnyActorRef {
    const agent = this.pool.byId.get(breaker.id);
    if (agent === undefined || agent.breaker !== breaker) {
      throw new BreakerboxError(`Agent ${breaker.id} is no longer registered`);
    }
    if (this.phase === 'stopped') throw new BreakerboxError('The supervisor is stopped');
    if (agent.shard < 0) {
      agent.shard = Math.floor(this.activated++ / this.shardSize);
      this.root.send({
        type: 'ACTIVATE_BREAKER',
        shard: agent.shard,
        agentId: agent.id,
        input: { agentId: agent.id, options: breaker.options, now: this.clock.now() },
      });
    } // else spawned by activateAll, which then asks for it here
    const ref = this.root.system.get(agent.id) as AnyActorRef | undefined;
    if (ref === undefined) throw new BreakerboxError(`The breaker actor of ${agent.id} could not be activated`);
    return ref;
  }

  onTransition(transition: Transition, breaker: Breaker, external: boolean): void {
    const agent = this.pool.byId.get(breaker.id);
    if (agent !== undefined && agent.breaker === breaker) this.pool.stateChanged(agent, transition.from, transition.to);
    const sync = this.sync;
    if (sync !== undefined && !external) {
      const nextProbeAt = transition.to === 'open' ? breaker.context.nextProbeAt : null;
      this.contain('sync.publish', () => sync.publish({ ...transition, nextProbeAt }));
    }
    if (this.streams.transitions.observed) this.streams.transitions.next(transition);
    this.streams.changes.next();
  }

  ejectionAllowed(): boolean {
    if (this.maxEjectionPercent >= 100) return true;
    const counts = this.pool.counts;
    return ((counts.open + counts.half_open + 1) * 100) / this.pool.size <= this.maxEjectionPercent;
  }

  onError(error: unknown, breaker: Breaker): void {
    this.reportError(error, `breaker ${breaker.id}`);
  }

  /**
   * Activates many breaker actors with one event per shard instead of two per breaker (the root's
   * and the shard's): a supervisor created with eager actors, or with inspection on.
   */
  private activateAll(agents: readonly Agent[]): void {
    const pending = agents.filter((agent) => !agent.breaker.isActive);
    const now = this.clock.now();
    for (let i = 0; i < pending.length; ) {
      const shard = Math.floor(this.activated / this.shardSize);
      const batch = pending.slice(i, i + this.shardSize - (this.activated % this.shardSize));
      i += batch.length;
      this.activated += batch.length;
      for (const agent of batch) agent.shard = shard;
      this.root.send({
        type: 'ACTIVATE_BREAKERS',
        shard,
        breakers: batch.map(({ id, breaker }) => ({
          agentId: id,
          input: { agentId: id, options: breaker.options, now },
        })),
      });
    }
    for (const agent of pending) agent.breaker.actor; // each breaker subscribes to its spawned actor
  }

  // ─── agents ─────────────────────────────────────────────────────────────────────────────────

  private register(
    spec: {
      id: string;
      run?: RunFunction;
      priority?: number;
      weight?: number;
      breaker?: AgentSpec['breaker'];
    },
    /** False while the constructor registers the first agents (activated in one batch, then synced by `attach`). */
    afterStart = true,
  ): Agent {
    const seq = this.pool.takeSeq();
    const options = spec.breaker ? { ...this.breakerDefaults, ...spec.breaker, id: spec.id } : this.breakerDefaults;
    const policy = spec.breaker ? resolveBreakerPolicy(options) : this.defaultPolicy;
    const breaker = new Breaker(spec.id, options, policy, this.clock, this);
    const agent = new Agent(spec.id, spec.run, spec.priority ?? seq, spec.weight ?? 1, seq, breaker);
    this.pool.add(agent);
    const restored = this.pendingRestore.get(spec.id);
    if (restored !== undefined) {
      this.pendingRestore.delete(spec.id);
      breaker.restore(restored);
    }
    if (this.eagerActors && afterStart) breaker.actor;
    const sync = this.sync;
    if (afterStart && sync?.agentAdded !== undefined) this.contain('sync.agentAdded', () => sync.agentAdded?.(spec.id));
    this.streams.changes.next();
    return agent;
  }

  addAgent(spec: AgentSpec): void {
    validateAgentSpec(spec, 'agent');
    if (this.phase !== 'running')
      throw new SupervisorStoppedError('', 'the supervisor takes no new agents once stopping');
    if (this.pool.byId.has(spec.id)) throw new ConfigError('agent.id', spec.id, 'an id not used by another agent');
    this.register(spec as AgentSpec<unknown, unknown> & { run: RunFunction });
  }

  removeAgent(id: string): Promise<void> {
    const agent = this.pool.byId.get(id);
    if (agent === undefined) return Promise.reject(new ConfigError('id', id, 'the id of a registered agent'));
    if (!agent.draining) {
      agent.draining = true;
      this.pool.refreshRoutable(agent);
      this.streams.changes.next();
    }
    return new Promise((resolve) => {
      const waiters = this.drainWaiters.get(agent) ?? [];
      waiters.push(resolve);
      this.drainWaiters.set(agent, waiters);
      this.attemptEnded(agent);
    });
  }

  /** Drops a drained agent: out of the pool, its actor stopped. */
  private forget(agent: Agent): void {
    this.pool.delete(agent);
    if (agent.shard >= 0 && this.phase !== 'stopped') {
      this.root.send({ type: 'DEACTIVATE_BREAKER', shard: agent.shard, agentId: agent.id });
    }
    agent.breaker.detach();
    this.streams.changes.next();
  }

  /**
   * The agent an operator action (`isolate`, `reset`) acts on. Once stopped the breakers are
   * detached and would drop the event silently, so that throws; while draining they still guard
   * the in-flight tasks, which an operator may need to steer away from a bad agent.
   */
  private agentOrThrow(id: string): Agent {
    if (this.phase === 'stopped')
      throw new SupervisorStoppedError('', 'the supervisor is stopped: isolate and reset do nothing');
    const agent = this.pool.byId.get(id);
    if (agent === undefined) throw new ConfigError('id', id, 'the id of a registered agent');
    return agent;
  }

  isolate(id: string): void {
    this.agentOrThrow(id).breaker.isolate();
  }

  reset(id: string): void {
    this.agentOrThrow(id).breaker.reset();
  }

  getAgentStats(id: string): AgentStats | undefined {
    const agent = this.pool.byId.get(id);
    return agent === undefined ? undefined : agentStats(agent);
  }

  getAgent(id: string): AgentInfo | undefined {
    const agent = this.pool.byId.get(id);
    if (agent === undefined) return undefined;
    return {
      id: agent.id,
      priority: agent.priority,
      weight: agent.weight,
      state: agent.breaker.state,
      inFlight: agent.breaker.inFlight,
      draining: agent.draining,
      breaker: agent.breaker,
    };
  }

  agentIds(): string[] {
    return this.pool.ordered.items.map((agent) => agent.id);
  }

  // ─── reading ────────────────────────────────────────────────────────────────────────────────

  getHealthStatus(): HealthStatus {
    const counts = this.pool.counts;
    return {
      totalAgents: this.pool.size,
      healthyAgents: counts.closed,
      openCircuits: counts.open,
      halfOpenCircuits: counts.half_open,
      isolatedCircuits: counts.isolated,
      routingEvents: this.routingEvents,
    };
  }

  getRecentFailures(limit = 20): FailureRecord[] {
    if (!Number.isInteger(limit) || limit < 0) throw new ConfigError('limit', limit, 'an integer ≥ 0');
    return this.failureLog.newest(limit).map(toFailureRecord);
  }

  getAllMetrics(): BreakerMetrics[] {
    return this.pool.ordered.items.map((agent) => agent.breaker.getMetrics());
  }

  snapshot(): SupervisorSnapshot {
    return {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      takenAt: this.clock.now(),
      agents: this.pool.ordered.items.map((agent) => agent.breaker.snapshot()),
    };
  }

  getStats(): SupervisorStats {
    return {
      agents: this.pool.ordered.items.map(agentStats),
      tasks: { succeeded: this.tasksSucceeded, failed: this.tasksFailed, rejected: this.tasksRejected },
      failovers: this.failovers,
      routingEvents: this.routingEvents,
    };
  }

  private stateMap(): ReadonlyMap<string, BreakerState> {
    const map = new Map<string, BreakerState>();
    for (const agent of this.pool.ordered.items) map.set(agent.id, agent.breaker.state);
    return map;
  }

  get health$() {
    return this.streams.health$;
  }
  get states$() {
    return this.streams.states$;
  }
  get transitions$() {
    return this.streams.transitions$;
  }
  get failures$() {
    return this.streams.failures$;
  }
  get decisions$() {
    return this.streams.decisions$;
  }
  agentState$(id: string) {
    return this.streams.agentState$(id);
  }
  get actor(): AnyActorRef {
    return this.root;
  }
  get inspectorUrl(): Promise<string | undefined> {
    return this.inspection?.ready ?? Promise.resolve(undefined);
  }

  // ─── stopping ───────────────────────────────────────────────────────────────────────────────

  stop(options: StopOptions = {}): Promise<void> {
    if (this.stopping !== undefined) return this.stopping;
    try {
      validateStopOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
    this.phase = 'draining';
    this.root.send({ type: 'STOP' });
    this.stopping = new Promise<void>((resolve) => {
      let timer: unknown;
      const finish = () => {
        this.drained = undefined;
        if (timer !== undefined) this.clock.clearTimeout(timer);
        // Tasks still running at the deadline are aborted (their attempts see the signal).
        const stopped = new SupervisorStoppedError('', 'the supervisor stopped before the task finished');
        this.abortAllReason = stopped;
        for (const ctx of this.signalled) ctx.abort(stopped);
        this.signalled.clear();
        for (let run = this.running; run !== undefined; ) {
          const next = run.next;
          run.abortForStop();
          run = next;
        }
        this.phase = 'stopped';
        this.root.send({ type: 'DRAINED' });
        this.deadlines.clear();
        pauseRealClock();
        for (const agent of this.pool.ordered.items) agent.breaker.detach();
        for (const [agent, waiters] of this.drainWaiters) {
          this.pool.delete(agent);
          for (const done of waiters) done();
        }
        this.drainWaiters.clear();
        this.streams.complete();
        const detaching = [this.inspection?.stop(), this.sync?.detach()].map((done) =>
          Promise.resolve(done).catch((error: unknown) => this.reportError(error, 'stop')),
        );
        Promise.all(detaching).then(() => resolve());
      };
      // drainMs 0 aborts now: a 0 ms timer would wait for the clock (a simulated one may never move).
      if (this.runningCount === 0 || drainMs === 0) return finish();
      this.drained = finish;
      timer = this.clock.setTimeout(finish, drainMs);
    });
    return this.stopping;
  }
}

/** The root machine, with the adapter's probe lease in every breaker when state is shared. */
function rootMachineFor(sync: BreakerSync | undefined): typeof supervisorMachine {
  if (sync?.probeLease === undefined) return supervisorMachine;
  const breaker = circuitBreakerMachine.provide({
    actors: { probeLease: sync.probeLease as typeof alwaysGrantedLease },
  });
  const shard = breakerShardMachine.provide({ actors: { circuitBreaker: breaker } });
  return supervisorMachine.provide({ actors: { breakerShard: shard } });
}

/** One agent's counters as `getStats()` and `/metrics` read them. */
function agentStats(agent: Agent): AgentStats {
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

/** Runs a continuation now, as a settled promise (a synchronous agent, or a synchronous throw). */
function settleNow(continuation: (value: unknown) => unknown, value: unknown): Promise<unknown> {
  try {
    return Promise.resolve(continuation(value));
  } catch (error) {
    return Promise.reject(error);
  }
}

const EMPTY_BUCKETS: readonly number[] = Object.freeze(new Array(12).fill(0));

function toFailureRecord(stored: StoredFailure): FailureRecord {
  return {
    taskId: stored.taskId,
    agentId: stored.agentId,
    status: 'FAILED',
    reason: stored.reason,
    timestamp: isoTime(stored.at) as string,
    kind: stored.kind,
    attempt: stored.attempt,
  };
}

function skipReason(agent: Agent, run: TaskRun): string | undefined {
  if (agent.draining) return 'draining';
  if (run.mayNotTake(agent, false) === false && run.mayNotTake(agent, true)) return 'tried';
  const state = agent.breaker.state;
  if (state === 'open' || state === 'isolated') return state;
  if (agent.run === undefined) return 'no run function';
  if (run.mayNotTake(agent, false)) return 'half_open (no permit)';
  return undefined;
}

/**
 * Creates a supervisor. Throws `ConfigError` naming the first invalid option.
 *
 * @example
 * const supervisor = createSupervisor({
 *   agents: [{ id: 'agent-1', run: (task) => callAgent1(task) }, { id: 'agent-2', run: callAgent2 }],
 * });
 * const result = await supervisor.route({ prompt: 'hello' });
 */
export function createSupervisor<TTask = unknown, TResult = unknown>(
  options: SupervisorOptions<TTask, TResult> = {},
): Supervisor<TTask, TResult> {
  validateSupervisorOptions(options);
  return new SupervisorImpl(options as SupervisorOptions) as unknown as Supervisor<TTask, TResult>;
}

// An outage lists every agent of every rejected task: the same few strings, built once.
const CIRCUIT_REASON: Record<BreakerState, string> = {
  closed: 'circuit closed',
  open: 'circuit open',
  half_open: 'circuit half_open',
  isolated: 'circuit isolated',
};
const NO_PERMIT_REASON: Record<BreakerState, string> = {
  closed: 'closed: no probe permit',
  open: 'open: no probe permit',
  half_open: 'half_open: no probe permit',
  isolated: 'isolated: no probe permit',
};
