/**
 * One routed task past its first attempt: picks an agent, runs the attempt, fails over, settles
 * exactly once. The healthy closed call never gets here (taskRouter.ts runs it with no TaskRun).
 *
 * Two ways to wait for an attempt, chosen per task:
 * - chained (no deadline, no caller signal): the attempt's own promise is chained with `then`,
 *   which costs about as much as a bare `await`;
 * - raced (a deadline or a caller signal): the task owns its promise, so a deadline (from the
 *   supervisor's one `DeadlineQueue`), an abort or `stop()` can settle it at once while the agent
 *   is still busy; the abandoned attempt has ended, so its late result changes nothing.
 *
 * Every attempt ends through `Attempt.end` (attempt.ts); the task's own count ends in `finish`.
 */

import { NOT_ADMITTED } from '../breaker/breaker.js';
import { describeReason } from '../common/describeReason.js';
import {
  type AllAgentsFailedError,
  type AttemptRecord,
  AttemptTimeoutError,
  SupervisorStoppedError,
  TaskAbortedError,
  withoutStack,
} from '../common/errors.js';
import type { Agent, RunFunction } from '../pool/agent.js';
import { type TaskEligibility, whyNot } from '../pool/eligibility.js';
import type { SupervisorCore } from '../supervisor/supervisorCore.js';
import { Attempt } from './attempt.js';
import type { CallContext } from './callContext.js';
import type { Deadline } from './deadlineQueue.js';
import type { StoppableTask } from './runningTasks.js';
import { chain, isThenable } from './thenable.js';

export type TaskFunction = (agentId: string, ctx: CallContext) => unknown;

/** What a task is: named fields instead of a row of positional `undefined`s. */
export interface TaskSpec {
  /** The value the agents' `run` receives (`route`). */
  readonly task?: unknown;
  /** The task's own function (`routeTask`), called instead of the agents' `run`. */
  readonly taskFn?: TaskFunction | undefined;
  /** The caller's id for the task; `task-<taskNumber>` when absent. */
  readonly taskId?: string | undefined;
  readonly taskNumber: number;
  /** The candidates named for this task, in order; undefined for the whole pool. */
  readonly candidates?: readonly Agent[] | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Per-attempt deadline in ms; 0 for none. */
  readonly timeoutMs: number;
  /** The agent the route already picked for the first attempt: a task is picked for once. */
  readonly picked?: Agent | undefined;
}

export class TaskRun implements Deadline, TaskEligibility, StoppableTask {
  /** Links in the supervisor's list of running tasks (for `stop()`), without a Set. */
  prev: StoppableTask | undefined;
  next: StoppableTask | undefined;
  deadlineAt = 0;
  heapIndex = -1;

  /** Attempts made so far. */
  attemptCount = 0;
  /** Agents this task ran on, and half-open agents that refused admission (no permit). */
  tried: Agent[] | undefined;
  refused: Agent[] | undefined;
  panic = false;
  readonly ownFunction: boolean;

  private readonly task: unknown;
  private readonly taskFn: TaskFunction | undefined;
  private readonly givenTaskId: string | undefined;
  private readonly taskNumber: number;
  private readonly candidates: readonly Agent[] | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly timeoutMs: number;
  private picked: Agent | undefined;

  private current: Attempt | undefined;
  private attempts: AttemptRecord[] | undefined;
  private stoppedBySupervisor = false;
  private budgetSpent = false;
  /** Set when `isFailure` returned false: the caller gets the agent's own error. */
  private notCounted = false;
  private finished = false;
  // Raced path only.
  private settled = false;
  private resolve: ((value: unknown) => void) | undefined;
  private reject: ((error: unknown) => void) | undefined;
  private skipUntried: ((agent: Agent) => boolean) | undefined;

