/**
 * `breakerbox/redis`: breaker state shared between supervisor instances through Redis (ioredis).
 *
 * ```ts
 * import Redis from 'ioredis';
 * import { createSupervisor } from 'breakerbox';
 * import { createRedisSync } from 'breakerbox/redis';
 *
 * const supervisor = createSupervisor({ agents, sync: createRedisSync({ redis: new Redis(), namespace: 'orders' }) });
 * ```
 */
export type { RedisClient } from './client.js';
export type { SyncMessage } from './messages.js';
export type { RedisSyncOptions } from './options.js';
export { REDIS_SYNC_DEFAULTS } from './options.js';
export type { RedisBreakerSync } from './redisSync.js';
export { createRedisSync } from './redisSync.js';
