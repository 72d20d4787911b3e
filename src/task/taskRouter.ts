/**
 * The hot path: `route()` and `routeTask()`. A task to a healthy closed agent with no deadline and
 * nobody watching decisions runs here as one `Attempt` — no `TaskRun`, no XState event, no clock
 * reading unless sampled (docs/architecture.md, principles 1 and 12). Everything else — a half-open
 * agent, a failover, a deadline, a caller's signal — is a `TaskRun`, which starts from the agent
 * already picked here: a task is picked for once, whatever the policy.
 */
import type { Clock } from '../../machines/breakerOptions.js';
import { isoTime } from '../common/clock.js';
import { type AttemptRecord, ConfigError, withoutStack } from '../common/errors.js';
import { sampleDue } from '../common/latencySampler.js';
import { rejectLater } from '../common/rejectLater.js';
import { RingBuffer } from '../common/ringBuffer.js';
import type { Agent, RunFunction } from '../pool/agent.js';
import type { AgentPool } from '../pool/agentPool.js';
import { type TaskEligibility, whyNot } from '../pool/eligibility.js';
import type { RoutingPolicy } from '../routing/policy.js';
import type { SupervisorCore } from '../supervisor/supervisorCore.js';
import type { SupervisorStreams } from '../supervisor/supervisorStreams.js';
import type {
  FailureRecord,
  RouteOptions,
  RoutingDecision,
  SkippedCandidate,
  SupervisorPhase,
} from '../supervisor/supervisorTypes.js';
import { Attempt, UNTIMED } from './attempt.js';
import type { Abortable } from './callContext.js';
import { DeadlineQueue } from './deadlineQueue.js';
import type { RetryBudget } from './retryBudget.js';
import { RunningTasks } from './runningTasks.js';
import { type TaskFunction, TaskRun } from './taskRun.js';
import { chain } from './thenable.js';
import { TimedFirstAttempt } from './timedFirstAttempt.js';

/** How many agents a routing decision lists (pools can hold 100,000). */
const EXPLAIN_LIMIT = 20;

/** A failure as the log keeps it: the record's text is built when read. */
export interface StoredFailure {
  taskId: string;
  agentId: string;
  reason: string;
  kind: 'failed' | 'timeout';
  attempt: number;
  at: number;
}

/** What the router needs from the supervisor that owns it. */
export interface RouterHost {
  readonly phase: SupervisorPhase;
  /** An agent for an id `routeTask` names that is not registered (the original design creates them lazily). */
  registerLazily(id: string): Agent;
  /** An attempt on a draining agent ended: it may now be removed. */
  attemptEnded(agent: Agent): void;
  reportError(error: unknown, where: string): void;
}

export interface RouterOptions {
  readonly maxAttempts: number;
  readonly attemptTimeoutMs: number;
  readonly panicThreshold: number;
  readonly isFailure: ((error: unknown) => boolean) | undefined;
  readonly failureLogSize: number;
}

export class TaskRouter implements SupervisorCore {
  readonly maxAttempts: number;
  readonly panicThreshold: number;
  readonly deadlines: DeadlineQueue;
  readonly running = new RunningTasks();
  failovers = 0;
  routingEvents = 0;
  tasksSucceeded = 0;
  tasksFailed = 0;
  tasksRejected = 0;
  /** Set once in-flight attempts must be aborted (`stop()`): a signal created later starts aborted. */
  abortAllReason: unknown = undefined;

  private readonly attemptTimeoutMs: number;
  private readonly isFailure: ((error: unknown) => boolean) | undefined;
  /** Whether `route()` without options may run a closed agent's attempt here (no retry budget or panic). */
  private readonly fastPath: boolean;
  private readonly failureLog: RingBuffer<StoredFailure>;
  private readonly signalled = new Set<Abortable>();
  private taskCounter = 0;
  /**
   * What an outage rejection lists, kept until the pool changes: every task is rejected with the
   * same agents and reasons, so they share one frozen list.
   */
  private outage: { poolVersion: number; attempts: readonly AttemptRecord[]; listed: readonly Agent[] } | undefined;

  constructor(
    private readonly host: RouterHost,
    readonly clock: Clock,
    readonly pool: AgentPool,
    readonly policy: RoutingPolicy,
    readonly retryBudget: RetryBudget | undefined,
    readonly streams: SupervisorStreams,
    options: RouterOptions,
  ) {
    this.maxAttempts = options.maxAttempts;
    this.attemptTimeoutMs = options.attemptTimeoutMs;
    this.panicThreshold = options.panicThreshold;
    this.isFailure = options.isFailure;
    this.deadlines = new DeadlineQueue(clock);
    this.fastPath = retryBudget === undefined && this.panicThreshold === 0;
    this.failureLog = new RingBuffer(options.failureLogSize);
  }