  constructor(
    private readonly core: SupervisorCore,
    spec: TaskSpec,
  ) {
    this.task = spec.task;
    this.taskFn = spec.taskFn;
    this.ownFunction = spec.taskFn !== undefined;
    this.givenTaskId = spec.taskId;
    this.taskNumber = spec.taskNumber;
    this.candidates = spec.candidates;
    this.signal = spec.signal;
    this.timeoutMs = spec.timeoutMs;
    this.picked = spec.picked;
  }

  get taskId(): string {
    return this.givenTaskId ?? `task-${this.taskNumber}`;
  }

  /** The attempt number of the current (or last) attempt. */
  get attempt(): number {
    return this.attemptCount;
  }

  /** Starts the task; the promise settles exactly once. */
  start(): Promise<unknown> {
    const core = this.core;
    core.retryBudget?.deposit();
    core.running.started();
    core.running.link(this);
    if (this.timeoutMs > 0 || this.signal !== undefined) return this.startRaced();
    try {
      return this.runChained();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Takes over a task whose first attempt ran on the fast path and failed: the task's running
   * count comes with it (it was counted when routed), so a drain cannot end in between.
   */
  resumeAfterFailedAttempt(attempt: Attempt, error: unknown): Promise<unknown> {
    this.attemptCount = 1;
    this.current = attempt;
    this.core.running.link(this);
    try {
      if (this.failed(error, 'failed')) return this.runChained();
      return Promise.reject(this.finalError(error));
    } catch (bug) {
      return Promise.reject(bug);
    }
  }

  /**
   * Takes over a task whose first attempt was bound to a deadline (timedFirstAttempt.ts) and failed
   * or timed out: its promise, its running count and its place on the running list come with it.
   */
  resumeRaced(
    attempt: Attempt,
    error: unknown,
    outcome: 'failed' | 'timed-out',
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ): void {
    this.attemptCount = 1;
    this.current = attempt;
    this.resolve = resolve;
    this.reject = reject;
    this.core.running.link(this);
    if (this.failed(error, outcome)) this.step();
    else if (!this.settled) this.settle(false, this.finalError(error));
  }

  // ─── chained ────────────────────────────────────────────────────────────────────────────────

  private runChained(): Promise<unknown> {
    for (;;) {
      const attempt = this.beginAttempt();
      if (attempt === undefined) throw this.exhausted();
      let result: unknown;
      try {
        result = this.invoke(attempt);
      } catch (error) {
        if (this.failed(error, 'failed')) continue;
        throw this.finalError(error);
      }
      let chained: Promise<unknown> | undefined;
      try {
        chained = chain(result, this.onValue, this.onError);
      } catch (error) {
        if (this.failed(error, 'failed')) continue; // a fake promise: the attempt failed
        throw this.finalError(error);
      }
      if (chained !== undefined) return chained;
      this.succeeded(result);
      return Promise.resolve(result);
    }
  }

  // chain() calls these once, and a chained task has no signal or deadline to end its attempt first.
  private readonly onValue = (value: unknown): unknown => {
    this.succeeded(value);
    return value;
  };

  private readonly onError = (error: unknown): Promise<unknown> => {
    if (this.failed(error, 'failed')) return this.runChained();
    throw this.finalError(error);
  };

  // ─── raced ──────────────────────────────────────────────────────────────────────────────────

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
    // Every turn re-checks `settled`: an abort or a stop() can settle the task from inside any
    // callback this loop runs (run(), isFailure, a failures$, decisions$ or transitions$ subscriber).
    for (;;) {
      if (this.settled) return;
      const attempt = this.beginAttempt();
      if (this.settled) return; // a decisions$ subscriber aborted: onAbort ended the attempt
      if (attempt === undefined) {
        this.settle(false, this.exhausted());
        return;
      }
      let result: unknown;
      try {
        result = this.invoke(attempt);
      } catch (error) {
        if (this.failed(error, 'failed')) continue;
        if (!this.settled) this.settle(false, this.finalError(error));
        return;
      }
      if (this.settled) return; // run() aborted the task: its attempt ended with it
      if (!isThenable(result)) {
        if (this.succeeded(result)) this.settle(true, result);
        return;
      }
      if (this.timeoutMs > 0) this.core.deadlines.schedule(this, attempt.startedAt + this.timeoutMs);
      try {
        chain(
          result,
          (value) => this.attemptSettled(attempt, true, value),
          (error) => this.attemptSettled(attempt, false, error),
        );
      } catch (error) {
        this.attemptSettled(attempt, false, error); // a fake promise: the attempt failed
      }
      return;
    }
  }

  private attemptSettled(attempt: Attempt, ok: boolean, value: unknown): void {
    if (attempt !== this.current || attempt.isEnded || this.settled) {
      attempt.end('abandoned'); // a late result; a no-op unless the attempt somehow never ended
      return;
    }
    this.core.deadlines.cancel(this);
    if (ok) {
      if (this.succeeded(value)) this.settle(true, value);
    } else if (this.failed(value, 'failed')) this.step();
    else if (!this.settled) this.settle(false, this.finalError(value));
  }

  /** The attempt's deadline passed: abort it, count a timeout, fail over. */
  expire(): void {
    const attempt = this.current;
    if (this.settled || attempt === undefined || attempt.isEnded) return;
    const error = new AttemptTimeoutError(attempt.agentId, this.timeoutMs);
    if (this.failed(error, 'timed-out')) this.step();
    else if (!this.settled) this.settle(false, this.finalError(error));
  }

  private readonly onAbort = (): void => {
    if (this.settled) return;
    const error = new TaskAbortedError(this.taskId, describeReason(this.signal?.reason));
    this.abandonAttempt(error);
    this.settle(false, error);
  };

  /** `stop()` reached its drain deadline with this task still running. */
  abortForStop(): void {
    this.stoppedBySupervisor = true;
    const error = new SupervisorStoppedError(this.taskId, 'the supervisor stopped before the task finished');
    if (this.resolve !== undefined) {
      if (this.settled) return;
      this.abandonAttempt(error);
      this.core.tasksRejected++; // as a chained task counts a task stop() ends
      this.settle(false, error);
    } else {
      // Chained: the agent sees the abort; its settlement ends the task without failover.
      this.current?.abort(error);
    }
  }

  private abandonAttempt(reason: unknown): void {
    this.core.deadlines.cancel(this);
    this.current?.end('abandoned', '', reason);
  }

  private settle(ok: boolean, value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.finish();
    if (ok) (this.resolve as (value: unknown) => void)(value);
    else (this.reject as (error: unknown) => void)(value);
  }

  /** The task is over: off the running list, its count given back. Once. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.core.running.unlink(this);
    this.core.running.ended();
  }

  // ─── attempts ───────────────────────────────────────────────────────────────────────────────

  /** Picks and admits the next agent, or returns undefined when the task cannot go on. */
  private beginAttempt(): Attempt | undefined {
    const core = this.core;
    if (this.attemptCount >= core.maxAttempts || this.stoppedBySupervisor || core.phase === 'stopped') return undefined;
    if (this.settled) return undefined;
    if (this.attemptCount > 0 && core.retryBudget !== undefined && !core.retryBudget.tryWithdraw()) {
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
    for (;;) {
      const agent = this.pick();
      if (agent === undefined) return undefined;
      const breaker = agent.breaker;
      const state = breaker.state;
      // Every attempt here is timed: it is off the healthy path, and its outcome may decide.
      const now = core.clock.now();
      let generation: number;
      if (this.panic && state === 'open') generation = breaker.generation;
      else {
        generation = breaker.admit(now);
        if (generation === NOT_ADMITTED) {
          this.refused = append(this.refused, agent);
          continue;
        }
      }
      this.attemptCount++;
      if (this.attemptCount > 1) core.failovers++;
      const attempt = new Attempt(
        core,
        agent,
        generation,
        state === 'half_open',
        now,
        this.attemptCount,
        this.givenTaskId,
        this.taskNumber,
      );
      this.current = attempt;
      if (core.streams.decisions.observed) core.explain(this, agent, this.candidates, this.attemptCount);
      return attempt;
    }
  }

  private pick(): Agent | undefined {
    const picked = this.picked;
    if (picked !== undefined) {
      // The route picked it already (one pick per task): use it if it still may take the task.
      this.picked = undefined;
      if (whyNot(picked, this) === undefined) return picked;
    }
    const core = this.core;
    const list = this.candidates ?? (this.panic ? core.pool.ordered.items : core.pool.routable.items);
    // The common case: the whole pool, nothing tried yet: the policy reads the routable list.
    if (this.candidates === undefined && !this.panic && this.tried === undefined && this.refused === undefined) {
      return core.policy.pick(list, undefined);
    }
    if (this.skipUntried === undefined) this.skipUntried = (agent) => whyNot(agent, this) !== undefined;
    const untried = core.policy.pick(list, this.skipUntried);
    if (untried !== undefined || this.tried === undefined) return untried;
    // Every routable candidate was tried: retry one (the original design's max_retries) rather than give up.
    return core.policy.pick(list, (agent) => whyNot(agent, this, true) !== undefined);
  }

  private invoke(attempt: Attempt): unknown {
    return this.taskFn !== undefined
      ? this.taskFn(attempt.agentId, attempt)
      : (attempt.agent.run as RunFunction)(this.task, attempt);
  }

  /** Ends the current attempt as a success; false when it had already ended (the task settled). */
  private succeeded(_value: unknown): boolean {
    const core = this.core;
    if (!(this.current as Attempt).end('succeeded')) return false;
    core.routingEvents++;
    core.tasksSucceeded++;
    this.finish();
    return true;
  }

  /**
   * Ends the current attempt with a failure. Returns true when the task should go on to another
   * attempt, false when the error goes back to the caller (`isFailure` said it is not the agent's
   * fault, or the supervisor stopped).
   */
  private failed(error: unknown, outcome: 'failed' | 'timed-out'): boolean {
    const core = this.core;
    const attempt = this.current as Attempt;
    if (attempt.isEnded) return false; // an abort or stop() ended it: the task is settled or settling
    if (this.stoppedBySupervisor || core.phase === 'stopped') {
      // The agent gave up because stop() aborted it: not the agent's failure.
      attempt.end('abandoned', '', error);
      return false;
    }
    if (outcome === 'timed-out') core.deadlines.cancel(this);
    core.routingEvents++;
    if (outcome === 'failed' && !core.countsAsFailure(error)) {
      this.notCounted = attempt.end('not-counted');
      return false;
    }
    const reason = outcome === 'timed-out' ? `timed out after ${this.timeoutMs} ms` : describeReason(error);
    // Ended already: an abort or stop() from a callback above settled the task; nothing goes on.
    if (!attempt.end(outcome, reason, error)) return false;
    const kind = outcome === 'timed-out' ? 'timeout' : 'failed';
    this.attempts = append(this.attempts, { agentId: attempt.agentId, reason, kind, durationMs: attempt.durationMs });
    this.tried = append(this.tried, attempt.agent);
    core.logFailure(this, attempt.agentId, reason, kind, attempt.endedAt);
    return true;
  }

  private finalError(error: unknown): unknown {
    if (this.notCounted) {
      this.finish();
      this.core.tasksFailed++;
      return error;
    }
    return this.exhausted(); // which also answers a stopped supervisor
  }

  /** Every attempt failed, or no agent could take the task: say who and why, without a stack. */
  private exhausted(): AllAgentsFailedError | SupervisorStoppedError {
    const core = this.core;
    this.finish();
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
      core.listRejected(this.candidates, this, listed, core.maxAttempts - attempts.length);
    }
    if (core.streams.decisions.observed && attempts.length === 0) core.explain(this, undefined, this.candidates, 1);
    return withoutStack.allAgentsFailed(this.taskId, listed);
  }
}

/** Appends to a list allocated on first use (most tasks never need one). */
function append<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  list.push(item);
  return list;
}
