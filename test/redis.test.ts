/**
 * `breakerbox/redis` against a real Redis: three supervisor PROCESSES (test/support/redisInstance.mjs,
 * running the built dist) share breaker state. A trip in one is seen by the others (the delay is
 * measured and printed), one instance probes per half-open window, the quorum keeps a lone trip
 * local, and a restarted instance resumes from its snapshot and from Redis.
 *
 * Redis: BREAKERBOX_REDIS_URL (.ci/run starts one on 127.0.0.1:6390), else a private redis-server
 * when installed, else the suite is skipped loudly; BREAKERBOX_REQUIRE_REDIS=1 turns a skip into a
 * failure. Figures are printed, never asserted beyond generous sanity bounds (machines are noisy).
 */
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureBuilt,
  findRedisServer,
  hrNow,
  Instance,
  type InstanceOptions,
  ms,
  quantile,
  REDIS_REQUIRED,
  RedisServer,
  redisAvailability,
  warnSkipped,
} from './support/redisCluster.js';

const availability = await redisAvailability();
if (!availability.ok && !REDIS_REQUIRED) warnSkipped('REDIS TESTS (test/redis.test.ts)', availability.reason);

describe.runIf(!availability.ok && REDIS_REQUIRED)('redis required', () => {
  it('finds Redis (BREAKERBOX_REQUIRE_REDIS=1)', () => {
    expect.fail(`BREAKERBOX_REQUIRE_REDIS=1 but ${availability.ok ? '' : availability.reason}`);
  });
});

const TRIALS = 60;

