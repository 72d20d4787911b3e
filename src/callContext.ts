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

  constructor(
    readonly attempt: number,
    readonly agentId: string,
    /** Whose `taskId` this is: read only when the function asks (it may be built on demand). */
    private readonly owner: { readonly taskId: string },
  ) {}

  get taskId(): string {
    return this.owner.taskId;
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
