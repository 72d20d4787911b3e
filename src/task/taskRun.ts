/**
 * One routed task: picks an agent, runs the attempt, fails over, settles exactly once.
 *
 * Two ways to wait for an attempt, chosen per task:
 * - the fast path (no deadline, no caller signal): the attempt's own promise is chained with
 *   `then`, which costs about as much as a bare `await`;
 * - the raced path (a deadline or a caller signal): the task owns its promise, so a deadline (from
 *   the supervisor's one `DeadlineQueue`), an abort or `stop()` can settle it at once while the
 *   agent is still busy; a late result of an abandoned attempt is ignored by its token.
 */

import { NOT_ADMITTED } from '../breaker/breaker.js';
import { describeReason } from '../common/describeReason.js';
import {
  type AllAgentsFailedError,
  type AttemptKind,
  type AttemptRecord,
  AttemptTimeoutError,
  SupervisorStoppedError,
  TaskAbortedError,
  withoutStack,
} from '../common/errors.js';
import type { Agent, RunFunction } from '../pool/agent.js';
import type { SupervisorCore } from '../supervisor/supervisorCore.js';
import { AttemptContext } from './callContext.js';
import type { Deadline } from './deadlineQueue.js';

type TaskFunction = (agentId: string, ctx: AttemptContext) => unknown;

export class TaskRun implements Deadline {
  /** Links in the supervisor's list of running tasks (for `stop()`), without a Set. */
  prev: TaskRun | undefined;
  next: TaskRun | undefined;
  deadlineAt = 0;
  heapIndex = -1;

  attempt = 0;
  private agent: Agent | undefined;
  private generation = 0;
  private startedAt = 0;
  private ctx: AttemptContext | undefined;
  /** Agents this task ran on, and agents that refused admission (half-open with no permit). */
  private tried: Agent[] | undefined;
  private refused: Agent[] | undefined;
  private attempts: AttemptRecord[] | undefined;
  private panic = false;
  private stoppedBySupervisor = false;
  private budgetSpent = false;
  /** Set when `isFailure` returned false: the caller gets the agent's own error. */
  private notCounted = false;
  // Raced path only.
  private token = 0;
  private settled = false;
  private resolve: ((value: unknown) => void) | undefined;
  private reject: ((error: unknown) => void) | undefined;
  private skipFn: ((agent: Agent) => boolean) | undefined;

  constructor(
    private readonly core: SupervisorCore,
    private readonly task: unknown,
    private readonly taskFn: TaskFunction | undefined,
    private readonly givenTaskId: string | undefined,
    private readonly taskNumber: number,
    /** The candidates named for this task, in order; undefined for the whole pool. */
    private readonly candidates: readonly Agent[] | undefined,
    private readonly signal: AbortSignal | undefined,
    private readonly timeoutMs: number,
  ) {}

  get taskId(): string {
    return this.givenTaskId ?? `task-${this.taskNumber}`;
  }

  /** Starts the task; the promise settles exactly once. */
  start(): Promise<unknown> {
    const core = this.core;
    core.retryBudget?.deposit();
    core.link(this);
    if (this.timeoutMs > 0 || this.signal !== undefined) return this.startRaced();
    try {
      return this.runFast();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Takes over a task whose first attempt ran on the supervisor's fast path and failed: records
   * that failure and goes on with the next attempt.
   */
  resumeAfterFailedAttempt(
    agent: Agent,
    generation: number,
    startedAt: number,
    ctx: AttemptContext,
    error: unknown,
  ): Promise<unknown> {
    this.attempt = 1;
    this.agent = agent;
    this.generation = generation;
    this.startedAt = startedAt;
    this.ctx = ctx;
    this.core.link(this);
    if (this.failed(error, 'failed')) return this.runFast();
    throw this.finalError(error);
  }

  // ─── the fast path ──────────────────────────────────────────────────────────────────────────

  private runFast(): Promise<unknown> {
    for (;;) {
      const agent = this.beginAttempt();
      if (agent === undefined) throw this.exhausted();
      let result: unknown;
      try {
        result = this.invoke(agent);
      } catch (error) {
        if (this.failed(error, 'failed')) continue;
        throw this.finalError(error);
      }
      if (result instanceof Promise) return result.then(this.onValue, this.onError);
      if (isThenable(result)) return Promise.resolve(result).then(this.onValue, this.onError);
      this.succeeded(result);
      return Promise.resolve(result);
    }
  }

  private readonly onValue = (value: unknown): unknown => {
    this.succeeded(value);
    return value;
  };

  private readonly onError = (error: unknown): Promise<unknown> => {
    if (this.failed(error, 'failed')) return this.runFast();
    throw this.finalError(error);
  };

  // ─── the raced path ─────────────────────────────────────────────────────────────────────────

  private startRaced(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      const signal = this.signal;
      if (signal !== undefined) {
        if (signal.aborted) {
          this.settle(false, new TaskAbortedError(this.taskId, describeReason(signal.reason)));
          return;
        }
        signal.addEventListener('abort', this.onAbort, { once: true });
      }
      this.step();
    });
  }

