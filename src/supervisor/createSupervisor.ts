/**
 * `createSupervisor`: agents with a breaker each, routed with failover and retries, observable.
 *
 * The facade over four roles: the agents and the lifecycle (here), where their breaker actors live
 * (breakerPlacement.ts), routing (task/taskRouter.ts, the hot path) and reading
 * (supervisorStats.ts). The root XState actor
 * (machines/supervisor.ts) owns the lifecycle and the shards that parent the breaker actors;
 * breakers are virtual until they first need their actor (docs/architecture.md, principle 3).
 */
import { type Actor, type AnyActorRef, createActor } from 'xstate';
import { type BreakerOptions, type BreakerPolicy, resolveBreakerPolicy } from '../../machines/breakerOptions.js';
import { breakerShardMachine } from '../../machines/breakerShard.js';
import type { BreakerState } from '../../machines/circuitBreaker.js';
import { type alwaysGrantedLease, circuitBreakerMachine } from '../../machines/circuitBreaker.js';
import { supervisorMachine } from '../../machines/supervisor.js';
import { Breaker, type BreakerMetrics } from '../breaker/breaker.js';
import type { BreakerSync } from '../breaker/breakerSync.js';
import { guardedClock, holdProcess, realClock } from '../common/clock.js';
import { ConfigError, SupervisorStoppedError } from '../common/errors.js';
import { type Inspection, startInspection } from '../inspection/supervisorInspection.js';
import { Agent, type RunFunction } from '../pool/agent.js';
import { AgentPool } from '../pool/agentPool.js';
import { createRoutingPolicy } from '../routing/index.js';
import type { CallContext } from '../task/callContext.js';
import { RetryBudget } from '../task/retryBudget.js';
import { TaskRouter } from '../task/taskRouter.js';
import type { TaskFunction } from '../task/taskRun.js';
import { BreakerPlacement } from './breakerPlacement.js';
import { indexScheduledEvents } from './scheduledEventIndex.js';
import { type AgentSnapshot, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, type SupervisorSnapshot } from './snapshot.js';
import {
  validateAgentIds,
  validateAgentSpec,
  validateRouteOptions,
  validateStopOptions,
  validateSupervisorOptions,
} from './supervisorOptions.js';
import { agentStats, healthOf } from './supervisorStats.js';
import { SupervisorStreams } from './supervisorStreams.js';
import type {
  AgentInfo,
  AgentSpec,
  AgentStats,
  FailureRecord,
  HealthStatus,
  RouteOptions,
  StopOptions,
  Supervisor,
  SupervisorOptions,
  SupervisorPhase,
  SupervisorStats,
} from './supervisorTypes.js';

const DEFAULT_SHARD_SIZE = 100;
const DEFAULT_FAILURE_LOG_SIZE = 1000;
const DEFAULT_DRAIN_MS = 5000;

class SupervisorImpl implements Supervisor {
  readonly clock;
  readonly pool = new AgentPool();
  readonly streams: SupervisorStreams;
  phase: SupervisorPhase = 'running';

  private readonly router: TaskRouter;
  private readonly root: Actor<typeof supervisorMachine>;
  private readonly placement: BreakerPlacement;
  private readonly breakerDefaults: BreakerOptions;
  private readonly defaultPolicy: BreakerPolicy;
  private readonly eagerActors: boolean;
  readonly reportError: (error: unknown, where: string) => void;
  private stopping: Promise<void> | undefined;
  private readonly drainWaiters = new Map<Agent, Array<() => void>>();
  private readonly inspection: Inspection | undefined;
  private readonly sync: BreakerSync | undefined;
  /** Snapshot entries for agents not registered yet: applied when they are. */
  private readonly pendingRestore = new Map<string, AgentSnapshot>();