/** A bare PUBLISH → 'message' round trip, `n` times (5 ms apart, like the trips): the floor. */
async function rawPubSub(url: string, n: number): Promise<number[]> {
  const publisher = new Redis(url);
  const subscriber = new Redis(url);
  const channel = `bbx-floor-${process.pid}`;
  let arrived: (at: number) => void = () => {};
  subscriber.on('message', () => arrived(hrNow()));
  await subscriber.subscribe(channel);
  const delays: number[] = [];
  for (let i = 0; i < n; i++) {
    const got = new Promise<number>((resolve) => {
      arrived = resolve;
    });
    const sent = hrNow();
    void publisher.publish(channel, 'x');
    delays.push((await got) - sent);
    await new Promise((r) => setTimeout(r, 5));
  }
  publisher.disconnect();
  subscriber.disconnect();
  return delays;
}
/** Stops the instances, deletes the run's keys and stops the Redis the suite started, if any. */
async function tearDown(instances: Instance[], admin: Redis | undefined, namespace: string, server?: RedisServer) {
  await Promise.all(instances.map((i) => i.stop()));
  if (admin) {
    const keys = await admin.keys(`${namespace}:*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  }
  await server?.stop();
}

// Open for the whole test; below backoff.maxMs (60 s), which caps a peer's nextProbeAt ahead of its receipt.
const LONG = { failureThreshold: 1, backoff: { initialMs: 30_000 } };
const SHORT = { failureThreshold: 1, backoff: { initialMs: 150, multiplier: 1 }, halfOpenMaxCalls: 3 };

describe.skipIf(!availability.ok)('breakerbox/redis: three supervisor processes on one Redis', () => {
  let server: RedisServer | undefined;
  let url: string;
  let admin: Redis;
  const namespace = `bbx-test-${process.pid}-${Date.now()}`;
  const trialAgents = Array.from({ length: TRIALS }, (_, i) => `t${i}`);
  let base: InstanceOptions;
  const instances: Instance[] = [];
  let a: Instance;
  let b: Instance;
  let c: Instance;

  beforeAll(async () => {
    ensureBuilt();
    if (availability.ok && availability.url !== undefined) url = availability.url;
    else {
      server = await RedisServer.start(findRedisServer() as string);
      url = server.url;
    }
    admin = new Redis(url);
    base = {
      url,
      namespace,
      instanceId: '',
      agents: [...trialAgents, 'p', 'r1', 'r2', 'r3'],
      breakers: {
        ...Object.fromEntries(trialAgents.map((id) => [id, LONG])),
        p: SHORT,
        r1: LONG,
        r2: LONG,
        r3: LONG,
      },
    };
    [a, b, c] = (await Promise.all(['A', 'B', 'C'].map((id) => Instance.start({ ...base, instanceId: id })))) as [
      Instance,
      Instance,
      Instance,
    ];
    instances.push(a, b, c);
  });

  afterAll(() => tearDown(instances, admin, namespace, server));

  it('a trip in one instance opens the agent in the others, with the same nextProbeAt (delay measured)', async () => {
    const delays: number[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const agentId = `t${i}`;
      const origin = [a, b, c][i % 3] as Instance;
      const peers = [a, b, c].filter((x) => x !== origin);
      const { lastRouteAt } = await origin.call<{ lastRouteAt: number }>('drive', { agentId, n: 1, fail: true });
      const trip = origin.find(agentId, 'open', /failure threshold/);
      expect(trip, `${origin.name} tripped ${agentId}`).toBeDefined();
      for (const peer of peers) {
        await peer.waitFor(() => peer.find(agentId, 'open') !== undefined, 2000, `${agentId} open`);
        const seen = peer.find(agentId, 'open') as (typeof peer.transitions)[number];
        expect(seen.reason).toBe('tripped by a peer');
        delays.push(seen.hr - lastRouteAt);
      }
    }
    const states = await Promise.all([a, b, c].map((x) => x.call<Record<string, { nextProbeAt: number }>>('states')));
    for (const id of trialAgents) {
      const times = states.map((s) => s[id]?.nextProbeAt);
      expect(
        times.every((t) => typeof t === 'number'),
        `${id}: open everywhere`,
      ).toBe(true);
      expect(new Set(times).size, `${id}: one nextProbeAt everywhere`).toBe(1);
    }
    expect(Object.keys(await admin.hgetall(`${namespace}:open`)).sort()).toEqual([...trialAgents].sort());
    const p50 = quantile(delays, 0.5);
    const p99 = quantile(delays, 0.99);
    const floor = await rawPubSub(url, 60);
    console.log(
      `[redis] trip propagation, from the failing call to the peer's transition, over ${delays.length} deliveries ` +
        `(${TRIALS} trips, 3 processes, loopback, load average ${loadavg()[0]?.toFixed(1)}): ` +
        `p50 ${ms(p50)}, p99 ${ms(p99)}, max ${ms(Math.max(...delays))} (target p99 ≤ 50 ms); ` +
        `this machine's floor, a bare PUBLISH → message between two connections: p50 ${ms(quantile(floor, 0.5))}, p99 ${ms(quantile(floor, 0.99))}`,
    );
    expect(p99).toBeLessThan(1000); // sanity only
  });

  it('exactly one instance probes each half-open window; the close reaches the others', async () => {
    for (const x of [a, b, c]) await x.call('health', { agentId: 'p', healthy: false });
    const marks = [a, b, c].map((x) => x.transitions.length);
    await a.call('drive', { agentId: 'p', n: 1, fail: true });
    // Every instance routes to p every 3 ms for a second: ~6 windows, p failing each probe.
    await Promise.all([a, b, c].map((x) => x.call('loop', { agentId: 'p', ms: 1000, intervalMs: 3 })));
    const failedProbes = [a, b, c]
      .flatMap((x, i) =>
        x.transitions.slice(marks[i]).filter((t) => t.agentId === 'p' && /probe failed/.test(t.reason)),
      )
      .sort((x, y) => x.hr - y.hr);
    const probesWhileFailing = await Promise.all(
      [a, b, c].map((x) => x.call<{ halfOpenProbes: number }>('stats', { agentId: 'p' })),
    );
    // Now p recovers: the next window's lease holder admits 3 probes, closes, and tells the others.
    for (const x of [a, b, c]) await x.call('health', { agentId: 'p', healthy: true });
    const closedAll = Promise.all(
      [a, b, c].map((x, i) =>
        x.waitFor(() => x.find('p', 'closed', undefined, marks[i]) !== undefined, 5000, 'p closed'),
      ),
    );
    await Promise.all([a, b, c].map((x) => x.call('loop', { agentId: 'p', ms: 500, intervalMs: 3 })));
    await closedAll;
    const probes = await Promise.all(
      [a, b, c].map((x) => x.call<{ halfOpenProbes: number }>('stats', { agentId: 'p' })),
    );
    const closes = [a, b, c].map((x, i) => x.find('p', 'closed', undefined, marks[i])?.reason);

    const gaps = failedProbes.slice(1).map((t, i) => t.hr - (failedProbes[i] as { hr: number }).hr);
    const whileFailing = probesWhileFailing.reduce((sum, s) => sum + s.halfOpenProbes, 0);
    const total = probes.reduce((sum, s) => sum + s.halfOpenProbes, 0);
    console.log(
      `[redis] probe lease: ${failedProbes.length} failed windows, probes per window ${whileFailing}/${failedProbes.length}, ` +
        `by ${failedProbes.map((t) => t.instance).join('')}; min gap between windows ${ms(Math.min(...gaps), 1)}; ` +
        `recovery window: ${total - whileFailing} probes, closes: ${closes.join(' / ')}`,
    );
    expect(failedProbes.length).toBeGreaterThanOrEqual(3);
    // One probe per window: as many probe calls as failed windows, and no two windows at once.
    expect(whileFailing).toBe(failedProbes.length);
    expect(Math.min(...gaps)).toBeGreaterThan(30); // windows are 150 ms apart; two probers of one window fail within ms
    // The recovery window: exactly halfOpenMaxCalls probes, one instance closed, two were told.
    expect(total - whileFailing).toBe(3);
    expect(closes.filter((r) => r === 'probes succeeded')).toHaveLength(1);
    expect(closes.filter((r) => r === 'closed by a peer')).toHaveLength(2);
    expect(await admin.hget(`${namespace}:open`, 'p')).toBeNull();
  });

  it('a restarted instance resumes from its snapshot and from Redis', async () => {
    await a.call('drive', { agentId: 'r1', n: 1, fail: true });
    await c.waitFor(() => c.find('r1', 'open') !== undefined, 2000, 'r1 open');
    await c.call('isolate', { agentId: 'r3' }); // local only: Redis never hears of it
    const snapshot = await c.call('snapshot');
    await c.kill(); // a crash: no stop(), no detach
    // While C is down, B trips r2: only Redis can tell C.
    await b.call('drive', { agentId: 'r2', n: 1, fail: true });
    await a.waitFor(() => a.find('r2', 'open') !== undefined, 2000, 'r2 open');

    const started = performance.now();
    const c2 = await Instance.start({ ...base, instanceId: 'C', restore: JSON.parse(JSON.stringify(snapshot)) });
    instances[2] = c2;
    let states: Record<string, { state: string; nextProbeAt: number | null }> = {};
    for (let tries = 0; tries < 200; tries++) {
      states = await c2.call('states');
      if (states.r2?.state === 'open') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const converged = performance.now() - started;
    const aStates = await a.call<Record<string, { nextProbeAt: number }>>('states');
    const bStates = await b.call<Record<string, { nextProbeAt: number }>>('states');
    console.log(
      `[redis] restart: process up and converged in ${ms(converged, 0)} (fork + imports + connect + read of the open set)`,
    );
    expect(states.r1).toEqual({ state: 'open', nextProbeAt: aStates.r1?.nextProbeAt }); // from the snapshot
    expect(states.r3?.state).toBe('isolated'); // from the snapshot only
    expect(states.r2).toEqual({ state: 'open', nextProbeAt: bStates.r2?.nextProbeAt }); // from Redis
    expect(states.t0?.state).toBe('open');
  });
});

