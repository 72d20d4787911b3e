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

/**
 * Who must be able to abort an attempt that nothing else tracks (the supervisor's fast path, for
 * `stop()`): told only when the attempt's signal is created, since an attempt that never reads its
 * signal cannot be told to stop anyway.
 */
export interface SignalRegistry {
  /** Set once in-flight attempts must be aborted: a signal created later starts aborted. */
  readonly abortAllReason: unknown;
  track(ctx: AttemptContext): void;
  untrack(ctx: AttemptContext): void;
}

export class AttemptContext implements CallContext {
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private aborted = false;

  private registry: SignalRegistry | undefined;

  constructor(
    readonly attempt: number,
    readonly agentId: string,
    private readonly givenTaskId: string | undefined,
    /** Names the task when no id was given; the string is built only if someone reads it. */
    readonly taskNumber: number,
    registry?: SignalRegistry,
  ) {
    this.registry = registry;
  }

  /** The attempt is over: its registry forgets it, and a signal first read later is not tracked. */
  finished(): void {
    if (this.controller !== undefined) this.registry?.untrack(this);
    this.registry = undefined;
  }

  get taskId(): string {
    return this.givenTaskId ?? `task-${this.taskNumber}`;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      const registry = this.registry;
      if (registry !== undefined && !this.aborted) {
        if (registry.abortAllReason !== undefined) this.abort(registry.abortAllReason);
        else registry.track(this);
      }
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
