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

/** Something whose signal `stop()` may abort. */
export interface Abortable {
  abort(reason: unknown): void;
}

/**
 * Who must be able to abort an attempt that nothing else tracks (the supervisor's fast path, for
 * `stop()`): told only when the attempt's signal is created, since an attempt that never reads its
 * signal cannot be told to stop anyway.
 */
export interface SignalRegistry {
  /** Set once in-flight attempts must be aborted: a signal created later starts aborted. */
  readonly abortAllReason: unknown;
  track(ctx: Abortable): void;
  untrack(ctx: Abortable): void;
}

/**
 * The context of a standalone breaker's call (`breaker.execute`): its first and only attempt, no
 * task, and a signal nothing aborts (the supervisor's attempts are `Attempt`s).
 */
export class BreakerCallContext implements CallContext {
  readonly attempt = 1;
  readonly taskId = '';
  private controller: AbortController | undefined;

  constructor(readonly agentId: string) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) this.controller = new AbortController();
    return this.controller.signal;
  }
}
