/**
 * The runtime around one breaker statechart: the unit `createCircuitBreaker` returns and the
 * supervisor keeps per agent.
 *
 * The machine decides; this class reads. The call path reads a mirror of the machine's snapshot
 * (state, generation, failure count) and bumps plain counters. It sends an event only when the
 * event can change the machine's state or context: a failure, a success while failures are
 * counted, anything in half-open, isolate and reset. A healthy call sends nothing.
 *
 * The actor is virtual (Orleans-style): a breaker that never left its initial state *is* the
 * machine's initial snapshot, so the actor is created on first need (a failure, isolate, reset, or
 * someone reading `actor`). The host decides where it lives (standalone, or under a shard actor).
 */
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { type Actor, type AnyActorRef, createActor, type Subscription } from 'xstate';
import {
  type BreakerOptions,
  type BreakerPolicy,
  type Clock,
  resolveBreakerPolicy,
} from '../../machines/breakerOptions.js';
import {
  type BreakerContext,
  type BreakerEvent,
  type BreakerState,
  type circuitBreakerMachine,
  initialBreakerContext,
  localBreakerMachine,
  mayAdmitProbe,
} from '../../machines/circuitBreaker.js';
import { guardedClock, isoTime, realClock } from '../common/clock.js';
import { describeReason } from '../common/describeReason.js';
import { BreakerboxError, type CircuitOpenError, ConfigError, withoutStack } from '../common/errors.js';
import { type SampledBreaker, sampleDue } from '../common/latencySampler.js';
import { rejectLater } from '../common/rejectLater.js';
import type { AgentSnapshot } from '../supervisor/snapshot.js';
import { UNTIMED } from '../task/attempt.js';
import { BreakerCallContext, type CallContext } from '../task/callContext.js';
import { FailureWindow } from './failureWindow.js';
import { LatencyHistogram } from './latencyHistogram.js';
import { validateBreakerOptions } from './validateBreakerOptions.js';

export type { BreakerState };

/** A state change of one breaker. */
export interface Transition {
  agentId: string;
  from: BreakerState;
  to: BreakerState;
  /** Clock time of the change, in ms. */
  at: number;
  /** Why, in words: `failure threshold reached: …`, `backoff elapsed`, `probes succeeded`, … */
  reason: string;
}

/** The seed's `get_metrics()` per agent, camelCase. */
export interface BreakerMetrics {
  agentId: string;
  state: BreakerState;
  metrics: {
    /**
     * Consecutive failures of the current closed period (resets on success and on close); open,
     * half-open and isolated circuits keep the count that ended the closed period (failed probes
     * do not add to it).
     */
    failureCount: number;
    successCount: number;
    totalRejections: number;
    /** ISO-8601 time of the last failure, or null. */
    lastFailureTime: string | null;
    lastSuccessTime: string | null;
    /** Every failure ever counted (beyond the original design: failed, timed out and slow calls). */
    totalFailures: number;
  };
  /** The current backoff level in seconds (before jitter). */
  backoffSeconds: number;
}

/** Where a breaker's actor lives and whom it tells about changes. */
export interface BreakerHost {
  /** Creates and starts the breaker's actor. */
  activate(breaker: Breaker): AnyActorRef;
  /**
   * Every state change, after the breaker's own bookkeeping. `external` is true when a peer or a
   * restore caused it rather than this process's own call outcomes.
   */
  onTransition?(transition: Transition, breaker: Breaker, external: boolean): void;
  /** Whether a trip is allowed now (the supervisor's `maxEjectionPercent`). */
  ejectionAllowed?(breaker: Breaker): boolean;
  /** An actor error (a bug): contained and reported, never thrown into a timer. */
  onError?(error: unknown, breaker: Breaker): void;
}