  get phase(): SupervisorPhase {
    return this.host.phase;
  }

  // ─── routing ────────────────────────────────────────────────────────────────────────────────

  route(task: unknown, options: RouteOptions | undefined, validate: (options: RouteOptions) => void): Promise<unknown> {
    if (options === undefined) {
      if (this.host.phase !== 'running') return this.rejectStopped(undefined);
      if (!this.streams.decisions.observed) {
        if (this.fastPath) {
          // One pick per task: a half-open agent picked here is the TaskRun's first choice, so
          // round-robin's cursor moves once and the half-open agent gets its turn.
          const agent = this.policy.pick(this.pool.routable.items, undefined);
          if (agent === undefined) return this.rejectNoAgent(); // policies pick nothing only from an empty list
          if (agent.breaker.state === 'closed') {
            return this.attemptTimeoutMs === 0
              ? this.runFirstAttempt(agent, task)
              : this.runTimedFirstAttempt(agent, task);
          }
          const timeoutMs = this.attemptTimeoutMs;
          return new TaskRun(this, { task, taskNumber: ++this.taskCounter, timeoutMs, picked: agent }).start();
        }
        if (this.panicThreshold === 0 && this.pool.routable.length === 0) {
          // A deadline or a retry budget changes nothing for a task no agent can take; panic would.
          return this.rejectNoAgent();
        }
      }
      return new TaskRun(this, { task, taskNumber: ++this.taskCounter, timeoutMs: this.attemptTimeoutMs }).start();
    }
    try {
      validate(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.host.phase !== 'running') return this.rejectStopped(options.taskId);
    return new TaskRun(this, {
      task,
      taskId: options.taskId,
      taskNumber: ++this.taskCounter,
      candidates: options.agents?.map((id) => this.pool.byId.get(id) as Agent),
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? this.attemptTimeoutMs,
    }).start();
  }

  routeTask(taskId: string, agentIds: readonly string[], taskFn: TaskFunction): Promise<unknown> {
    if (typeof taskFn !== 'function') return Promise.reject(new ConfigError('taskFn', taskFn, 'a function'));
    if (this.host.phase !== 'running') return this.rejectStopped(taskId);
    const candidates = agentIds.map((id) => this.pool.byId.get(id) ?? this.host.registerLazily(id));
    return new TaskRun(this, {
      taskFn,
      taskId,
      taskNumber: ++this.taskCounter,
      candidates,
      timeoutMs: this.attemptTimeoutMs,
    }).start();
  }

  /**
   * One attempt on a healthy closed agent: reads the breaker's generation, bumps counters, sends
   * no XState event, and chains on the agent's own promise (an async wrapper here cost ~120 ns in
   * bench case `route-priority`, more than the rest together). A failure hands the task, and its
   * running count, to a TaskRun.
   */
  private runFirstAttempt(agent: Agent, task: unknown): Promise<unknown> {
    const breaker = agent.breaker;
    const taskNumber = ++this.taskCounter;
    const startedAt = breaker.timesEveryCall || sampleDue(breaker, breaker.startedCount) ? this.clock.now() : UNTIMED;
    const attempt = new Attempt(this, agent, breaker.generation, false, startedAt, 1, undefined, taskNumber);
    this.running.started();
    const onValue = (value: unknown) => this.firstAttemptSucceeded(attempt, value);
    const onError = (error: unknown) => this.firstAttemptFailed(attempt, task, error);
    let result: unknown;
    try {
      result = (agent.run as RunFunction)(task, attempt);
    } catch (error) {
      return this.firstAttemptFailed(attempt, task, error);
    }
    let chained: Promise<unknown> | undefined;
    try {
      chained = chain(result, onValue, onError);
    } catch (error) {
      // A fake promise (made from Promise.prototype, not one): a failed attempt.
      return this.firstAttemptFailed(attempt, task, error);
    }
    if (chained !== undefined) return chained;
    try {
      return Promise.resolve(onValue(result));
    } catch (bug) {
      return Promise.reject(bug);
    }
  }

  /** The same with `attemptTimeoutMs`: the task owns its promise (timedFirstAttempt.ts). */
  private runTimedFirstAttempt(agent: Agent, task: unknown): Promise<unknown> {
    const breaker = agent.breaker;
    const taskNumber = ++this.taskCounter;
    // The deadline decides by time: read exactly. A success's duration is sampled like any other;
    // a failure or a timeout is timed from this reading (TimedFirstAttempt.failed).
    const now = this.clock.now();
    const startedAt = breaker.timesEveryCall || sampleDue(breaker, breaker.startedCount) ? now : UNTIMED;
    const attempt = new Attempt(this, agent, breaker.generation, false, startedAt, 1, undefined, taskNumber);
    this.running.started();
    return TimedFirstAttempt.run(this, attempt, task, this.attemptTimeoutMs, now + this.attemptTimeoutMs);
  }

  private firstAttemptSucceeded(attempt: Attempt, value: unknown): unknown {
    attempt.end('succeeded'); // chain() calls back once: nothing else ends a first attempt
    this.routingEvents++;
    this.tasksSucceeded++;
    this.running.ended();
    return value;
  }

  private firstAttemptFailed(attempt: Attempt, task: unknown, error: unknown): Promise<unknown> {
    const run = new TaskRun(this, { task, taskNumber: attempt.taskNumber, timeoutMs: 0 });
    return run.resumeAfterFailedAttempt(attempt, error);
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
      this.listRejected(undefined, undefined, rejected, this.maxAttempts);
      const listed = rejected.map((record) => this.pool.byId.get(record.agentId) as Agent);
      outage = {
        poolVersion: this.pool.version,
        attempts: Object.freeze(rejected.map((record) => Object.freeze(record))),
        listed,
      };
      this.outage = outage;
    } else {
      for (const agent of outage.listed) agent.breaker.countRejection();
    }
    this.tasksRejected++;
    this.retryBudget?.deposit(); // every task counts towards the budget, as in TaskRun.start
    return rejectLater(withoutStack.allAgentsFailed(taskId, outage.attempts));
  }

