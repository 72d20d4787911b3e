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
  track(ctx: AttemptContextLike): void;
  untrack(ctx: AttemptContextLike): void;
}

/** The fields a lazily created, abortable signal needs: both context classes below hold them. */
export interface LazySignal {
  controller: AbortController | undefined;
  abortReason: unknown;
  aborted: boolean;
  /** Who tracks the signal for `stop()` while the call runs; undefined once it ended. */
  readonly registry: SignalRegistry | undefined;
}

/** The signal, created on first read: aborted at once if its attempt already was, else tracked. */
export function lazySignal(ctx: LazySignal & AttemptContextLike): AbortSignal {
  if (ctx.controller === undefined) {
    ctx.controller = new AbortController();
    const registry = ctx.registry;
    if (registry !== undefined && !ctx.aborted) {
      if (registry.abortAllReason !== undefined) abortSignal(ctx, registry.abortAllReason);
      else registry.track(ctx);
    }
    if (ctx.aborted) ctx.controller.abort(ctx.abortReason);
  }
  return ctx.controller.signal;
}

/** Aborts the signal, now if it exists or the moment it is first read. */
export function abortSignal(ctx: LazySignal, reason: unknown): void {
  if (ctx.aborted) return;
  ctx.aborted = true;
  ctx.abortReason = reason;
  ctx.controller?.abort(reason);
}

/** The call is over: its registry forgets it (the caller then stops naming a registry). */
export function forgetSignal(ctx: LazySignal & AttemptContextLike): void {
  if (ctx.controller !== undefined) ctx.registry?.untrack(ctx);
}

/** What a registry tracks. */
export type AttemptContextLike = CallContext & { abort(reason: unknown): void };

/** The context of a standalone breaker's call (the supervisor's attempts are `Attempt`s). */
export class AttemptContext implements CallContext, LazySignal {
  controller: AbortController | undefined = undefined;
  abortReason: unknown = undefined;
  aborted = false;
  registry: SignalRegistry | undefined;

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

  get taskId(): string {
    return this.givenTaskId ?? `task-${this.taskNumber}`;
  }

  get signal(): AbortSignal {
    return lazySignal(this);
  }

  abort(reason: unknown): void {
    abortSignal(this, reason);
  }

  /** The call is over: its registry forgets it, and a signal first read later is not tracked. */
  finished(): void {
    forgetSignal(this);
    this.registry = undefined;
  }
}
