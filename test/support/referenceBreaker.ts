/**
 * A small reference model of one circuit breaker, written from the original design's description (docs/architecture.md) and the
 * README (not from the statechart): plain fields, plain methods, explicit time. The differential
 * test runs it side by side with `createCircuitBreaker` and compares everything a user can see.
 *
 * The original design: closed counts consecutive failures and opens at the threshold; open rejects every call
 * until its backoff (1 s, ×1.5 after each failed recovery, capped) has elapsed; half-open admits a
 * few probe calls, all must succeed to close (which resets the backoff), one failure reopens.
 * Breakerbox adds: generations (a result of a call admitted before the last state change changes
 * nothing but the counters), a half-open window that times out (a stuck probe reopens, an idle window
 * restarts), a rate trip policy over the last calls, slow calls counted as failures, isolate/reset.
 * Shared state (issue 8): another instance's trip opens a closed or half-open circuit until the time
 * that instance probes (its backoff level unchanged here); another instance's close closes an open
 * or half-open one afresh. An isolated circuit ignores both.
 * Probe permits: a call that asks for one names the period it saw (a request queued behind a change
 * of state gets no permit of the next window), and a probe that ended with no verdict (the caller's
 * error, an abort, a stop) gives its permit back to its window, so the next call can probe at once.
 */

export type RefState = 'closed' | 'open' | 'half_open' | 'isolated';

export interface RefConfig {
  trip: { kind: 'consecutive'; threshold: number } | { kind: 'rate'; size: number; minimumCalls: number; rate: number };
  halfOpenMaxCalls: number;
  halfOpenTimeoutMs: number;
  initialMs: number;
  multiplier: number;
  maxMs: number;
  slowCallMs?: number;
}

export type Admission =
  | { admitted: true; ticket: number }
  | { admitted: false; state: RefState; retryAfterMs: number | null };

export class ReferenceBreaker {
  state: RefState = 'closed';
  /** Which period of the breaker a call was admitted in; a new one starts on every change. */
  private period = 0;
  private consecutiveFailures = 0;
  private backoffMs: number;
  private openUntil = 0;
  private windowStartedAt = 0;
  /** The half-open window's permits handed out, and its probes that succeeded (tests break these on purpose). */
  protected permits = 0;
  protected probeSuccesses = 0;
  /** The last outcomes since the circuit last closed (true = failed), for the rate policy. */
  private outcomes: boolean[] = [];

  successCount = 0;
  totalFailures = 0;
  totalRejections = 0;
  lastSuccessAt: number | null = null;
  lastFailureAt: number | null = null;

  constructor(private readonly config: RefConfig) {
    this.backoffMs = config.initialMs;
  }

  /** The ticket a call admitted now would carry. */
  get currentTicket(): number {
    return this.period;
  }

  /** The half-open window's permits handed out and the probes of it that succeeded. */
  get probes(): { admitted: number; succeeded: number } {
    return { admitted: this.permits, succeeded: this.probeSuccesses };
  }

  /**
   * A call asks to run at `now`, having seen the breaker in period `seen` (by default the current
   * one). A half-open window gives a permit only to a call that saw it.
   */
  admit(now: number, seen: number = this.period): Admission {
    if (this.state === 'closed') return { admitted: true, ticket: this.period };
    if (this.state === 'half_open' && seen === this.period && this.permits < this.config.halfOpenMaxCalls) {
      this.permits++;
      return { admitted: true, ticket: this.period };
    }
    this.totalRejections++;
    if (this.state === 'isolated') return { admitted: false, state: 'isolated', retryAfterMs: null };
    if (this.state === 'half_open') return { admitted: false, state: 'half_open', retryAfterMs: 0 };
    return { admitted: false, state: 'open', retryAfterMs: Math.max(0, Math.ceil(this.openUntil - now)) };
  }

  /** The call admitted with `ticket` at `startedAt` finished at `now`. */
  settle(ticket: number, succeeded: boolean, startedAt: number, now: number): void {
    const slow = this.config.slowCallMs !== undefined && now - startedAt > this.config.slowCallMs;
    const failed = !succeeded || slow;
    this.outcomes.push(failed);
    if (failed) {
      this.totalFailures++;
      this.lastFailureAt = now;
    } else {
      this.successCount++;
      this.lastSuccessAt = now;
    }
    // A result from before the last change of state is history: counted above, nothing more.
    if (ticket !== this.period) return;
    if (this.state === 'closed') {
      if (!failed) {
        this.consecutiveFailures = 0;
        return;
      }
      this.consecutiveFailures++;
      if (this.tripPolicySaysOpen()) this.open(now);
    } else if (this.state === 'half_open') {
      if (failed) {
        // A failed probe reopens; the closed period's count stays as it was (failure_count).
        this.backoffMs = Math.min(this.backoffMs * this.config.multiplier, this.config.maxMs);
        this.open(now);
      } else if (++this.probeSuccesses === this.config.halfOpenMaxCalls) {
        this.close();
      }
    }
  }