/** The public face of a breaker. */
export interface CircuitBreaker {
  readonly id: string;
  /** The current state, read from the machine's snapshot. */
  readonly state: BreakerState;
  /** The state now, then every change; completes on `stop()`. */
  readonly state$: Observable<BreakerState>;
  /** The XState actor (activated on first read): `from(breaker.actor)` and inspection work. */
  readonly actor: AnyActorRef;
  /**
   * Runs `fn` if the circuit admits the call; rejects at once with `CircuitOpenError` while open,
   * isolated, or half-open with every probe permit taken. A throw or rejection of `fn` (of any
   * value) counts as a failure and is rethrown as it was.
   */
  execute<T>(fn: (ctx: CallContext) => T | PromiseLike<T>): Promise<T>;
  /**
   * Milliseconds until an open circuit admits a probe, at clock time `now` (default: the
   * breaker's clock); 0 unless open; null while isolated.
   */
  retryAfterMs(now?: number): number | null;
  getMetrics(): BreakerMetrics;
  /** Force open with no automatic recovery until `reset()`. */
  isolate(): void;
  /** Back to a fresh closed circuit. */
  reset(): void;
  /** Stops the actor and its timers; `state$` completes. */
  stop(): void;
}

/** A rejected admission. */
export const NOT_ADMITTED = -1;

const INACTIVE_STATE: BreakerState = 'closed';

export class Breaker implements CircuitBreaker, SampledBreaker {
  state: BreakerState = INACTIVE_STATE;
  /** Mirrors of the machine's context that the call path reads. */
  generation = 0;
  failureCount = 0;
  /**
   * Whether every call must be timed exactly: a decision depends on its duration or time
   * (`slowCallMs`, a time-based rate window) or the clock is not the default one (a simulated clock
   * costs nothing to read, and tests expect exact figures). Otherwise healthy calls are sampled.
   */
  readonly timesEveryCall: boolean;
  // The latency sampler's bookkeeping (common/latencySampler.ts).
  sampledEpoch = -1;

  private successes = 0;
  private failures = 0;
  private rejections = 0;
  private timeoutCount = 0;
  private probeCount = 0;
  private halfOpenCount = 0;
  private lastSuccess: number | null = null;
  private lastFailure: number | null = null;
  private inFlightCount = 0;
  private starts = 0;
  /**
   * Probe permits handed out in the half-open window `permitWindow`, counted here so a caller knows
   * at once whether it holds one: a `PROBE` sent while the actor is busy (from a subscriber) is
   * only queued. The machine applies the same `PROBE` / `PROBE_RELEASED` events in the same order
   * under the same rule (`mayAdmitProbe`), so its `probesAdmitted` agrees once its queue drains.
   */
  private permits = 0;
  private permitWindow = -1;

  private ref: AnyActorRef | undefined;
  private subscription: Subscription | undefined;
  private readonly window: FailureWindow | undefined;
  private histogram: LatencyHistogram | undefined;
  private stateSubject: BehaviorSubject<BreakerState> | undefined;
  private stopped = false;
  /** Set while an event from a peer or a snapshot is being applied. */
  private external = false;

  constructor(
    readonly id: string,
    readonly options: BreakerOptions,
    readonly policy: BreakerPolicy,
    readonly clock: Clock,
    private readonly host: BreakerHost,
  ) {
    const trip = policy.trip;
    this.window = trip.kind === 'rate' ? new FailureWindow(trip) : undefined;
    this.timesEveryCall =
      clock !== realClock || policy.slowCallMs !== undefined || (trip.kind === 'rate' && trip.window === 'time');
  }

  /** Calls admitted and not yet ended. */
  get inFlight(): number {
    return this.inFlightCount;
  }
  get successCount(): number {
    return this.successes;
  }
  /** Every failure counted: failed, timed out and slow calls. */
  get totalFailures(): number {
    return this.failures;
  }
  get totalRejections(): number {
    return this.rejections;
  }
  get timeouts(): number {
    return this.timeoutCount;
  }
  /** Probe permits handed out. */
  get probes(): number {
    return this.probeCount;
  }
  get openToHalfOpen(): number {
    return this.halfOpenCount;
  }
  get lastSuccessAt(): number | null {
    return this.lastSuccess;
  }
  get lastFailureAt(): number | null {
    return this.lastFailure;
  }

  /** Calls started so far (the latency sampler's per-agent count). */
  get startedCount(): number {
    return this.starts;
  }

  /** An admitted call started running. */
  callStarted(): void {
    this.inFlightCount++;
    this.starts++;
  }

  /** An admitted call ended, whatever its outcome. */
  callEnded(): void {
    this.inFlightCount--;
  }

  /** A call this breaker could not take (counted as the original design's `total_rejections`). */
  countRejection(): void {
    this.rejections++;
  }

  /** Whether the actor exists (it has left, or been asked to leave, the initial snapshot). */
  get isActive(): boolean {
    return this.ref !== undefined;
  }

