/**
 * The Lua scripts the adapter runs: each a single atomic step on Redis, so a trip, a close or a
 * lease is never seen half done by another instance. Numbers arrive as integer strings.
 *
 * Keys of a namespace `ns`:
 * - `ns:open` — hash agentId → nextProbeAt of every circuit open cluster-wide (late joiners read it)
 * - `ns:trips:<agent>` — sorted set instanceId → time of its latest trip (the quorum)
 * - `ns:lease:<agent>` — who may probe the current half-open window: `<instance>:<generation>`, or
 *   a tombstone `#open:<nextProbeAt>` (nobody probes before then) / `#closed:<at>` (closed at `at`)
 * - channel `ns:events` — trip and close messages
 */

/**
 * A local trip. Below the quorum it is only counted (and stays local); at the quorum, or when the
 * agent is already open cluster-wide, it is recorded in the open set, the lease key gets an
 * `#open:` tombstone (an instance whose half-open window started late cannot take a lease before
 * the next window), and it is published. Returns 1 when it went cluster-wide.
 *
 * KEYS: open hash, trips zset, lease key.
 * ARGV: agentId, instanceId, at, nextProbeAt, quorum, quorumWindowMs, openTtlMs, leaseMs, channel, message.
 */
export const TRIP_SCRIPT = `
local at = tonumber(ARGV[3])
local nextProbeAt = tonumber(ARGV[4])
local quorum = tonumber(ARGV[5])
local openTtl = tonumber(ARGV[7])
local cluster = quorum <= 1
if not cluster then
  redis.call('ZADD', KEYS[2], at, ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (at - tonumber(ARGV[6])))
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
  local current = redis.call('HGET', KEYS[1], ARGV[1])
  if current and tonumber(current) + openTtl > at then
    cluster = true
  elseif redis.call('ZCARD', KEYS[2]) >= quorum then
    cluster = true
  end
end
if not cluster then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
local ttl = math.max(0, nextProbeAt - at) + openTtl
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
redis.call('SET', KEYS[3], '#open:' .. ARGV[4], 'PX', math.max(0, nextProbeAt - at) + tonumber(ARGV[8]))
redis.call('PUBLISH', ARGV[9], ARGV[10])
return 1
`;

/**
 * A local close (its probes succeeded). Removes the agent from the open set and its quorum count;
 * when it was open cluster-wide (or without a quorum) the lease key gets a `#closed:` tombstone
 * (a late half-open window elsewhere does not probe a closed agent) and the close is published.
 *
 * KEYS: open hash, trips zset, lease key.
 * ARGV: agentId, at, quorum, leaseMs, channel, message.
 */
export const CLOSE_SCRIPT = `
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if removed == 1 or tonumber(ARGV[3]) <= 1 then
  redis.call('SET', KEYS[3], '#closed:' .. ARGV[2], 'PX', ARGV[4])
  redis.call('PUBLISH', ARGV[5], ARGV[6])
  return 1
end
return 0
`;

/**
 * The probe lease: `SET key value NX PX leaseMs`, except that this instance's own older lease
 * (a release lost to an outage) is taken over, an `#open:` tombstone yields once its window has
 * come, and a `#closed:` tombstone yields to a trip newer than that close. Returns 1 if granted.
 *
 * KEYS: lease key. ARGV: value, leaseMs, own prefix (`<instance>:`), now, since (latest trip known here).
 */
export const LEASE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
local grant = false
if not v then
  grant = true
elseif string.sub(v, 1, #ARGV[3]) == ARGV[3] then
  grant = true
elseif string.sub(v, 1, 6) == '#open:' then
  grant = tonumber(string.sub(v, 7)) <= tonumber(ARGV[4])
elseif string.sub(v, 1, 8) == '#closed:' then
  grant = tonumber(string.sub(v, 9)) < tonumber(ARGV[5])
end
if grant then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;

/** Compare-and-delete: releases the lease only if this window still holds it. KEYS: lease key. ARGV: value. */
export const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