  private step(): void {
    for (;;) {
      const agent = this.beginAttempt();
      if (agent === undefined) {
        this.settle(false, this.exhausted());
        return;
      }
      let result: unknown;
      try {
        result = this.invoke(agent);
      } catch (error) {
        if (this.failed(error, 'failed')) continue;
        this.settle(false, this.finalError(error));
        return;
      }
      if (!isThenable(result)) {
        this.succeeded(result);
        this.settle(true, result);
        return;
      }
      const token = ++this.token;
      if (this.timeoutMs > 0) this.core.deadlines.schedule(this, this.startedAt + this.timeoutMs);
      Promise.resolve(result).then(
        (value) => this.attemptSettled(token, true, value),
        (error) => this.attemptSettled(token, false, error),
      );
      return;
    }
  }

  private attemptSettled(token: number, ok: boolean, value: unknown): void {
    if (token !== this.token || this.settled) return; // a late result of an abandoned attempt
    this.core.deadlines.cancel(this);
    if (ok) {
      this.succeeded(value);
      this.settle(true, value);
    } else if (this.failed(value, 'failed')) this.step();
    else this.settle(false, this.finalError(value));
  }

  /** The attempt's deadline passed: abort it, count a timeout, fail over. */
  expire(): void {
    if (this.settled) return;
    this.token++;
    const agent = this.agent as Agent;
    const error = new AttemptTimeoutError(agent.id, this.timeoutMs);
    this.ctx?.abort(error);
    if (this.failed(error, 'timeout')) this.step();
    else this.settle(false, this.finalError(error));
  }

  private readonly onAbort = (): void => {
    if (this.settled) return;
    const reason = describeReason(this.signal?.reason);
    this.abandonAttempt(new TaskAbortedError(this.taskId, reason));
    this.settle(false, new TaskAbortedError(this.taskId, reason));
  };

  /** `stop()` reached its drain deadline with this task still running. */
  abortForStop(): void {
    this.stoppedBySupervisor = true;
    const error = new SupervisorStoppedError(this.taskId, 'the supervisor stopped before the task finished');
    if (this.resolve !== undefined) {
      if (this.settled) return;
      this.abandonAttempt(error);
      this.core.tasksRejected++; // as the fast path counts a task stop() ends
      this.settle(false, error);
    } else {
      // Fast path: the agent sees the abort; its settlement ends the task without failover.
      this.ctx?.abort(error);
    }
  }

  private abandonAttempt(reason: unknown): void {
    this.token++;
    this.core.deadlines.cancel(this);
    const agent = this.agent;
    if (agent !== undefined && this.ctx !== undefined) {
      this.ctx.abort(reason);
      agent.breaker.inFlight--;
      this.ctx = undefined;
      this.core.attemptEnded(agent);
    }
  }

  private settle(ok: boolean, value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.core.unlink(this);
    if (ok) (this.resolve as (value: unknown) => void)(value);
    else (this.reject as (error: unknown) => void)(value);
  }

  // ─── attempts ───────────────────────────────────────────────────────────────────────────────

  /** Picks and admits the next agent, or returns undefined when the task cannot go on. */
  private beginAttempt(): Agent | undefined {
    const core = this.core;
    if (this.attempt >= core.maxAttempts || this.stoppedBySupervisor || core.phase === 'stopped') return undefined;
    if (this.attempt > 0 && core.retryBudget !== undefined && !core.retryBudget.tryWithdraw()) {
      this.budgetSpent = true;
      return undefined;
    }
    // Panic and refusals are decided per attempt: the pool may have recovered (or collapsed), and
    // a half-open agent that had no permit may have one now.
    if (core.panicThreshold > 0) {
      const pool = core.pool;
      this.panic = pool.routable.length * 100 < core.panicThreshold * pool.size;
    }
    this.refused = undefined;
    const now = core.clock.now();
    for (;;) {
      const agent = this.pick();
      if (agent === undefined) return undefined;
      const breaker = agent.breaker;
      let generation: number;
      if (this.panic && breaker.state === 'open') generation = breaker.generation;
      else {
        generation = breaker.admit(now);
        if (generation === NOT_ADMITTED) {
          this.refused = append(this.refused, agent);
          continue;
        }
      }
      this.attempt++;
      if (this.attempt > 1) core.failovers++;
      this.agent = agent;
      this.generation = generation;
      this.startedAt = now;
      this.ctx = new AttemptContext(this.attempt, agent.id, this.givenTaskId, this.taskNumber);
      breaker.inFlight++;
      if (core.streams.decisions.observed) core.explain(this, agent, this.candidates, this.panic, this.attempt);
      return agent;
    }
  }