  get actor(): AnyActorRef {
    return this.activate();
  }

  /** The machine's context: the actor's, or the initial one while the actor is virtual. */
  get context(): BreakerContext {
    return this.ref
      ? (this.ref.getSnapshot() as { context: BreakerContext }).context
      : initialBreakerContext({ agentId: this.id, options: this.options });
  }

  get latency(): LatencyHistogram | undefined {
    return this.histogram;
  }

  get state$(): Observable<BreakerState> {
    if (this.stateSubject === undefined) {
      this.stateSubject = new BehaviorSubject<BreakerState>(this.state);
      if (this.stopped) this.stateSubject.complete();
    }
    return this.stateSubject.pipe(distinctUntilChanged());
  }

  /**
   * Admits a call or not. Returns the generation the call is admitted in, or `NOT_ADMITTED`
   * (counted as a rejection). Closed: a read. Half-open: a probe permit, decided here and now by
   * the machine's own rule and told to the machine with `PROBE` (see `permits`).
   */
  admit(now: number): number {
    if (this.state === 'closed') return this.generation;
    const ref = this.ref;
    if (this.state === 'half_open' && ref !== undefined) {
      const snapshot = ref.getSnapshot() as { value: BreakerState; context: BreakerContext };
      const context = snapshot.context;
      if (snapshot.value === 'half_open') {
        if (context.generation !== this.permitWindow) {
          this.permitWindow = context.generation;
          this.permits = context.probesAdmitted;
        }
        const { probeLease, policy } = context;
        if (mayAdmitProbe({ probeLease, policy, probesAdmitted: this.permits })) {
          this.permits++;
          this.probeCount++;
          this.send({ type: 'PROBE', at: now, generation: context.generation });
          return context.generation;
        }
      }
    }
    this.rejections++;
    return NOT_ADMITTED;
  }

  /**
   * A probe admitted in `generation` ended with no verdict (not counted, aborted, abandoned by
   * `stop()`): its permit goes back to the window so the next call can probe at once.
   */
  releaseProbe(generation: number, now: number): void {
    if (generation !== this.permitWindow || this.permits === 0) return;
    this.permits--;
    this.send({ type: 'PROBE_RELEASED', generation, at: now });
  }

  /** Milliseconds until a probe may be admitted; null while isolated. */
  retryAfterMs(now: number = this.clock.now()): number | null {
    if (this.state === 'isolated') return null;
    if (this.state !== 'open') return 0;
    const next = this.context.nextProbeAt;
    return next === null ? 0 : Math.max(0, Math.ceil(next - now));
  }

  /** The error for a rejected admission, without a stack trace (it is the hot path of an outage). */
  rejection(now: number): CircuitOpenError {
    const retryAfter = this.retryAfterMs(now);
    return withoutStack.circuitOpen(this.id, this.state, retryAfter);
  }

  /** A call admitted in `generation` succeeded after `durationMs` (timed at both ends). */
  recordSuccess(generation: number, durationMs: number, now: number): void {
    this.recordDuration(durationMs);
    const slowCallMs = this.policy.slowCallMs;
    if (slowCallMs !== undefined && durationMs > slowCallMs) {
      this.recordFailure(generation, `slow call: ${Math.round(durationMs)} ms > ${slowCallMs} ms`, now);
      return;
    }
    this.successes++;
    this.lastSuccess = now;
    this.window?.record(false, now);
    // Only a success that can change the machine's context is sent: a healthy call sends nothing.
    if (this.state === 'half_open' || (this.state === 'closed' && this.failureCount > 0)) {
      this.send({ type: 'SUCCESS', generation, at: now });
    }
  }

  /**
   * A call that was not timed succeeded (only calls `timesEveryCall` does not cover, sampled out:
   * see common/latencySampler.ts). The histogram counts it with its next sample.
   */
  recordUntimedSuccess(generation: number): void {
    this.successes++;
    if (this.histogram === undefined) this.histogram = new LatencyHistogram();
    this.histogram.skip();
    this.window?.record(false, 0); // a count-based window: a time-based one times every call
    if (this.state === 'half_open' || (this.state === 'closed' && this.failureCount > 0)) {
      this.send({ type: 'SUCCESS', generation, at: this.clock.now() });
    }
  }

