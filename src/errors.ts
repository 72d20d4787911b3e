/**
 * Every error Breakerbox raises is one of these classes, so callers can branch with `instanceof`
 * or on `code`. Errors on the hot path (an open circuit, nothing to route to) are built without a
 * stack trace: capturing one costs ~5 µs, more than the whole routed call.
 */
import type { BreakerState } from '../machines/circuitBreaker.js';

export class BreakerboxError extends Error {
  /** A stable code per class, e.g. `BREAKERBOX_CIRCUIT_OPEN`. */
  declare readonly code: string;
}

/** An option or argument is invalid; the message names the field and the value. */
export class ConfigError extends BreakerboxError {
  declare readonly code: 'BREAKERBOX_CONFIG';
  constructor(
    /** The option's path, e.g. `backoff.multiplier` or `agents[2].id`. */
    readonly field: string,
    /** The value given. */
    readonly value: unknown,
    /** What was expected, e.g. `a number ≥ 1`. */
    readonly expected: string,
  ) {
    super(`Invalid option ${field}: expected ${expected}, got ${showValue(value)}`);
  }
}

/** The circuit is open or isolated: the call was rejected without running. */
export class CircuitOpenError extends BreakerboxError {
  declare readonly code: 'BREAKERBOX_CIRCUIT_OPEN';
  constructor(
    readonly agentId: string,
    readonly state: BreakerState,
    /** Milliseconds until the next probe may be admitted; `null` while isolated. */
    readonly retryAfterMs: number | null,
  ) {
    super(
      state === 'isolated'
        ? `Circuit for ${agentId} is isolated`
        : `Circuit for ${agentId} is ${state === 'half_open' ? 'half-open with no probe permit left' : 'open'}${
            retryAfterMs === null ? '' : `; retry after ${retryAfterMs} ms`
          }`,
    );
  }
}

export type AttemptKind = 'failed' | 'timeout' | 'rejected';

export interface AttemptRecord {
  agentId: string;
  reason: string;
  kind: AttemptKind;
  durationMs: number;
}

/** Every attempt of a task failed, or no agent could take it. `attempts` says who and why. */
export class AllAgentsFailedError extends BreakerboxError {
  declare readonly code: 'BREAKERBOX_ALL_AGENTS_FAILED';
  constructor(
    readonly taskId: string,
    readonly attempts: readonly AttemptRecord[],
  ) {
    // The message is built when read (see below): an outage rejects many tasks nobody reads.
    super();
  }
}

Object.defineProperty(AllAgentsFailedError.prototype, 'message', {
  get(this: AllAgentsFailedError) {
    return this.attempts.length === 0
      ? `Task ${this.taskId}: no agent available`
      : `Task ${this.taskId}: all agents failed (${this.attempts
          .map((a) => `${a.agentId}: ${a.kind} - ${a.reason}`)
          .join('; ')})`;
  },
});

/** The supervisor is stopping or stopped and takes no new tasks. */
export class SupervisorStoppedError extends BreakerboxError {
  declare readonly code: 'BREAKERBOX_STOPPED';
  constructor(
    readonly taskId: string,
    detail = 'the supervisor is stopped',
  ) {
    super(`Task ${taskId} rejected: ${detail}`);
  }
}

/** The caller's `signal` aborted the task. */
export class TaskAbortedError extends BreakerboxError {
  declare readonly code: 'BREAKERBOX_ABORTED';
  constructor(
    readonly taskId: string,
    readonly reason: string,
  ) {
    super(`Task ${taskId} aborted: ${reason}`);
  }
}

/** An attempt ran past its deadline (`attemptTimeoutMs` / `timeoutMs`). */
export class AttemptTimeoutError extends BreakerboxError {
  declare readonly code: 'BREAKERBOX_TIMEOUT';
  constructor(
    readonly agentId: string,
    readonly timeoutMs: number,
  ) {
    super(`Agent ${agentId} timed out after ${timeoutMs} ms`);
  }
}

/** Builds an error without capturing a stack trace: for rejections on the hot path. */
export function withoutStack<T>(build: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return build();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

// Names and codes live on the prototypes: per-instance fields cost a define per error, and
// rejections of an outage are on the hot path.
for (const [ErrorClass, code] of [
  [BreakerboxError, 'BREAKERBOX_ERROR'],
  [ConfigError, 'BREAKERBOX_CONFIG'],
  [CircuitOpenError, 'BREAKERBOX_CIRCUIT_OPEN'],
  [AllAgentsFailedError, 'BREAKERBOX_ALL_AGENTS_FAILED'],
  [SupervisorStoppedError, 'BREAKERBOX_STOPPED'],
  [TaskAbortedError, 'BREAKERBOX_ABORTED'],
  [AttemptTimeoutError, 'BREAKERBOX_TIMEOUT'],
] as const) {
  Object.defineProperty(ErrorClass.prototype, 'name', { value: ErrorClass.name, writable: true, configurable: true });
  Object.defineProperty(ErrorClass.prototype, 'code', { value: code, configurable: true });
}
