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
} from '../../machines/circuitBreaker.js';
import { isoTime, realClock } from '../common/clock.js';
import { describeReason } from '../common/describeReason.js';
import { BreakerboxError, type CircuitOpenError, ConfigError, withoutStack } from '../common/errors.js';
import { rejectLater } from '../common/rejectLater.js';
import type { AgentSnapshot } from '../supervisor/snapshot.js';
import { AttemptContext, type CallContext } from '../task/callContext.js';
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
    /** Consecutive failures counted by the closed circuit (resets on success). */
    failureCount: number;
    successCount: number;
    totalRejections: number;
    /** ISO-8601 time of the last failure, or null. */
    lastFailureTime: string | null;
    lastSuccessTime: string | null;
    /** Every failure ever counted (beyond the seed: failed, timed out and slow calls). */
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

export class Breaker implements CircuitBreaker {
  state: BreakerState = INACTIVE_STATE;
  /** Mirrors of the machine's context that the call path reads. */
  generation = 0;
  failureCount = 0;

  successCount = 0;
  totalFailures = 0;
  totalRejections = 0;
  timeouts = 0;
  probes = 0;
  openToHalfOpen = 0;
  lastSuccessAt: number | null = null;
  lastFailureAt: number | null = null;
  /** Calls admitted and not yet settled. */
  inFlight = 0;

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
    this.window = policy.trip.kind === 'rate' ? new FailureWindow(policy.trip) : undefined;
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
   * (counted as a rejection). Closed: a read. Half-open: the machine hands out the probe permit.
   */
  admit(now: number): number {
    if (this.state === 'closed') return this.generation;
    if (this.state === 'half_open' && this.ref !== undefined) {
      const before = this.context.probesAdmitted;
      this.send({ type: 'PROBE', at: now });
      if (this.state === 'half_open' && this.context.probesAdmitted > before) {
        this.probes++;
        return this.generation;
      }
    }
    this.totalRejections++;
    return NOT_ADMITTED;
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

  /** A call admitted in `generation` succeeded after `durationMs`. */
  recordSuccess(generation: number, durationMs: number, now: number): void {
    this.recordDuration(durationMs);
    const slowCallMs = this.policy.slowCallMs;
    if (slowCallMs !== undefined && durationMs > slowCallMs) {
      this.recordFailure(generation, `slow call: ${Math.round(durationMs)} ms > ${slowCallMs} ms`, now);
      return;
    }
    this.successCount++;
    this.lastSuccessAt = now;
    this.window?.record(false, now);
    // Only a success that can change the machine's context is sent: a healthy call sends nothing.
    if (this.state === 'half_open' || (this.state === 'closed' && this.failureCount > 0)) {
      this.send({ type: 'SUCCESS', generation, at: now });
    }
  }

  /** A call admitted in `generation` failed (or timed out, or was slow). */
  recordFailure(generation: number, reason: string, now: number, durationMs?: number): void {
    if (durationMs !== undefined) this.recordDuration(durationMs);
    this.totalFailures++;
    this.lastFailureAt = now;
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

  recordDuration(durationMs: number): void {
    if (this.histogram === undefined) this.histogram = new LatencyHistogram();
    this.histogram.record(durationMs);
  }

  execute<T>(fn: (ctx: CallContext) => T | PromiseLike<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new BreakerboxError(`Circuit breaker ${this.id} is stopped`));
    if (typeof fn !== 'function') return Promise.reject(new ConfigError('fn', fn, 'a function')); // not the agent's failure
    const startedAt = this.clock.now();
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
    this.inFlight++;
    let value: T;
    try {
      value = await fn(new AttemptContext(1, this.id, '', 0));
    } catch (error) {
      this.inFlight--;
      const now = clock.now();
      this.recordFailure(generation, describeReason(error), now, now - startedAt);
      throw error;
    }
    this.inFlight--;
    const now = clock.now();
    this.recordSuccess(generation, now - startedAt, now);
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
    this.successCount = entry.counters.successCount;
    this.totalFailures = entry.counters.totalFailures;
    this.totalRejections = entry.counters.totalRejections;
    this.timeouts = entry.counters.timeouts;
    this.lastSuccessAt = entry.counters.lastSuccessAt;
    this.lastFailureAt = entry.lastFailureAt;
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
    if (from === 'open' && to === 'half_open') this.openToHalfOpen++;
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
    options.clock ?? realClock,
    standaloneHost,
  );
}
