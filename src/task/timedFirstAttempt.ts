/**
 * A healthy closed agent's attempt with a deadline (`attemptTimeoutMs`): the task owns its promise,
 * so the deadline settles it while the agent is still busy, but it needs no `TaskRun` until the
 * attempt fails or times out. The deadline is an exact reading of the clock (it decides); the
 * attempt's duration is sampled like an untimed call's (common/latencySampler.ts).
 */
import { AttemptTimeoutError, SupervisorStoppedError } from '../common/errors.js';
import type { RunFunction } from '../pool/agent.js';
import type { SupervisorCore } from '../supervisor/supervisorCore.js';
import type { Attempt } from './attempt.js';
import type { Deadline } from './deadlineQueue.js';
import type { StoppableTask } from './runningTasks.js';
import { TaskRun } from './taskRun.js';
import { chain, isThenable } from './thenable.js';

// One executor for every promise: no closure per task just to get hold of resolve and reject.
let capturedResolve: (value: unknown) => void = () => {};
let capturedReject: (error: unknown) => void = () => {};
const capture = (resolve: (value: unknown) => void, reject: (error: unknown) => void): void => {
  capturedResolve = resolve;
  capturedReject = reject;
};

export class TimedFirstAttempt implements Deadline, StoppableTask {
  prev: StoppableTask | undefined;
  next: StoppableTask | undefined;
  deadlineAt = 0;
  heapIndex = -1;
  private readonly resolve: (value: unknown) => void;
  private readonly reject: (error: unknown) => void;
  /** Set once a TaskRun took over, or the task settled: later results are ignored. */
  private done = false;

  private constructor(
    private readonly core: SupervisorCore,
    private readonly attempt: Attempt,
    private readonly task: unknown,
    private readonly timeoutMs: number,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ) {
    this.resolve = resolve;
    this.reject = reject;
  }

  /** Runs `attempt` (counted as a running task already) until `deadlineAt` at the latest. */
  static run(
    core: SupervisorCore,
    attempt: Attempt,
    task: unknown,
    timeoutMs: number,
    deadlineAt: number,
  ): Promise<unknown> {
    const promise = new Promise(capture);
    const timed = new TimedFirstAttempt(core, attempt, task, timeoutMs, capturedResolve, capturedReject);
    core.running.link(timed);
    let result: unknown;
    try {
      result = (attempt.agent.run as RunFunction)(task, attempt);
    } catch (error) {
      if (!timed.done) timed.failed(error, 'failed');
      return promise;
    }
    // `run` itself may have ended the task (stop() from inside it): then nothing is scheduled.
    if (timed.done) return promise;
    if (!isThenable(result)) {
      timed.succeeded(result);
      return promise;
    }
    timed.deadlineAt = deadlineAt;
    core.deadlines.schedule(timed, deadlineAt);
    try {
      chain(result, timed.onValue, timed.onError);
    } catch (error) {
      timed.onError(error); // a fake promise: the attempt failed
    }
    return promise;
  }

  private readonly onValue = (value: unknown): void => {
    if (this.done) return; // it timed out or was abandoned, or a second callback: a late result
    this.core.deadlines.cancel(this);
    this.succeeded(value);
  };

  private readonly onError = (error: unknown): void => {
    if (this.done) return;
    this.core.deadlines.cancel(this);
    this.failed(error, 'failed');
  };

  private succeeded(value: unknown): void {
    const core = this.core;
    this.done = true;
    if (!this.attempt.end('succeeded')) return;
    core.routingEvents++;
    core.tasksSucceeded++;
    core.running.unlink(this);
    core.running.ended();
    this.resolve(value);
  }

  /** A failure or a timeout: a TaskRun takes the task over (failover, or the final error). */
  private failed(error: unknown, outcome: 'failed' | 'timed-out'): void {
    this.done = true;
    // The deadline's exact start reading times the failure, if the attempt was not sampled.
    this.attempt.timeFrom(this.deadlineAt - this.timeoutMs);
    this.core.running.unlink(this);
    const run = new TaskRun(this.core, {
      task: this.task,
      taskNumber: this.attempt.taskNumber,
      timeoutMs: this.timeoutMs,
    });
    run.resumeRaced(this.attempt, error, outcome, this.resolve, this.reject);
  }

  /** The deadline passed: the attempt times out and the task fails over. */
  expire(): void {
    if (this.done) return;
    this.failed(new AttemptTimeoutError(this.attempt.agentId, this.timeoutMs), 'timed-out');
  }

  abortForStop(): void {
    if (this.done) return;
    const core = this.core;
    this.done = true;
    core.deadlines.cancel(this);
    const error = new SupervisorStoppedError(this.attempt.taskId, 'the supervisor stopped before the task finished');
    this.attempt.end('abandoned', '', error);
    core.tasksRejected++;
    core.running.unlink(this);
    core.running.ended();
    this.reject(error);
  }
}
