/**
 * One supervisor instance of the Redis tests, run as its own Node process (`child_process.fork`).
 * It imports the BUILT package by name (`breakerbox`, `breakerbox/redis`: the shape users install)
 * and is driven over IPC by test/support/redisCluster.ts. Timestamps are
 * the machine's monotonic clock (`process.hrtime`): sub-millisecond and comparable across processes.
 *
 * Agents: every id in `agents` runs a task that fails while the agent is marked unhealthy (all
 * start healthy) and counts its calls; `backup` always succeeds and is last in priority.
 */
import { performance } from 'node:perf_hooks';
import { createSupervisor } from 'breakerbox';
import { createRedisSync } from 'breakerbox/redis';
import { Redis } from 'ioredis';

// The machine's monotonic clock, shared by every process (see hrNow in redisCluster.ts).
const hrNow = () => Number(process.hrtime.bigint()) / 1e6;
const send = (message) => process.send?.(message);

let supervisor;
let redis;
const unhealthy = new Set();
const calls = new Map();

function agentSpec(id, breaker) {
  return {
    id,
    ...(breaker ? { breaker } : {}),
    run: async () => {
      calls.set(id, (calls.get(id) ?? 0) + 1);
      if (unhealthy.has(id)) throw new Error(`${id} is down`);
      return id;
    },
  };
}

async function init(options) {
  // A user's client with its defaults except a short, steady reconnect delay (ioredis' default grows
  // to 2 s); its errors are the user's to log, and here they would only be noise.
  redis = new Redis(options.url, { retryStrategy: () => options.reconnectMs ?? 100 });
  redis.on('error', () => {});
  const sync = createRedisSync({
    redis,
    namespace: options.namespace,
    instanceId: options.instanceId,
    ...(options.quorum !== undefined ? { quorum: options.quorum, quorumWindowMs: options.quorumWindowMs } : {}),
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
  });
  supervisor = createSupervisor({
    agents: [
      ...options.agents.map((id) => agentSpec(id, options.breakers?.[id])),
      { ...agentSpec('backup'), priority: 1_000_000 },
    ],
    breaker: options.breaker ?? {},
    sync,
    ...(options.restore ? { restore: options.restore } : {}),
    onError: (error, where) =>
      send({ ev: 'error', where, message: error instanceof Error ? error.message : String(error) }),
  });
  supervisor.transitions$.subscribe((t) =>
    send({ ev: 'transition', agentId: t.agentId, from: t.from, to: t.to, reason: t.reason, hr: hrNow() }),
  );
  // A new instance starts from the cluster's knowledge: subscribed, open set read.
  const synced = await sync.whenSynced(5000);
  return { pid: process.pid, synced };
}

function states() {
  const out = {};
  for (const s of supervisor.getStats().agents) out[s.agentId] = { state: s.state, nextProbeAt: s.nextProbeAt };
  return out;
}

/**
 * Routes `n` tasks to [agentId, backup]; with `fail`, the agent fails them. `lastRouteAt`: when the
 * last task was routed (a trip's moment, seen from before the failing call: an upper bound that
 * preemption between the trip and the transition's timestamp cannot make look faster).
 */
async function drive({ agentId, n, fail }) {
  if (fail) unhealthy.add(agentId);
  let lastRouteAt = 0;
  for (let i = 0; i < n; i++) {
    lastRouteAt = hrNow();
    await supervisor.route(i, { agents: [agentId, 'backup'] });
  }
  return { states: states(), lastRouteAt };
}

/** Routes to [agentId, backup] every `intervalMs` for `ms`; returns the agent's calls in that time. */
async function loop({ agentId, ms, intervalMs }) {
  const before = calls.get(agentId) ?? 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await supervisor.route('probe?', { agents: [agentId, 'backup'] });
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return (calls.get(agentId) ?? 0) - before;
}

/**
 * `n` routed tasks, timed one by one: the healthy first agent on the fast path, and every `every`-th
 * task to a flapping agent (it fails, trips, half-opens after its short backoff, fails its probe…)
 * so state changes — the only moments the adapter talks to Redis — happen during the measurement.
 */
async function latency({ n, flapAgent, every }) {
  unhealthy.add(flapAgent);
  const all = new Float64Array(n);
  const flap = [];
  for (let i = 0; i < n; i++) {
    const onFlap = i % every === 0;
    const start = performance.now();
    await (onFlap ? supervisor.route(i, { agents: [flapAgent, 'backup'] }) : supervisor.route(i));
    const took = performance.now() - start;
    all[i] = took;
    if (onFlap) flap.push(took);
  }
  return { all: summary(Array.from(all)), flap: summary(flap) };
}

function summary(samples) {
  const sorted = samples.sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}

const handlers = {
  init,
  states,
  drive,
  loop,
  latency,
  health: ({ agentId, healthy }) => {
    if (healthy) unhealthy.delete(agentId);
    else unhealthy.add(agentId);
  },
  isolate: ({ agentId }) => supervisor.isolate(agentId),
  calls: () => Object.fromEntries(calls),
  stats: ({ agentId }) => supervisor.getStats().agents.find((a) => a.agentId === agentId),
  redisStatus: () => redis.status,
  now: () => hrNow(),
  snapshot: () => supervisor.snapshot(),
  stop: async () => {
    await supervisor.stop();
    await redis.quit().catch(() => redis.disconnect());
  },
};

process.on('message', async ({ id, op, args }) => {
  try {
    const result = await handlers[op](args ?? {});
    send({ id, result: result ?? null });
  } catch (error) {
    send({ id, error: error instanceof Error ? error.stack : String(error) });
  }
});
send({ ev: 'started', pid: process.pid });
