/**
 * The breaker's options: one object for the machine's input, `createCircuitBreaker` and the
 * supervisor's `breaker` defaults. Pure data and pure functions only, so the Stately editor and the
 * model checker can import it. Validation with typed errors lives in `src/breaker/validateBreakerOptions.ts`.
 */

/** How a closed circuit decides to trip. */
export type TripPolicy = ConsecutiveTripPolicy | RateTripPolicy;

/**
 * Trip after `threshold` failures in a row (the original design's `failure_threshold`; its defaults:
 * docs/architecture.md).
 */
export interface ConsecutiveTripPolicy {
  kind: 'consecutive';
  threshold: number;
}

/**
 * Trip when, over the last `size` calls (`window: 'count'`) or the last `size` milliseconds
 * (`window: 'time'`), at least `minimumCalls` were made and the share that failed is at least
 * `failureRate` (0..1). resilience4j's sliding-window breaker.
 */
export interface RateTripPolicy {
  kind: 'rate';
  window: 'count' | 'time';
  size: number;
  minimumCalls: number;
  failureRate: number;
}

export type JitterMode = 'none' | 'full' | 'equal' | 'decorrelated';

export interface BackoffOptions {
  /** First open period (the original design's `recovery_timeout`). Default 1000. */
  initialMs?: number;
  /** Growth after each failed recovery (the original design's `backoff_multiplier`). Default 1.5, at least 1. */
  multiplier?: number;
  /** Cap of the open period. Default 60000. */
  maxMs?: number;
  /** Spread of the open period, to keep many agents from probing at once. Default 'none'. */
  jitter?: JitterMode;
}

/** A clock: XState's `SimulatedClock` fits, and so does the real one (`realClock`). */
export interface Clock {
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  now(): number;
}

export interface BreakerOptions {
  /** The agent's id; names the breaker in errors, metrics and the inspector. */
  id?: string;
  /** Consecutive failures that trip a closed circuit. Default 5. */
  failureThreshold?: number;
  /** Trip policy; overrides `failureThreshold` when given. */
  trip?: TripPolicy;
  /** Probe calls a half-open circuit admits; all must succeed to close. Default 3. */
  halfOpenMaxCalls?: number;
  /**
   * How long a half-open window may last. When it ends with a probe still outstanding, that probe
   * counts as failed and the circuit reopens (a stuck probe cannot wedge the breaker); when no probe
   * is outstanding the window restarts. Default 30000.
   */
  halfOpenTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** A call slower than this counts as a failure (its result is still returned). Default off. */
  slowCallMs?: number;
  /** Seed of the jitter's pseudo-random sequence, so runs can be repeated. Default 1. */
  jitterSeed?: number;
  /**
   * The clock for the actor's timers and every timestamp. Default: real time. A reading of `now()`
   * that is not a time `Date` can represent (NaN, ±Infinity, beyond ±8.64e15 ms, not a number) or a
   * throw is replaced by the last good reading (0 before the first): time stands still until the
   * clock reads well again (calls last 0 ms, no deadline passes, no window slides; the clock's own
   * timers still fire), and every timestamp stays printable. The first bad reading is reported once
   * (a supervisor's `onError(error, 'clock')`; the console for a standalone breaker).
   */
  clock?: Clock;
}

/** Options with every default filled in: what guards and delays read. */
export interface BreakerPolicy {
  trip: TripPolicy;
  halfOpenMaxCalls: number;
  halfOpenTimeoutMs: number;
  backoff: Required<BackoffOptions>;
  slowCallMs: number | undefined;
  jitterSeed: number;
}

export const BREAKER_DEFAULTS = {
  failureThreshold: 5,
  halfOpenMaxCalls: 3,
  halfOpenTimeoutMs: 30_000,
  backoff: { initialMs: 1000, multiplier: 1.5, maxMs: 60_000, jitter: 'none' },
  jitterSeed: 1,
} as const;

/** Fills in defaults. Assumes the options were validated (see `src/breaker/validateBreakerOptions.ts`). */
export function resolveBreakerPolicy(options: BreakerOptions = {}): BreakerPolicy {
  const d = BREAKER_DEFAULTS;
  return {
    trip: options.trip ?? {
      kind: 'consecutive',
      threshold: options.failureThreshold ?? d.failureThreshold,
    },
    halfOpenMaxCalls: options.halfOpenMaxCalls ?? d.halfOpenMaxCalls,
    halfOpenTimeoutMs: options.halfOpenTimeoutMs ?? d.halfOpenTimeoutMs,
    backoff: {
      initialMs: options.backoff?.initialMs ?? d.backoff.initialMs,
      multiplier: options.backoff?.multiplier ?? d.backoff.multiplier,
      maxMs: options.backoff?.maxMs ?? d.backoff.maxMs,
      jitter: options.backoff?.jitter ?? d.backoff.jitter,
    },
    slowCallMs: options.slowCallMs,
    jitterSeed: options.jitterSeed ?? d.jitterSeed,
  };
}
