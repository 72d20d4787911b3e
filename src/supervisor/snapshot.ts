/**
 * `supervisor.snapshot()` and `createSupervisor({ restore })`: breaker state that survives a
 * restart. A snapshot is plain JSON. Restoring validates the whole snapshot before touching any
 * breaker, so a malformed or foreign one is refused with a `ConfigError`, never half-applied.
 */
import { BREAKER_STATES, type BreakerResume } from '../../machines/circuitBreaker.js';
import { MAX_TIME_MS } from '../common/clock.js';
import { ConfigError } from '../common/errors.js';
import { checkId, checkNumber, checkOneOf, checkPlainObject } from '../common/validate.js';

export const SNAPSHOT_FORMAT = 'breakerbox/supervisor-snapshot';
export const SNAPSHOT_VERSION = 1;

/**
 * One agent's breaker: its state and the machine context's record (`failureCount`, `backoffMs`
 * before jitter, `nextProbeAt` — null unless open —, the last failure), and the runtime counters.
 */
export interface AgentSnapshot extends BreakerResume {
  id: string;
  counters: {
    successCount: number;
    totalFailures: number;
    totalRejections: number;
    timeouts: number;
    lastSuccessAt: number | null;
  };
}

export interface SupervisorSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: typeof SNAPSHOT_VERSION;
  /** The clock's time when it was taken. */
  takenAt: number;
  agents: AgentSnapshot[];
}

/** Throws `ConfigError` (field `restore…`) for anything that is not a current snapshot. */
export function validateSnapshot(value: unknown): asserts value is SupervisorSnapshot {
  checkPlainObject(value, 'restore');
  if (value.format !== SNAPSHOT_FORMAT) {
    throw new ConfigError('restore.format', value.format, `'${SNAPSHOT_FORMAT}' (from supervisor.snapshot())`);
  }
  if (value.version !== SNAPSHOT_VERSION) {
    throw new ConfigError('restore.version', value.version, `${SNAPSHOT_VERSION} (a snapshot of this version)`);
  }
  checkTime(value.takenAt, 'restore.takenAt');
  if (!Array.isArray(value.agents)) throw new ConfigError('restore.agents', value.agents, 'an array');
  const seen = new Set<string>();
  // An index loop: forEach and for…of would skip or misread the holes of a sparse array.
  for (let i = 0; i < value.agents.length; i++) {
    const agent: unknown = value.agents[i];
    const at = `restore.agents[${i}]`;
    checkPlainObject(agent, at);
    checkId(agent.id, `${at}.id`);
    if (seen.has(agent.id)) throw new ConfigError(`${at}.id`, agent.id, 'an id listed once');
    seen.add(agent.id);
    checkOneOf(agent.state, `${at}.state`, BREAKER_STATES);
    checkNumber(agent.failureCount, `${at}.failureCount`, { min: 0, integer: true });
    checkNumber(agent.backoffMs, `${at}.backoffMs`, { min: 0 });
    nullableTime(agent.nextProbeAt, `${at}.nextProbeAt`);
    if (agent.state === 'open' && agent.nextProbeAt === null) {
      throw new ConfigError(`${at}.nextProbeAt`, null, 'a time for an open circuit');
    }
    nullableTime(agent.lastFailureAt, `${at}.lastFailureAt`);
    if (agent.lastFailureReason !== null && typeof agent.lastFailureReason !== 'string') {
      throw new ConfigError(`${at}.lastFailureReason`, agent.lastFailureReason, 'a string or null');
    }
    checkPlainObject(agent.counters, `${at}.counters`);
    for (const key of ['successCount', 'totalFailures', 'totalRejections', 'timeouts'] as const) {
      checkNumber(agent.counters[key], `${at}.counters.${key}`, { min: 0, integer: true });
    }
    nullableTime(agent.counters.lastSuccessAt, `${at}.counters.lastSuccessAt`);
  }
}

/**
 * A clock time: a number `Date` can represent (±8.64e15 ms). A finite time beyond it would be
 * accepted by a finite-number check and then make every ISO rendering of it throw.
 */
function checkTime(value: unknown, field: string): void {
  checkNumber(value, field, { min: -MAX_TIME_MS, max: MAX_TIME_MS });
}

function nullableTime(value: unknown, field: string): void {
  if (value !== null) checkTime(value, field);
}