  private pick(): Agent | undefined {
    const core = this.core;
    const list = this.candidates ?? (this.panic ? core.pool.ordered.items : core.pool.routable.items);
    // The common case: the whole pool, nothing tried yet: the policy reads the routable list.
    if (this.candidates === undefined && !this.panic && this.tried === undefined && this.refused === undefined) {
      return core.policy.pick(list, undefined);
    }
    if (this.skipFn === undefined) this.skipFn = (agent) => this.mayNotTake(agent, true);
    const untried = core.policy.pick(list, this.skipFn);
    if (untried !== undefined || this.tried === undefined) return untried;
    // Every routable candidate was tried: retry one (the seed's max_retries) rather than give up.
    return core.policy.pick(list, (agent) => this.mayNotTake(agent, false));
  }

  /** Whether `agent` may not take this task's next attempt. */
  mayNotTake(agent: Agent, excludeTried: boolean): boolean {
    if (excludeTried && this.tried?.includes(agent)) return true;
    if (this.refused?.includes(agent)) return true;
    if (agent.draining) return true;
    if (this.taskFn === undefined && agent.run === undefined) return true;
    const state = agent.breaker.state;
    if (state === 'closed' || state === 'half_open') return false;
    return !(this.panic && state === 'open');
  }

  private invoke(agent: Agent): unknown {
    const ctx = this.ctx as AttemptContext;
    return this.taskFn !== undefined ? this.taskFn(agent.id, ctx) : (agent.run as RunFunction)(this.task, ctx);
  }

  private succeeded(_value: unknown): void {
    const core = this.core;
    const agent = this.agent as Agent;
    const now = core.clock.now();
    agent.breaker.inFlight--;
    this.ctx = undefined;
    core.routingEvents++;
    core.tasksSucceeded++;
    agent.breaker.recordSuccess(this.generation, now - this.startedAt, now);
    core.unlink(this);
    if (agent.draining) core.attemptEnded(agent);
  }

  /**
   * Records a failed attempt. Returns true when the task should go on to another attempt, false
   * when the error goes back to the caller (`isFailure` said it is not the agent's fault, or the
   * supervisor stopped).
   */
  private failed(error: unknown, kind: Exclude<AttemptKind, 'rejected'>): boolean {
    const core = this.core;
    const agent = this.agent as Agent;
    const now = core.clock.now();
    const durationMs = now - this.startedAt;
    if (this.stoppedBySupervisor || core.phase === 'stopped') {
      // The agent gave up because stop() aborted it: not the agent's failure.
      if (this.ctx !== undefined) this.abandonAttempt(error);
      return false;
    }
    if (kind === 'failed') {
      agent.breaker.inFlight--;
      this.ctx = undefined;
    } else this.abandonAttempt(error);
    core.routingEvents++;
    if (kind === 'failed' && !core.countsAsFailure(error)) {
      agent.breaker.recordDuration(durationMs);
      if (agent.draining) core.attemptEnded(agent);
      this.notCounted = true;
      return false;
    }
    const reason = kind === 'timeout' ? `timed out after ${this.timeoutMs} ms` : describeReason(error);
    if (kind === 'timeout') agent.breaker.timeouts++;
    agent.breaker.recordFailure(this.generation, reason, now, durationMs);
    this.attempts = append(this.attempts, { agentId: agent.id, reason, kind, durationMs });
    this.tried = append(this.tried, agent);
    core.logFailure(this, agent.id, reason, kind, now);
    if (agent.draining) core.attemptEnded(agent);
    return true;
  }

  private finalError(error: unknown): unknown {
    this.core.unlink(this);
    if (this.notCounted) {
      this.core.tasksFailed++;
      return error;
    }
    return this.exhausted(); // which also answers a stopped supervisor
  }

  /** Every attempt failed, or no agent could take the task: say who and why, without a stack. */
  private exhausted(): AllAgentsFailedError | SupervisorStoppedError {
    const core = this.core;
    core.unlink(this);
    if (this.stoppedBySupervisor || core.phase === 'stopped') {
      core.tasksRejected++;
      return withoutStack.supervisorStopped(this.taskId, 'the supervisor stopped before the task finished');
    }
    const attempts = this.attempts ?? [];
    if (attempts.length > 0) core.tasksFailed++;
    else core.tasksRejected++;
    const listed = attempts.slice();
    if (this.budgetSpent) {
      listed.push({ agentId: '', reason: 'retry budget spent', kind: 'rejected', durationMs: 0 });
    } else if (attempts.length < core.maxAttempts) {
      core.listRejected(this.candidates, this.refused, listed, core.maxAttempts - attempts.length, this.tried);
    }
    if (core.streams.decisions.observed && attempts.length === 0)
      core.explain(this, undefined, this.candidates, this.panic, 1);
    return withoutStack.allAgentsFailed(this.taskId, listed);
  }
}

/** Appends to a list allocated on first use (most tasks never need one). */
function append<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  list.push(item);
  return list;
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  try {
    return typeof (value as { then?: unknown }).then === 'function';
  } catch {
    // A `then` getter that throws: `Promise.resolve()` reads it again and rejects with its error,
    // so the attempt fails like any other instead of escaping the task's bookkeeping.
    return true;
  }
}