  /**
   * A call admitted in `generation` failed, timed out (`timedOut`) or was slow. `durationMs` is
   * null for a call that was not timed.
   */
  recordFailure(generation: number, reason: string, now: number, durationMs?: number | null, timedOut = false): void {
    if (durationMs !== undefined) this.recordDuration(durationMs);
    this.failures++;
    if (timedOut) this.timeoutCount++;
    this.lastFailure = now;
    const window = this.window;
    window?.record(true, now);
    // Open and isolated circuits have nothing to learn from a result (it is from an older
    // generation); skip the actor rather than wake a virtual one.
    if (this.state === 'open' || this.state === 'isolated') return;
    this.send({
      type: 'FAILURE',
      generation,
      at: now,
      reason,
      ...(window ? { windowCalls: window.calls, windowFailures: window.failures } : {}),
      ...(this.host.ejectionAllowed && !this.host.ejectionAllowed(this) ? { ejectionAllowed: false } : {}),
    });
  }

  /** A call's duration for the histogram; null (not timed) counts with the next sample. */
  recordDuration(durationMs: number | null): void {
    if (this.histogram === undefined) this.histogram = new LatencyHistogram();
    if (durationMs === null) this.histogram.skip();
    else this.histogram.record(durationMs);
  }

  execute<T>(fn: (ctx: CallContext) => T | PromiseLike<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new BreakerboxError(`Circuit breaker ${this.id} is stopped`));
    if (typeof fn !== 'function') return Promise.reject(new ConfigError('fn', fn, 'a function')); // not the agent's failure
    // A closed circuit's call decides nothing by its time unless `timesEveryCall`: it is sampled.
    const timed = this.timesEveryCall || this.state !== 'closed' || sampleDue(this, this.starts);
    const startedAt = timed ? this.clock.now() : UNTIMED;
    const generation = this.admit(startedAt);
    // Not an `async` function: a rejection thrown there is one the caller has no handler for yet.
    if (generation === NOT_ADMITTED) return rejectLater(this.rejection(startedAt));
    return this.runAdmitted(fn, generation, startedAt);
  }

  private async runAdmitted<T>(
    fn: (ctx: CallContext) => T | PromiseLike<T>,
    generation: number,
    startedAt: number,
  ): Promise<T> {
    const clock = this.clock;
    this.callStarted();
    let value: T;
    try {
      value = await fn(new BreakerCallContext(this.id));
    } catch (error) {
      this.inFlightCount--;
      const now = clock.now();
      this.recordFailure(generation, describeReason(error), now, startedAt === UNTIMED ? null : now - startedAt);
      throw error;
    }
    this.inFlightCount--;
    if (startedAt === UNTIMED) this.recordUntimedSuccess(generation);
    else {
      const now = clock.now();
      this.recordSuccess(generation, now - startedAt, now);
    }
    return value;
  }

  getMetrics(): BreakerMetrics {
    const context = this.context;
    return {
      agentId: this.id,
      state: this.state,
      metrics: {
        failureCount: context.failureCount,
        successCount: this.successCount,
        totalRejections: this.totalRejections,
        lastFailureTime: isoTime(this.lastFailureAt),
        lastSuccessTime: isoTime(this.lastSuccessAt),
        totalFailures: this.totalFailures,
      },
      backoffSeconds: context.backoffMs / 1000,
    };
  }

  isolate(): void {
    this.send({ type: 'ISOLATE', at: this.clock.now() });
  }

  /** Another instance tripped this agent: open until `nextProbeAt`. */
  peerTripped(nextProbeAt: number): void {
    this.sendExternal({ type: 'PEER_TRIPPED', at: this.clock.now(), nextProbeAt });
  }

  /** Another instance's probes closed this agent. */
  peerClosed(): void {
    this.sendExternal({ type: 'PEER_CLOSED', at: this.clock.now() });
  }

  /** What a snapshot keeps of this breaker. */
  snapshot(): AgentSnapshot {
    const context = this.context;
    return {
      id: this.id,
      state: this.state,
      failureCount: context.failureCount,
      backoffMs: context.backoffMs,
      nextProbeAt: this.state === 'open' ? context.nextProbeAt : null,
      lastFailureAt: context.lastFailureAt,
      lastFailureReason: context.lastFailureReason,
      counters: {
        successCount: this.successCount,
        totalFailures: this.totalFailures,
        totalRejections: this.totalRejections,
        timeouts: this.timeouts,
        lastSuccessAt: this.lastSuccessAt,
      },
    };
  }

  /** Resumes from a snapshot entry (validated). A pristine breaker stays virtual. */
  restore(entry: AgentSnapshot): void {
    this.successes = entry.counters.successCount;
    this.failures = entry.counters.totalFailures;
    this.rejections = entry.counters.totalRejections;
    this.timeoutCount = entry.counters.timeouts;
    this.lastSuccess = entry.counters.lastSuccessAt;
    this.lastFailure = entry.lastFailureAt;
    const pristine =
      entry.state === 'closed' && entry.failureCount === 0 && entry.backoffMs === this.policy.backoff.initialMs;
    if (pristine) return;
    this.sendExternal({
      type: 'RESTORE',
      at: this.clock.now(),
      state: entry.state,
      failureCount: entry.failureCount,
      backoffMs: entry.backoffMs,
      nextProbeAt: entry.nextProbeAt,
      lastFailureAt: entry.lastFailureAt,
      lastFailureReason: entry.lastFailureReason,
    });
  }

  private sendExternal(event: BreakerEvent): void {
    this.external = true;
    try {
      this.send(event);
    } finally {
      this.external = false;
    }
  }

  reset(): void {
    this.send({ type: 'RESET', at: this.clock.now() });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.subscription?.unsubscribe();
    if (this.ref && 'stop' in this.ref) (this.ref as Actor<typeof circuitBreakerMachine>).stop();
    this.stateSubject?.complete();
  }

  /** Forgets the actor after its host stopped it (shard removal), keeping counters. */
  detach(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.stopped = true;
    this.stateSubject?.complete();
  }

  private send(event: BreakerEvent): void {
    if (this.stopped) return;
    this.activate().send(event);
  }

  private activate(): AnyActorRef {
    if (this.ref !== undefined) return this.ref;
    const ref = this.host.activate(this);
    this.ref = ref;
    this.subscription = ref.subscribe({
      next: (snapshot) => this.apply(snapshot as { value: BreakerState; context: BreakerContext }),
      error: (error) => this.host.onError?.(error, this),
    });
    this.apply(ref.getSnapshot());
    return ref;
  }

  /** Mirrors a new snapshot and reports a state change. */
  private apply(snapshot: { value: BreakerState; context: BreakerContext }): void {
    const { context } = snapshot;
    const from = this.state;
    const to = snapshot.value;
    // A new closed period (a close, or a RESET of a closed circuit) starts with an empty window.
    if (to === 'closed' && context.generation !== this.generation) this.window?.reset();
    this.generation = context.generation;
    this.failureCount = context.failureCount;
    if (from === to) return;
    this.state = to;
    if (from === 'open' && to === 'half_open') this.halfOpenCount++;
    this.stateSubject?.next(to);
    this.host.onTransition?.(
      { agentId: this.id, from, to, at: context.changedAt, reason: context.changeReason },
      this,
      this.external,
    );
  }
}

