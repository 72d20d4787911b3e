/**
 * What a call's function receives. The `AbortSignal` is created only when the function reads it:
 * most calls never do, and an AbortController costs more than the rest of the call's bookkeeping.
 */
export interface CallContext {
  /** Aborted when the attempt times out, the caller aborts the task, or the supervisor stops. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt of a task, 2 for the first failover, … */
  readonly attempt: number;
  readonly agentId: string;
  readonly taskId: string;
}

export class AttemptContext implements CallContext {
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private aborted = false;

  /** Links in the supervisor's list of first attempts in flight (for `stop()`), without a Set. */
  prev: AttemptContext | undefined;
  next: AttemptContext | undefined;

  constructor(
    readonly attempt: number,
    readonly agentId: string,
    private readonly givenTaskId: string | undefined,
    /** Names the task when no id was given; the string is built only if someone reads it. */
    private readonly taskNumber: number,
  ) {}

  get taskId(): string {
    return this.givenTaskId ?? `task-${this.taskNumber}`;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Aborts the signal, now if it exists or the moment it is first read. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}
