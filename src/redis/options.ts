/** `createRedisSync`'s options, their defaults and their validation (`ConfigError` naming the field). */
import { hostname } from 'node:os';
import { ConfigError } from '../common/errors.js';
import { checkFunction, checkId, checkKnownKeys, checkNumber, checkPlainObject, optional } from '../common/validate.js';
import type { RedisClient } from './client.js';

export interface RedisSyncOptions {
  /**
   * Your ioredis client. The adapter issues its commands on it (only while its `status` is
   * `'ready'`) and opens one more connection with `redis.duplicate()` for pub/sub.
   */
  redis: RedisClient;
  /** Prefix of every key and of the channel: instances with the same namespace share breaker state. */
  namespace: string;
  /**
   * Distinct instances that must see an agent trip within `quorumWindowMs` before it opens
   * cluster-wide; below it a trip stays local. Default 1 (every trip is shared).
   */
  quorum?: number;
  /** The window in which trips count toward the quorum. Default 60000. */
  quorumWindowMs?: number;
  /**
   * How long a probe lease lives if its holder never releases it (it crashed). Keep it below the
   * breaker's `halfOpenTimeoutMs` (default 30000), when the others try again. Default 10000.
   */
  leaseMs?: number;
  /**
   * The longest any Redis command may take before the adapter gives up on it and decides alone
   * (a lease is then granted locally). Default 200.
   */
  commandTimeoutMs?: number;
  /**
   * How long past its `nextProbeAt` an entry of the open set is still trusted by a reader (entries
   * left by a cluster that went away are ignored after it). Default 600000.
   */
  openTtlMs?: number;
  /**
   * How far ahead of this instance's clock a peer's time may be (hosts' clocks disagree a little).
   * A message claiming a later trip or close time is clamped to `now + maxClockSkewMs`, and a
   * `nextProbeAt` (a message's or an open-set entry's) to `now + maxClockSkewMs + openTtlMs`: a
   * forged or corrupt time cannot push this instance's bookkeeping out of reach. The first clamp is
   * reported (`where: 'redis message'`). Default 60000.
   */
  maxClockSkewMs?: number;
  /**
   * This instance's name in leases and messages: at most 200 characters, no `:`, not starting with
   * `#`. Default `<hostname>/<pid>/<random>`.
   */
  instanceId?: string;
  /**
   * The clock whose `now()` matches the supervisor's timestamps (`nextProbeAt`). Default
   * `Date.now` — the supervisor's default clock.
   */
  clock?: { now(): number };
}

export interface ResolvedRedisSyncOptions {
  redis: RedisClient;
  namespace: string;
  quorum: number;
  quorumWindowMs: number;
  leaseMs: number;
  commandTimeoutMs: number;
  openTtlMs: number;
  maxClockSkewMs: number;
  instanceId: string;
  now: () => number;
}

export const REDIS_SYNC_DEFAULTS = {
  quorum: 1,
  quorumWindowMs: 60_000,
  leaseMs: 10_000,
  commandTimeoutMs: 200,
  openTtlMs: 600_000,
  maxClockSkewMs: 60_000,
} as const;

const KEYS = [
  'redis',
  'namespace',
  'quorum',
  'quorumWindowMs',
  'leaseMs',
  'commandTimeoutMs',
  'openTtlMs',
  'maxClockSkewMs',
  'instanceId',
  'clock',
] as const;

export function resolveRedisSyncOptions(options: unknown): ResolvedRedisSyncOptions {
  checkPlainObject(options, 'options');
  checkKnownKeys(options, '', KEYS);
  const redis = options.redis as Partial<RedisClient> | undefined;
  if (typeof redis !== 'object' || redis === null) throw new ConfigError('redis', redis, 'an ioredis client');
  // Every method the adapter calls, `connect`, `quit` and `disconnect` included.
  for (const method of [
    'duplicate',
    'connect',
    'eval',
    'hgetall',
    'subscribe',
    'quit',
    'disconnect',
    'on',
    'off',
  ] as const) {
    if (typeof redis[method] !== 'function') {
      throw new ConfigError(`redis.${method}`, redis[method], 'a function (pass an ioredis client)');
    }
  }
  if (typeof options.namespace !== 'string' || options.namespace.length === 0 || /\s/.test(options.namespace)) {
    throw new ConfigError('namespace', options.namespace, 'a non-empty string without spaces');
  }
  optional(options.quorum, (v) => checkNumber(v, 'quorum', { min: 1, max: 1000, integer: true }));
  optional(options.quorumWindowMs, (v) => checkNumber(v, 'quorumWindowMs', { min: 1, integer: true }));
  optional(options.leaseMs, (v) => checkNumber(v, 'leaseMs', { min: 1, integer: true }));
  optional(options.commandTimeoutMs, (v) => checkNumber(v, 'commandTimeoutMs', { min: 1, max: 60_000 }));
  optional(options.openTtlMs, (v) => checkNumber(v, 'openTtlMs', { min: 1, integer: true }));
  optional(options.maxClockSkewMs, (v) => checkNumber(v, 'maxClockSkewMs', { min: 0, integer: true }));
  optional(options.instanceId, (v) => {
    checkId(v, 'instanceId');
    // A lease is held as `<instance>:<generation>`, and an instance may take back a lease that
    // starts with its own `<instance>:` (LEASE_SCRIPT): instance `web` would take `web:1`'s.
    // Keys starting with '#' are the open and closed markers.
    if (v.includes(':') || v.startsWith('#')) {
      throw new ConfigError('instanceId', v, "an id without ':' that does not start with '#'");
    }
  });
  optional(options.clock, (clock) => {
    checkPlainObject(clock, 'clock');
    checkFunction(clock.now, 'clock.now');
  });
  const clock = options.clock as { now(): number } | undefined;
  const d = REDIS_SYNC_DEFAULTS;
  return {
    redis: redis as RedisClient,
    namespace: options.namespace,
    quorum: (options.quorum as number | undefined) ?? d.quorum,
    quorumWindowMs: (options.quorumWindowMs as number | undefined) ?? d.quorumWindowMs,
    leaseMs: (options.leaseMs as number | undefined) ?? d.leaseMs,
    commandTimeoutMs: (options.commandTimeoutMs as number | undefined) ?? d.commandTimeoutMs,
    openTtlMs: (options.openTtlMs as number | undefined) ?? d.openTtlMs,
    maxClockSkewMs: (options.maxClockSkewMs as number | undefined) ?? d.maxClockSkewMs,
    instanceId:
      (options.instanceId as string | undefined) ??
      `${hostname()}/${process.pid}/${Math.random().toString(36).slice(2, 8)}`,
    now: clock ? () => clock.now() : Date.now,
  };
}