  private rejectStopped(taskId: string | undefined): Promise<never> {
    this.tasksRejected++;
    const detail = this.host.phase === 'draining' ? 'the supervisor is stopping' : 'the supervisor is stopped';
    return rejectLater(withoutStack.supervisorStopped(taskId ?? `task-${++this.taskCounter}`, detail));
  }

  // ─── SupervisorCore: what tasks and attempts call back ──────────────────────────────────────

  attemptEnded(agent: Agent): void {
    this.host.attemptEnded(agent);
  }

  countsAsFailure(error: unknown): boolean {
    if (this.isFailure === undefined) return true;
    try {
      return this.isFailure(error) !== false;
    } catch (hookError) {
      this.host.reportError(hookError, 'routing.isFailure');
      return true;
    }
  }

  logFailure(run: TaskRun, agentId: string, reason: string, kind: 'failed' | 'timeout', at: number): void {
    const stored: StoredFailure = { taskId: run.taskId, agentId, reason, kind, attempt: run.attempt, at };
    this.failureLog.push(stored);
    if (this.streams.failures.observed) this.streams.failures.next(toFailureRecord(stored));
  }

  /** Up to `limit` failures, newest first. */
  recentFailures(limit: number): FailureRecord[] {
    return this.failureLog.newest(limit).map(toFailureRecord);
  }

  explain(run: TaskRun, chosen: Agent | undefined, candidates: readonly Agent[] | undefined, attempt: number): void {
    const considered: string[] = [];
    const skipped: SkippedCandidate[] = [];
    const list = candidates ?? this.pool.ordered.items;
    for (let i = 0; i < list.length && considered.length < EXPLAIN_LIMIT; i++) {
      const agent = list[i] as Agent;
      considered.push(agent.id);
      if (agent === chosen) break;
      const reason = whyNot(agent, run);
      if (reason !== undefined) skipped.push({ agentId: agent.id, reason });
    }
    const decision: RoutingDecision = {
      taskId: run.taskId,
      attempt,
      policy: this.policy.name,
      considered,
      skipped,
      chosen: chosen?.id ?? null,
      panic: run.panic,
      at: this.clock.now(),
    };
    this.streams.decisions.next(decision);
  }

  listRejected(
    candidates: readonly Agent[] | undefined,
    task: TaskEligibility | undefined,
    into: AttemptRecord[],
    max: number,
  ): void {
    const list = candidates ?? this.pool.ordered.items;
    let added = 0;
    for (let i = 0; i < list.length && added < max; i++) {
      const agent = list[i] as Agent;
      const reason = whyNot(agent, task);
      // Agents the task ran on are listed by their attempts; agents that may take it were not rejected.
      if (reason === undefined || reason === 'tried') continue;
      // A half-open agent with no permit was counted when it refused admission.
      if (reason !== 'half_open: no probe permit') agent.breaker.countRejection();
      into.push({ agentId: agent.id, reason, kind: 'rejected', durationMs: 0 });
      added++;
    }
  }

  // SignalRegistry: attempts whose signal exists, so stop() can abort them.
  track(ctx: Abortable): void {
    this.signalled.add(ctx);
  }
  untrack(ctx: Abortable): void {
    this.signalled.delete(ctx);
  }

  /** `stop()` reached its deadline: abort every attempt whose signal exists and every TaskRun. */
  abortAll(reason: unknown): void {
    this.abortAllReason = reason;
    for (const ctx of this.signalled) ctx.abort(reason);
    this.signalled.clear();
    this.running.abortAll();
    this.deadlines.clear();
  }
}

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