  constructor(options: SupervisorOptions) {
    const routing = options.routing ?? {};
    // A custom clock's bad reading (NaN, out of Date's range) is replaced and reported once (common/clock.ts).
    this.clock = guardedClock(options.clock ?? realClock, (error) => this.reportError(error, 'clock'));
    this.breakerDefaults = { ...options.breaker, clock: this.clock };
    this.defaultPolicy = resolveBreakerPolicy(this.breakerDefaults);
    this.eagerActors = options.eagerActors === true || (options.inspect !== undefined && options.inspect !== false);
    const onError = options.onError;
    this.reportError = onError
      ? (error, where) => {
          // The hook is user code too (docs/architecture.md, principle 5): if it throws, the task it reports on must
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
    this.router = new TaskRouter(
      this,
      this.clock,
      this.pool,
      createRoutingPolicy(routing.policy ?? 'priority'),
      routing.retryBudget ? new RetryBudget(routing.retryBudget, this.clock) : undefined,
      this.streams,
      {
        maxAttempts: routing.maxAttempts ?? 3,
        attemptTimeoutMs: routing.attemptTimeoutMs ?? 0,
        panicThreshold: routing.panicThreshold ?? 0,
        isFailure: routing.isFailure,
        failureLogSize: options.failureLogSize ?? DEFAULT_FAILURE_LOG_SIZE,
      },
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
    this.placement = new BreakerPlacement({
      root: this.root,
      pool: this.pool,
      clock: this.clock,
      streams: this.streams,
      sync: options.sync,
      shardSize: options.shardSize ?? DEFAULT_SHARD_SIZE,
      maxEjectionPercent: routing.maxEjectionPercent ?? 100,
      phase: () => this.phase,
      reportError: this.reportError,
    });

    for (const entry of options.restore?.agents ?? []) this.pendingRestore.set(entry.id, entry);
    const agents = (options.agents ?? []).map((spec) => this.register(spec, false));
    if (this.eagerActors) this.placement.activateAll(agents);
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

  // ─── routing (task/taskRouter.ts) ───────────────────────────────────────────────────────────

  route(task: unknown, options?: RouteOptions): Promise<unknown> {
    return this.router.route(task, options, this.validateRoute);
  }

  private readonly validateRoute = (options: RouteOptions): void =>
    validateRouteOptions(options, (id) => this.pool.byId.has(id));

  routeTask<R>(
    taskId: string,
    agentIds: readonly string[],
    taskFn: (agentId: string, ctx: CallContext) => R | PromiseLike<R>,
  ): Promise<R> {
    try {
      if (typeof taskId !== 'string' || taskId.length === 0)
        throw new ConfigError('taskId', taskId, 'a non-empty string');
      validateAgentIds(agentIds, 'agentIds');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.router.routeTask(taskId, agentIds, taskFn as TaskFunction) as Promise<R>;
  }

  /** RouterHost: the original design creates circuits lazily, so unknown ids become agents on first use. */
  registerLazily(id: string): Agent {
    return this.register({ id });
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
    const breaker = new Breaker(spec.id, options, policy, this.clock, this.placement);
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

  /** RouterHost: an attempt on a draining agent ended; once none is in flight, the agent goes. */
  attemptEnded(agent: Agent): void {
    if (!agent.draining || agent.breaker.inFlight > 0) return;
    const waiters = this.drainWaiters.get(agent);
    if (waiters === undefined) return;
    this.drainWaiters.delete(agent);
    this.forget(agent);
    for (const resolve of waiters) resolve();
  }

  /** Drops a drained agent: out of the pool, its actor stopped. */
  private forget(agent: Agent): void {
    this.pool.delete(agent);
    this.placement.deactivate(agent);
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
    return healthOf(this.pool, this.router.routingEvents);
  }

  getRecentFailures(limit = 20): FailureRecord[] {
    if (!Number.isInteger(limit) || limit < 0) throw new ConfigError('limit', limit, 'an integer ≥ 0');
    return this.router.recentFailures(limit);
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
    const router = this.router;
    return {
      agents: this.pool.ordered.items.map(agentStats),
      tasks: { succeeded: router.tasksSucceeded, failed: router.tasksFailed, rejected: router.tasksRejected },
      failovers: router.failovers,
      routingEvents: router.routingEvents,
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
    const running = this.router.running;
    this.stopping = new Promise<void>((resolve) => {
      let timer: unknown;
      const finish = () => {
        running.whenDrained(undefined);
        if (timer !== undefined) this.clock.clearTimeout(timer);
        // Tasks still running at the deadline are aborted (their attempts see the signal).
        this.router.abortAll(new SupervisorStoppedError('', 'the supervisor stopped before the task finished'));
        this.phase = 'stopped';
        this.root.send({ type: 'DRAINED' });
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
      if (running.size === 0 || drainMs === 0) return finish();
      timer = this.clock.setTimeout(finish, drainMs);
      holdProcess(timer, true); // the caller awaits the drain
      running.whenDrained(finish);
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