  /**
   * The call admitted with `ticket` ended with no verdict: neither a success nor a failure, so no
   * counter moves. A probe of the current window gives its permit back, if it still holds one (a
   * probe that succeeded keeps it); anything else changes nothing.
   */
  release(ticket: number): void {
    if (this.state === 'half_open' && ticket === this.period && this.permits > this.probeSuccesses) this.permits--;
  }

  /** The next moment the breaker changes by itself, or null. */
  nextDeadline(): number | null {
    if (this.state === 'open') return this.openUntil;
    if (this.state === 'half_open') return this.windowStartedAt + this.config.halfOpenTimeoutMs;
    return null;
  }

  /** Time reached `now`, a deadline. */
  elapse(now: number): void {
    if (this.state === 'open' && now >= this.openUntil) {
      this.state = 'half_open';
      this.period++;
      this.windowStartedAt = this.openUntil;
      this.permits = 0;
      this.probeSuccesses = 0;
    } else if (this.state === 'half_open' && now >= this.windowStartedAt + this.config.halfOpenTimeoutMs) {
      const end = this.windowStartedAt + this.config.halfOpenTimeoutMs;
      if (this.permits > this.probeSuccesses) {
        // A probe is stuck: it counts as a failed recovery.
        this.backoffMs = Math.min(this.backoffMs * this.config.multiplier, this.config.maxMs);
        this.open(end);
      } else {
        this.period++;
        this.windowStartedAt = end;
        this.permits = 0;
        this.probeSuccesses = 0;
      }
    }
  }

  isolate(): void {
    if (this.state === 'isolated') return;
    this.state = 'isolated';
    this.period++;
    this.permits = 0;
    this.probeSuccesses = 0;
  }

  reset(): void {
    this.close();
  }

  /**
   * Resumes at `now` from a snapshot of an earlier run (the breaker has not moved yet): the recorded
   * state, failure count and backoff level; an open circuit stays open until the recorded time, a
   * half-open window starts afresh now.
   */
  restore(
    now: number,
    snapshot: { state: RefState; failureCount: number; backoffMs: number; nextProbeAt: number | null },
  ): void {
    this.state = snapshot.state;
    this.period++;
    this.consecutiveFailures = snapshot.failureCount;
    // A backoff from outside is kept within [initialMs, maxMs]; so is the time it stays open.
    this.backoffMs = Math.min(Math.max(snapshot.backoffMs, this.config.initialMs), this.config.maxMs);
    this.openUntil = Math.min(Math.max(now, snapshot.nextProbeAt ?? now), now + this.config.maxMs);
    this.windowStartedAt = now;
    this.permits = 0;
    this.probeSuccesses = 0;
  }

  /**
   * Another instance tripped the circuit at `now`: open until `nextProbeAt`, not before `now` and
   * not longer than the longest backoff.
   */
  peerTripped(now: number, nextProbeAt: number): void {
    if (this.state !== 'closed' && this.state !== 'half_open') return;
    this.state = 'open';
    this.period++;
    this.openUntil = Math.min(Math.max(now, nextProbeAt), now + this.config.maxMs);
    this.permits = 0;
    this.probeSuccesses = 0;
  }

  /** Another instance's probes closed the circuit. */
  peerClosed(): void {
    if (this.state === 'open' || this.state === 'half_open') this.close();
  }

  private isoCache = new Map<number, string>();

  metrics() {
    const iso = (ms: number | null) => {
      if (ms === null) return null;
      let text = this.isoCache.get(ms);
      if (text === undefined) {
        text = new Date(ms).toISOString();
        this.isoCache.set(ms, text);
      }
      return text;
    };
    return {
      state: this.state,
      metrics: {
        failureCount: this.consecutiveFailures,
        successCount: this.successCount,
        totalRejections: this.totalRejections,
        lastFailureTime: iso(this.lastFailureAt),
        lastSuccessTime: iso(this.lastSuccessAt),
        totalFailures: this.totalFailures,
      },
      backoffSeconds: this.backoffMs / 1000,
    };
  }

  private tripPolicySaysOpen(): boolean {
    const trip = this.config.trip;
    if (trip.kind === 'consecutive') return this.consecutiveFailures >= trip.threshold;
    const last = this.outcomes.slice(-trip.size);
    const failures = last.filter(Boolean).length;
    return last.length >= trip.minimumCalls && failures / last.length >= trip.rate;
  }

  private open(now: number): void {
    this.state = 'open';
    this.period++;
    this.openUntil = now + this.backoffMs;
    this.permits = 0;
    this.probeSuccesses = 0;
  }

  /** A fresh closed circuit: no failures, the first backoff, an empty window. */
  private close(): void {
    this.state = 'closed';
    this.period++;
    this.consecutiveFailures = 0;
    this.backoffMs = this.config.initialMs;
    this.permits = 0;
    this.probeSuccesses = 0;
    this.outcomes = [];
  }
}
