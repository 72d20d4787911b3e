/**
 * Every error Breakerbox raises is one of these classes, so callers can branch with `instanceof`
 * or on `code`. The rejections of an outage (an open circuit, every agent failed or open, a stopped
 * supervisor) are built without a stack trace — see `withoutStack` below.
 */
import type { BreakerState } from '../../machines/circuitBreaker.js';

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
    // The message is built when read (see below), like AllAgentsFailedError's.
    super();
  }
}

lazyMessage(CircuitOpenError, (error) =>
  error.state === 'isolated'
    ? `Circuit for ${error.agentId} is isolated`
    : `Circuit for ${error.agentId} is ${error.state === 'half_open' ? 'half-open with no probe permit left' : 'open'}${
        error.retryAfterMs === null ? '' : `; retry after ${error.retryAfterMs} ms`
      }`,
);

export type AttemptKind = 'failed' | 'timeout' | 'rejected';

export interface AttemptRecord {
  agentId: string;
  reason: string;
  kind: AttemptKind;
  /**
   * How long the attempt ran; 0 for a rejection. `null` for an attempt that was not timed: on the
   * default clock a healthy closed agent's call is timed by sampling unless `slowCallMs`, a
   * deadline or a time-based rate window needs its time (README, "Latency and the clock").
   */
  durationMs: number | null;
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

lazyMessage(AllAgentsFailedError, (error) =>
  error.attempts.length === 0
    ? `Task ${error.taskId}: no agent available`
    : `Task ${error.taskId}: all agents failed (${error.attempts
        .map((a) => `${a.agentId}: ${a.kind} - ${a.reason}`)
        .join('; ')})`,
);

/** The supervisor is stopping or stopped and takes no new tasks. */
export class SupervisorStoppedError extends BreakerboxError {
  declare readonly code: 'BREAKERBOX_STOPPED';
  constructor(
    readonly taskId: string,
    detail = 'the supervisor is stopped',
  ) {
    super(stoppedMessage(taskId, detail));
  }
}

function stoppedMessage(taskId: string, detail: string): string {
  return `Task ${taskId} rejected: ${detail}`;
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

/**
 * The errors an outage rejects tasks with, built without V8's Error constructor: a native
 * Error costs ~500 ns here even with `Error.stackTraceLimit = 0` (~5 µs with its stack; bench case
 * `reject-all-open`), and in an outage these rejections are the hot path. Such an error is `instanceof` its class and `Error`,
 * and has its `name`, `code`, `message`, fields, and a `stack` of one line (`Name: message`, what
 * a native error built under `stackTraceLimit = 0` has). What tells it apart:
 * `util.types.isNativeError()`, `Object.prototype.toString` (`[object Object]`) and
 * `structuredClone` (a plain object of its fields). The message is a prototype getter, so even an
 * error of these classes made with `new` arrives through `structuredClone` with an empty message.
 */
export const withoutStack = {
  allAgentsFailed(taskId: string, attempts: readonly AttemptRecord[]): AllAgentsFailedError {
    const error = Object.create(AllAgentsFailedError.prototype);
    error.taskId = taskId;
    error.attempts = attempts;
    return error;
  },
  circuitOpen(agentId: string, state: BreakerState, retryAfterMs: number | null): CircuitOpenError {
    const error = Object.create(CircuitOpenError.prototype);
    error.agentId = agentId;
    error.state = state;
    error.retryAfterMs = retryAfterMs;
    return error;
  },
  supervisorStopped(taskId: string, detail: string): SupervisorStoppedError {
    const error = Object.create(SupervisorStoppedError.prototype);
    error.taskId = taskId;
    defineHidden(error, 'message', stoppedMessage(taskId, detail));
    return error;
  },
};

/** A message built from the error's fields when first read; assigning one replaces it. */
function lazyMessage<E extends Error>(ErrorClass: abstract new (...args: never[]) => E, build: (error: E) => string) {
  Object.defineProperty(ErrorClass.prototype, 'message', {
    get(this: E) {
      return build(this);
    },
    set: ownValue('message'),
    configurable: true,
  });
}

/** A setter that turns the assigned value into an own property, as on a native error. */
function ownValue(key: string) {
  return function (this: object, value: unknown) {
    defineHidden(this, key, value);
  };
}

/** An own property that `Object.keys` and `JSON.stringify` skip, as a native error's `message`. */
function defineHidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true });
}

// A native error has its own `stack`, which hides this one; an error built `withoutStack` reads it.
Object.defineProperty(BreakerboxError.prototype, 'stack', {
  get(this: Error) {
    return `${this.name}: ${this.message}`;
  },
  set: ownValue('stack'),
  configurable: true,
});

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