describe.skipIf(!availability.ok)('breakerbox/redis: the quorum', () => {
  let server: RedisServer | undefined;
  let admin: Redis;
  const namespace = `bbx-quorum-${process.pid}-${Date.now()}`;
  const instances: Instance[] = [];

  beforeAll(async () => {
    ensureBuilt();
    let url: string;
    if (availability.ok && availability.url !== undefined) url = availability.url;
    else {
      server = await RedisServer.start(findRedisServer() as string);
      url = server.url;
    }
    admin = new Redis(url);
    const options: InstanceOptions = {
      url,
      namespace,
      instanceId: '',
      agents: ['q1', 'q2'],
      breaker: LONG,
      quorum: 2,
      quorumWindowMs: 400,
    };
    instances.push(...(await Promise.all(['A', 'B', 'C'].map((id) => Instance.start({ ...options, instanceId: id })))));
  });

  afterAll(() => tearDown(instances, admin, namespace, server));

  it('opens cluster-wide only when 2 instances saw the agent trip within the window', async () => {
    const [a, b, c] = instances as [Instance, Instance, Instance];
    const stateOf = async (x: Instance, id: string) =>
      (await x.call<Record<string, { state: string }>>('states'))[id]?.state;

    await a.call('drive', { agentId: 'q1', n: 1, fail: true });
    await new Promise((r) => setTimeout(r, 200));
    expect([await stateOf(a, 'q1'), await stateOf(b, 'q1'), await stateOf(c, 'q1')]).toEqual([
      'open',
      'closed',
      'closed',
    ]);
    expect(await admin.hget(`${namespace}:open`, 'q1')).toBeNull(); // below the quorum: local

    await b.call('drive', { agentId: 'q1', n: 1, fail: true }); // the second instance: quorum
    await c.waitFor(() => c.find('q1', 'open') !== undefined, 2000, 'q1 open');
    expect(c.find('q1', 'open')?.reason).toBe('tripped by a peer');
    expect(await admin.hget(`${namespace}:open`, 'q1')).not.toBeNull();

    // Two trips further apart than quorumWindowMs do not add up.
    await a.call('drive', { agentId: 'q2', n: 1, fail: true });
    await new Promise((r) => setTimeout(r, 500));
    await b.call('drive', { agentId: 'q2', n: 1, fail: true });
    await new Promise((r) => setTimeout(r, 200));
    expect(await stateOf(c, 'q2')).toBe('closed');
    expect(await admin.hget(`${namespace}:open`, 'q2')).toBeNull();
    console.log('[redis] quorum 2: a lone trip stayed local; the second within 400 ms opened it everywhere');
  });
});
