/**
 * `breakerbox/redis` when Redis fails: a private redis-server (its own port, owned by this test) is
 * frozen (SIGSTOP: connections up, nothing answers), then killed (SIGKILL) under three supervisor
 * processes, then restarted empty. Routing goes on with no added wait (route latency p50/p99 are
 * measured and printed for each phase), a trip during the outage stays local, and when Redis is
 * back the instances converge: the trip reaches the others and Redis holds the open set again
 * (re-asserted by the instances, since a restarted Redis without persistence lost it).
 *
 * Needs redis-server (Debian's package); without it the suite is skipped loudly, and
 * BREAKERBOX_REQUIRE_REDIS=1 turns the skip into a failure.
 */
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureBuilt,
  findRedisServer,
  hrNow,
  Instance,
  ms,
  REDIS_REQUIRED,
  RedisServer,
  warnSkipped,
} from './support/redisCluster.js';

const binary = findRedisServer();
if (binary === undefined && !REDIS_REQUIRED) {
  warnSkipped('REDIS OUTAGE TESTS (test/redis.outage.test.ts)', 'no redis-server is installed');
}

describe.runIf(binary === undefined && REDIS_REQUIRED)('redis-server required', () => {
  it('finds redis-server (BREAKERBOX_REQUIRE_REDIS=1)', () => {
    expect.fail('BREAKERBOX_REQUIRE_REDIS=1 but no redis-server is installed');
  });
});

interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
}
type Latency = { all: Summary; flap: Summary };

// Open for the whole test; below backoff.maxMs (60 s), which caps a peer's nextProbeAt ahead of its receipt.
const LONG = { failureThreshold: 1, backoff: { initialMs: 30_000 } };
// Trips on its first failure, half-opens 20 ms later, fails its probe, reopens…: state changes
// (the only moments the adapter talks to Redis) keep happening while latency is measured.
const FLAP = { failureThreshold: 1, backoff: { initialMs: 20, multiplier: 1 }, halfOpenMaxCalls: 1 };
const ROUTES = 20_000;

describe.skipIf(binary === undefined)(
  'breakerbox/redis: Redis frozen, killed and restarted under three instances',
  () => {
    let server: RedisServer;
    let admin: Redis;
    const namespace = `bbx-outage-${process.pid}-${Date.now()}`;
    const instances: Instance[] = [];

    beforeAll(async () => {
      ensureBuilt();
      server = await RedisServer.start(binary as string);
      admin = new Redis(server.url, { retryStrategy: () => 50 });
      admin.on('error', () => {});
      const options = {
        url: server.url,
        namespace,
        instanceId: '',
        agents: ['h', 'flap', 'x', 'y'],
        breakers: { flap: FLAP, x: LONG, y: LONG },
        reconnectMs: 50,
      };
      instances.push(
        ...(await Promise.all(['A', 'B', 'C'].map((id) => Instance.start({ ...options, instanceId: id })))),
      );
    });

    afterAll(async () => {
      await Promise.all(instances.map((i) => i.stop()));
      admin?.disconnect();
      await server?.stop();
    });

    it('routes with no added wait while Redis is down or hung, and converges when it is back', async () => {
      const [a, b, c] = instances as [Instance, Instance, Instance];
      const measure = () => a.call<Latency>('latency', { n: ROUTES, flapAgent: 'flap', every: 100 });
      const rows: Array<[string, Latency]> = [];

      await measure(); // warm-up: JIT, the flap agent's first trip
      // y is open cluster-wide before the outage (B tripped it); Redis will lose it when killed.
      await b.call('drive', { agentId: 'y', n: 1, fail: true });
      await a.waitFor(() => a.find('y', 'open') !== undefined, 2000, 'y open');
      await c.waitFor(() => c.find('y', 'open') !== undefined, 2000, 'y open');
      rows.push(['Redis up', await measure()]);

      server.freeze();
      rows.push(['Redis hung (SIGSTOP)', await measure()]);
      server.thaw();
      await new Promise((r) => setTimeout(r, 300)); // what queued up while it was hung drains

      await server.kill();
      for (let i = 0; i < 100 && (await a.call('redisStatus')) === 'ready'; i++)
        await new Promise((r) => setTimeout(r, 5));
      rows.push(['Redis down (SIGKILL)', await measure()]);

      // A trip during the outage stays local.
      const marks = [b, c].map((x) => x.transitions.length);
      await a.call('drive', { agentId: 'x', n: 1, fail: true });
      await new Promise((r) => setTimeout(r, 200));
      expect(b.find('x', 'open')).toBeUndefined();
      expect(c.find('x', 'open')).toBeUndefined();

      // Redis comes back, empty (no persistence): the instances converge.
      const restartedAt = hrNow();
      await server.restart();
      const answeredAt = hrNow();
      await Promise.all(
        [b, c].map((x, i) => x.waitFor(() => x.find('x', 'open', undefined, marks[i]) !== undefined, 5000, 'x open')),
      );
      const seen = [b, c].map((x, i) => (x.find('x', 'open', undefined, marks[i]) as { hr: number }).hr);
      const convergedAt = Math.max(...seen);
      let open: Record<string, string> = {};
      for (let i = 0; i < 100; i++) {
        open = await admin.hgetall(`${namespace}:open`).catch(() => ({}));
        if (open.x !== undefined && open.y !== undefined) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      rows.push(['Redis back', await measure()]);

      const us = (valueMs: number) => `${(valueMs * 1000).toFixed(1)} µs`.padStart(9);
      const table = rows
        .map(
          ([phase, l]) =>
            `  ${phase.padEnd(22)} p50 ${us(l.all.p50)}  p99 ${us(l.all.p99)}  max ${ms(l.all.max).padStart(9)}` +
            `   its flapping agent's routes: p99 ${us(l.flap.p99)}, max ${ms(l.flap.max)}`,
        )
        .join('\n');
      const added = (value: number) => `${Math.abs(value) < 0.0005 ? '0.000' : value.toFixed(3)} ms`;
      const up = rows[0]?.[1].all.p99 ?? 0;
      const down = rows[2]?.[1].all.p99 ?? 0;
      const hung = rows[1]?.[1].all.p99 ?? 0;
      console.log(
        `[redis] route latency in instance A, ${ROUTES} routes per phase (1 in 100 to a flapping agent), load average ${loadavg()[0]?.toFixed(1)}:\n${table}\n` +
          `  p99 added with Redis down: ${added(down - up)}; hung: ${added(hung - up)} (target ≤ 1 ms)\n` +
          `[redis] convergence: redis-server restarted (answering after ${ms(answeredAt - restartedAt, 0)}); ` +
          `the outage's trip reached both other instances ${ms(convergedAt - answeredAt, 0)} after it answered ` +
          `(client reconnect delay 50 ms); open set again: ${Object.keys(open).sort().join(', ')}`,
      );
      // Sanity bounds only: a route that waited on Redis would take ≥ 200 ms (the command timeout).
      for (const [phase, l] of rows) expect(l.all.p99, phase).toBeLessThan(50);
      expect(Object.keys(open).sort()).toEqual(['x', 'y']);
      // y, opened by B before the outage, is still open in A and C; Redis has it again from B.
      const states = await Promise.all([a, c].map((x) => x.call<Record<string, { state: string }>>('states')));
      expect(states.map((s) => s.y?.state)).toEqual(['open', 'open']);
      const reported = [a, b, c].flatMap((x) => x.errors.map((e) => e.where));
      expect(reported.length).toBeGreaterThan(0); // the outage was reported, not thrown
    });
  },
);
