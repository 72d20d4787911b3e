/**
 * One attempt of a task on one agent, from admission to its one end.
 *
 * Everything an attempt holds — the agent's `inFlight` slot, a half-open probe permit, its signal's
 * place in the stop registry, a draining agent's wait — is taken when the attempt is created and
 * released by `end()`, in one order, once, for every way an attempt can end. The task decides what
 * happens next (fail over, settle); the attempt only gives back what it took. Bugs lived where an
 * attempt's life was split between two paths (docs/architecture.md, principle 10).
 */
import type { Clock } from '../../machines/breakerOptions.js';
import type { Agent } from '../pool/agent.js';
import type { Abortable, CallContext, SignalRegistry } from './callContext.js';

/**
 * How an attempt ended:
 * - `succeeded`: the agent returned a value (a slow call still counts as a failure, by the breaker);
 * - `failed`: the agent threw or rejected and it counts against the agent;
 * - `timed-out`: the deadline passed first; counts against the agent, and the signal aborts;
 * - `not-counted`: the agent threw, but `isFailure` says it is not the agent's fault;
 * - `abandoned`: the caller aborted the task, or `stop()` gave up on it; no verdict on the agent.
 * The last two give a probe permit back to the half-open window.
 */
export type AttemptOutcome = 'succeeded' | 'failed' | 'timed-out' | 'not-counted' | 'abandoned';

/** A start time for an attempt that is not timed (see common/latencySampler.ts). */
export const UNTIMED = Number.NaN;

/** What an attempt tells its supervisor. */
export interface AttemptHost extends SignalRegistry {
  readonly clock: Clock;
  /** An attempt on `agent` ended: a draining agent may now be removed. */
  attemptEnded(agent: Agent): void;
}

export class Attempt implements CallContext, Abortable {
  private controller: AbortController | undefined = undefined;
  private abortReason: unknown = undefined;
  private aborted = false;
  /** Clock time the attempt ended (set by `end`; NaN for an untimed success). */
  endedAt = Number.NaN;
  private ended = false;

  // Positional, not an options object: it runs once per healthy call (bench case `route-priority`),
  // and an options object would be one more allocation there.
  constructor(
    private readonly host: AttemptHost,
    readonly agent: Agent,
    /** The breaker generation it was admitted in: its result changes state only there. */
    readonly generation: number,
    /** Whether it holds one of a half-open window's probe permits. */
    readonly probe: boolean,
    /** Clock reading at the start, or `UNTIMED`. */
    public startedAt: number,
    /** 1 for the first attempt of a task, 2 for the first failover, … */
    readonly attempt: number,
    private readonly givenTaskId: string | undefined,
    readonly taskNumber: number,
  ) {
    agent.breaker.callStarted();
  }

  get agentId(): string {
    return this.agent.id;
  }

  get taskId(): string {
    return this.givenTaskId ?? `task-${this.taskNumber}`;
  }

  /**
   * Created on first read. While the attempt runs the supervisor tracks it (so `stop()` can abort
   * it), or it starts aborted if `stop()` already gave up on every attempt; once the attempt ended
   * nobody tracks it, and it starts aborted if the attempt was.
   */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      const host = this.host;
      if (!this.ended && !this.aborted) {
        if (host.abortAllReason !== undefined) this.abort(host.abortAllReason);
        else host.track(this);
      }
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Aborts the signal, now if it exists or the moment it is first read. The first reason stays. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  /**
   * Times an untimed attempt from `startedAt`, an exact reading taken for another reason (a
   * deadline's): its failure or timeout then has a duration. A no-op once timed or ended.
   */
  timeFrom(startedAt: number): void {
    if (Number.isNaN(this.startedAt) && !this.ended) this.startedAt = startedAt;
  }

  /** Its duration, or null when it was not timed. */
  get durationMs(): number | null {
    return Number.isNaN(this.startedAt) ? null : this.endedAt - this.startedAt;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * Ends the attempt and releases what it holds, in this order: the agent's in-flight slot, the
   * verdict or the probe permit, the signal (aborted for a timeout or an abandon, then forgotten by
   * the registry), and a draining agent's wait. Returns false when it had already ended (a late
   * result of an attempt that timed out or was abandoned): nothing is released twice.
   */
  end(outcome: AttemptOutcome, reason = '', abortReason?: unknown): boolean {
    if (this.ended) return false;
    this.ended = true;
    const breaker = this.agent.breaker;
    const timed = !Number.isNaN(this.startedAt);
    // An untimed success reads no clock: it is the healthy call's path.
    const now = outcome === 'succeeded' && !timed ? Number.NaN : this.host.clock.now();
    const durationMs = timed ? now - this.startedAt : null;
    this.endedAt = now;
    breaker.callEnded();
    switch (outcome) {
      case 'succeeded':
        if (durationMs === null) breaker.recordUntimedSuccess(this.generation);
        else breaker.recordSuccess(this.generation, durationMs, now);
        break;
      case 'failed':
        breaker.recordFailure(this.generation, reason, now, durationMs);
        break;
      case 'timed-out':
        this.abort(abortReason);
        breaker.recordFailure(this.generation, reason, now, durationMs, true);
        break;
      case 'not-counted':
        breaker.recordDuration(durationMs);
        if (this.probe) breaker.releaseProbe(this.generation, now);
        break;
      case 'abandoned':
        this.abort(abortReason);
        if (this.probe) breaker.releaseProbe(this.generation, now);
        break;
      default:
        return assertNever(outcome);
    }
    if (this.controller !== undefined) this.host.untrack(this); // one first read later is not tracked
    if (this.agent.draining) this.host.attemptEnded(this.agent);
    return true;
  }
}

function assertNever(outcome: never): never {
  throw new TypeError(`Unknown attempt outcome: ${String(outcome)}`);
}