/** A breaker with its own actor, for use without a supervisor. */
const standaloneHost: BreakerHost = {
  activate(breaker) {
    const actor = createActor(localBreakerMachine, {
      input: { agentId: breaker.id, options: breaker.options, now: breaker.clock.now() },
      clock: breaker.clock,
      id: breaker.id,
    });
    // An unobserved actor error would be re-thrown from a timer and exit the process.
    actor.subscribe({ error: () => {} });
    actor.start();
    return actor;
  },
};

/** A standalone breaker has no `onError`: its clock's first bad reading goes to the console, once. */
function reportClockError(error: unknown): void {
  console.error('[breakerbox] contained error in clock:', error);
}

/**
 * Creates a standalone circuit breaker (like a cockatiel policy). Throws `ConfigError` for an
 * invalid option.
 *
 * @example
 * const breaker = createCircuitBreaker({ id: 'payments', failureThreshold: 5 });
 * const receipt = await breaker.execute(({ signal }) => fetch(url, { signal }));
 */
export function createCircuitBreaker(options: BreakerOptions = {}): CircuitBreaker {
  validateBreakerOptions(options);
  return new Breaker(
    options.id ?? 'breaker',
    options,
    resolveBreakerPolicy(options),
    guardedClock(options.clock ?? realClock, reportClockError),
    standaloneHost,
  );
}
