/**
 * `breakerbox/redis` without a Redis: the adapter against a recording stand-in client, for what
 * must hold exactly — a healthy call issues no command, a trip one, a client that is not ready
 * none (the lease is then granted at once and the outage reported once), and what arrives on the
 * channel is applied only when it is a peer's well-formed message. The real thing is in
 * redis.test.ts and redis.outage.test.ts.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError, createSupervisor, type Supervisor } from '../src/index.js';
import { createRedisSync, type RedisClient } from '../src/redis/index.js';

class FakeRedis extends EventEmitter {
  status = 'ready';
  readonly commands: string[] = [];
  readonly duplicates: FakeRedis[] = [];
  /** What `eval` answers (1: a trip went cluster-wide, a lease was granted; 0: not). */
  answer: (kind: string) => unknown = () => 1;
  duplicate(): FakeRedis {
    const copy = new FakeRedis();
    copy.status = 'wait'; // connects when told, like a lazy ioredis client
    this.duplicates.push(copy);
    return copy;
  }
  async connect(): Promise<void> {}
  /** Every script run, with its arguments after the script (numkeys, keys, then ARGV). */
  readonly evals: { kind: string; args: unknown[] }[] = [];
  async eval(script: string, ...args: unknown[]): Promise<unknown> {
    const kind = kindOf(script);
    this.commands.push(kind);
    this.evals.push({ kind, args });
    return this.answer(kind);
  }
  /** The cluster's open set, as `hgetall` answers it. */
  openSet: Record<string, string> = {};
  async hgetall(): Promise<Record<string, string>> {
    this.commands.push('hgetall');
    return this.openSet;
  }
  async subscribe(): Promise<unknown> {
    this.commands.push('subscribe');
    return 1;
  }
  async quit(): Promise<unknown> {
    return 'OK';
  }
  disconnect(): void {}
}

function kindOf(script: string): string {
  if (script.includes('ZADD')) return 'trip';
  if (script.includes('HDEL')) return 'close';
  if (script.includes('local grant')) return 'lease';
  return 'release';
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

function setup(redis: FakeRedis, breaker: { halfOpenTimeoutMs?: number; backoff?: { initialMs: number } } = {}) {
  const reported: string[] = [];
  const sync = createRedisSync({ redis, namespace: 'ns', instanceId: 'me' });
  let healthy = false;
  const supervisor = createSupervisor({
    sync,
    onError: (_e, where) => reported.push(where),
    breaker: { failureThreshold: 1, backoff: { initialMs: 30 }, ...breaker },
    agents: [
      { id: 'ok', run: async () => 'ok' },
      {
        id: 'flaky',
        run: async () => {
          if (!healthy) throw new Error('down');
          return 'flaky';
        },
      },
      { id: 'backup', run: async () => 'backup' },
    ],
  });
  const heal = () => {
    healthy = true;
  };
  return { supervisor, sync, reported, heal };
}

/** `setup` with Redis and the subscription ready and the first convergence done; `say` speaks as a peer. */
async function syncedSetup(breaker: Parameters<typeof setup>[1] = {}) {
  const redis = new FakeRedis();
  const parts = setup(redis, breaker);
  const subscriber = redis.duplicates[0] as FakeRedis;
  subscriber.status = 'ready';
  subscriber.emit('ready');
  expect(await parts.sync.whenSynced(1000)).toBe(true);
  const say = (message: unknown) =>
    subscriber.emit('message', 'ns:events', typeof message === 'string' ? message : JSON.stringify(message));
  return { ...parts, redis, subscriber, say };
}

/** `setup` with the command connection ready (no subscription). */
async function readySetup() {
  const redis = new FakeRedis();
  const parts = setup(redis);
  redis.emit('ready');
  await tick();
  return { ...parts, redis };
}

/** Makes Redis refuse every close with an error reply (the client stays ready) until `accept()`. */
function refuseCloses(redis: FakeRedis): { accept(): void } {
  let refusing = true;
  redis.answer = (kind) => {
    if (kind === 'close' && refusing) throw new Error('OOM command not allowed');
    return 1;
  };
  return {
    accept: () => {
      refusing = false;
    },
  };
}

/** Trips 'flaky', heals it, and lets its three probes close it (the 30 ms backoff of `setup`). */
async function closeFlakyByProbes(supervisor: Supervisor, heal: () => void): Promise<void> {
  await supervisor.route('x', { agents: ['flaky', 'backup'] });
  heal();
  await new Promise((r) => setTimeout(r, 40));
  for (let i = 0; i < 3; i++) await supervisor.route(i, { agents: ['flaky', 'backup'] });
  expect(supervisor.getAgent('flaky')?.state).toBe('closed');
  await tick();
}

/** Redis is back: a full convergence; resolves once its read was answered. */
async function reconnectAndRead(redis: FakeRedis): Promise<void> {
  redis.commands.length = 0;
  redis.status = 'ready';
  redis.emit('ready');
  for (let i = 0; i < 20 && !redis.commands.includes('hgetall'); i++) await tick();
  for (let i = 0; i < 5; i++) await tick();
}

/** Adds an agent, which has the open set read for it; resolves once that read was answered. */
async function addAgentAndRead(supervisor: Supervisor, redis: FakeRedis, id: string): Promise<void> {
  redis.commands.length = 0;
  redis.evals.length = 0;
  supervisor.addAgent({ id, run: async () => id });
  for (let i = 0; i < 20 && !redis.commands.includes('hgetall'); i++) await tick();
  for (let i = 0; i < 5; i++) await tick();
}

/** The stand-in's methods as own properties, so a test can remove one. */
function methodsOf(redis: FakeRedis): Record<string, unknown> {
  const proto = Object.getPrototypeOf(redis) as object;
  return Object.fromEntries(
    Object.getOwnPropertyNames(proto).map((name) => [name, (redis as unknown as Record<string, unknown>)[name]]),
  );
}

describe('breakerbox/redis: the adapter, with a stand-in client', () => {
  it('takes an ioredis client (the option is typed structurally)', () => {
    expectTypeOf<Redis>().toExtend<RedisClient>();
  });

  it('validates its options with ConfigError', () => {
    const redis = new FakeRedis();
    const field = (options: unknown) => {
      try {
        createRedisSync(options as Parameters<typeof createRedisSync>[0]);
      } catch (error) {
        return error instanceof ConfigError ? error.field : 'not a ConfigError';
      }
      return 'accepted';
    };
    expect(field({ namespace: 'x' })).toBe('redis');
    expect(field({ redis: {}, namespace: 'x' })).toBe('redis.duplicate');
    expect(field({ redis, namespace: '' })).toBe('namespace');
    expect(field({ redis, namespace: 'x', quorum: 0 })).toBe('quorum');
    expect(field({ redis, namespace: 'x', commandTimeoutMs: -1 })).toBe('commandTimeoutMs');
    expect(field({ redis, namespace: 'x', instanceId: '#open' })).toBe('instanceId');
    // A lease is held as `<instance>:<generation>`: instance 'web' could take over `web:1`'s lease.
    expect(field({ redis, namespace: 'x', instanceId: 'web:1' })).toBe('instanceId');
    expect(field({ redis, namespace: 'x', instanceId: 'x'.repeat(201) })).toBe('instanceId');
    expect(field({ redis: { ...methodsOf(redis), quit: undefined }, namespace: 'x' })).toBe('redis.quit');
    expect(field({ redis, namespace: 'x', quorom: 2 })).toBe('quorom');
    expect(field({ redis, namespace: 'x' })).toBe('accepted');
  });

  it('a healthy call issues no command; a trip issues one; the half-open lease one, released on close', async () => {
    const redis = new FakeRedis();
    const { supervisor, sync, heal } = setup(redis);
    expect(await sync.whenSynced(50)).toBe(false); // not subscribed yet: its connection is not ready
    const subscriber = redis.duplicates[0] as FakeRedis;
    subscriber.status = 'ready';
    subscriber.emit('ready');
    expect(await sync.whenSynced(1000)).toBe(true);
    redis.commands.length = 0;
    for (let i = 0; i < 1000; i++) await supervisor.route(i);
    expect(redis.commands).toEqual([]);

    await supervisor.route('x', { agents: ['flaky', 'backup'] });
    expect(supervisor.getAgent('flaky')?.state).toBe('open');
    expect(redis.commands).toEqual(['trip']);
    heal();
    await new Promise((r) => setTimeout(r, 40)); // half-open: the lease is asked for
    await tick();
    expect(redis.commands).toEqual(['trip', 'lease']);
    for (let i = 0; i < 3; i++) await supervisor.route(i, { agents: ['flaky', 'backup'] });
    expect(supervisor.getAgent('flaky')?.state).toBe('closed');
    await tick();
    expect(redis.commands).toEqual(['trip', 'lease', 'close', 'release']);
    await supervisor.stop();
  });

  it('a denied lease is answered once; the window restarting at halfOpenTimeoutMs asks again', async () => {
    const redis = new FakeRedis();
    const { supervisor, heal } = setup(redis, { halfOpenTimeoutMs: 60 });
    let leases = 0;
    redis.answer = (kind) => (kind === 'lease' && ++leases === 1 ? 0 : 1); // held elsewhere at first
    await supervisor.route('x', { agents: ['flaky', 'backup'] });
    heal();
    await new Promise((r) => setTimeout(r, 40)); // half-open, denied
    expect(await supervisor.route('denied', { agents: ['flaky', 'backup'] })).toBe('backup');
    expect(leases).toBe(1);
    await new Promise((r) => setTimeout(r, 80)); // the window restarted and asked again: granted
    expect(leases).toBe(2);
    expect(await supervisor.route('granted', { agents: ['flaky', 'backup'] })).toBe('flaky');
    await supervisor.stop();
  });

  it('Redis not ready: no command, the lease granted at once, the outage reported once', async () => {
    const redis = new FakeRedis();
    const { supervisor, reported, heal } = setup(redis);
    redis.emit('ready'); // it was up once…
    await tick();
    redis.status = 'reconnecting'; // …and is gone
    redis.commands.length = 0;
    await supervisor.route('x', { agents: ['flaky', 'backup'] });
    expect(supervisor.getAgent('flaky')?.state).toBe('open');
    heal();
    await new Promise((r) => setTimeout(r, 40));
    const started = performance.now();
    expect(await supervisor.route('probe', { agents: ['flaky', 'backup'] })).toBe('flaky'); // probed at once
    expect(performance.now() - started).toBeLessThan(50);
    expect(redis.commands).toEqual([]);
    expect(reported).toEqual(['redis']);
    await supervisor.stop();
  });

  it('applies a peer’s trip and close; ignores its own messages and anything malformed', async () => {
    const { supervisor, reported, subscriber, say } = await syncedSetup();
    const nextProbeAt = Date.now() + 60_000;
    say({ v: 1, k: 'trip', a: 'ok', n: nextProbeAt, t: Date.now(), i: 'me' }); // its own
    say('not json');
    say({ v: 2, k: 'trip', a: 'ok', n: nextProbeAt, t: Date.now(), i: 'peer' });
    say({ v: 1, k: 'trip', a: 'ok', t: Date.now(), i: 'peer' });
    subscriber.emit('message', 'other:events', JSON.stringify({ v: 1, k: 'trip', a: 'ok', n: 1, t: 1, i: 'peer' }));
    expect(supervisor.getAgent('ok')?.state).toBe('closed');
    say({ v: 1, k: 'trip', a: 'ok', n: nextProbeAt, t: Date.now(), i: 'peer' });
    expect(supervisor.getAgent('ok')?.state).toBe('open');
    expect(supervisor.getStats().agents[0]?.nextProbeAt).toBe(nextProbeAt);
    say({ v: 1, k: 'close', a: 'ok', t: Date.now(), i: 'peer' });
    expect(supervisor.getAgent('ok')?.state).toBe('closed');
    say({ v: 1, k: 'trip', a: 'nobody', n: nextProbeAt, t: Date.now(), i: 'peer' }); // unknown agent: nothing
    expect(supervisor.getAllMetrics().map((m) => [m.agentId, m.state])).toEqual([
      ['ok', 'closed'],
      ['flaky', 'closed'],
      ['backup', 'closed'],
    ]);
    expect(reported).toEqual([]); // nothing malformed or unknown was reported as an error either
    await supervisor.stop();
  });

  it('an agent added later reads the cluster’s open set, whatever a peer said before it was here', async () => {
    const { supervisor, redis, say } = await syncedSetup();
    const nextProbeAt = Date.now() + 60_000;
    const settle = async (id: string) => {
      for (let i = 0; i < 20 && supervisor.getAgent(id)?.state !== 'open'; i++) await tick();
    };
    redis.openSet = { late: String(nextProbeAt), ok: String(nextProbeAt) };

    // A peer trips an agent this instance does not have yet; it is added here afterwards.
    say({ v: 1, k: 'trip', a: 'late', n: nextProbeAt, t: Date.now(), i: 'peer' });
    supervisor.addAgent({ id: 'late', run: async () => 'late' });
    await settle('late');
    expect(supervisor.getAgent('late')?.state).toBe('open');
    expect(supervisor.getAgentStats('late')?.nextProbeAt).toBe(nextProbeAt);

    // A peer trips a known agent, which is removed here; the peer's close arrives while it is
    // gone, and the agent comes back while the cluster has it open again.
    say({ v: 1, k: 'trip', a: 'ok', n: nextProbeAt, t: Date.now(), i: 'peer' });
    await supervisor.removeAgent('ok');
    say({ v: 1, k: 'close', a: 'ok', t: Date.now(), i: 'peer' });
    supervisor.addAgent({ id: 'ok', run: async () => 'ok' });
    await settle('ok');
    expect(supervisor.getAgent('ok')?.state).toBe('open');
    await supervisor.stop();
  });

  it('an agent removed and added back at once starts from the cluster, and adding re-sends no trip', async () => {
    const { supervisor, redis, say } = await syncedSetup({ backoff: { initialMs: 60_000 } });
    const nextProbeAt = Date.now() + 60_000;
    const replace = async (id: string) => {
      await supervisor.removeAgent(id);
      supervisor.addAgent({ id, run: async () => id }); // nothing in between: no message, no convergence
      for (let i = 0; i < 20 && supervisor.getAgent(id)?.state !== 'open'; i++) await tick();
    };
    // This instance trips 'flaky' itself and keeps it open for a minute; a peer trips 'ok', which
    // is then isolated here. The cluster lists both.
    await supervisor.route('x', { agents: ['flaky', 'backup'] });
    expect(supervisor.getAgent('flaky')?.state).toBe('open');
    say({ v: 1, k: 'trip', a: 'ok', n: nextProbeAt, t: Date.now(), i: 'peer' });
    supervisor.isolate('ok');
    redis.openSet = { ok: String(nextProbeAt), flaky: String(nextProbeAt) };

    redis.commands.length = 0;
    await replace('ok');
    expect(supervisor.getAgent('ok')?.state).toBe('open');
    // The read only: this instance's own running trip of 'flaky' is not published again.
    expect(redis.commands).toEqual(['hgetall']);

    await replace('flaky'); // tripped here, still within its open period
    expect(supervisor.getAgent('flaky')?.state).toBe('open');
    // A reconnect re-asserts only the trips of agents this instance still has: the old 'flaky'
    // is gone, and the new one was opened by the cluster, not by its own failures.
    await reconnectAndRead(redis);
    expect(redis.commands).toEqual(['hgetall']);
    await supervisor.stop();
  });

  it('a close Redis refused is sent again before any read, and the stale entry does not reopen it', async () => {
    const { supervisor, heal, redis } = await readySetup();
    redis.openSet = { flaky: String(Date.now() + 60_000) };
    refuseCloses(redis);
    await closeFlakyByProbes(supervisor, heal);
    await addAgentAndRead(supervisor, redis, 'other');
    expect(redis.commands).toEqual(['close', 'hgetall']);
    expect(supervisor.getAgent('flaky')?.state).toBe('closed');
    await supervisor.stop();
  });

  it('adding an agent reads the open set for it alone: an operator’s reset elsewhere stays', async () => {
    const { supervisor, redis, say } = await syncedSetup();
    const nextProbeAt = Date.now() + 60_000;
    say({ v: 1, k: 'trip', a: 'ok', n: nextProbeAt, t: Date.now(), i: 'peer' });
    expect(supervisor.getAgent('ok')?.state).toBe('open');
    supervisor.reset('ok'); // local, as the README says
    redis.openSet = { ok: String(nextProbeAt), late: String(nextProbeAt) };
    await addAgentAndRead(supervisor, redis, 'late');
    expect(redis.commands).toEqual(['hgetall']);
    expect(supervisor.getAgent('late')?.state).toBe('open');
    expect(supervisor.getAgent('ok')?.state).toBe('closed');
    await supervisor.stop();
  });

  it('a removed agent takes its unsent close with it', async () => {
    const { supervisor, heal, redis } = await readySetup();
    await supervisor.route('x', { agents: ['flaky', 'backup'] });
    redis.status = 'reconnecting'; // Redis goes away while the circuit is open
    heal();
    await new Promise((r) => setTimeout(r, 40)); // half-open; the lease is granted locally
    for (let i = 0; i < 3; i++) await supervisor.route(i, { agents: ['flaky', 'backup'] });
    expect(supervisor.getAgent('flaky')?.state).toBe('closed'); // a close Redis has not heard of
    await supervisor.removeAgent('flaky');
    await reconnectAndRead(redis);
    // Peers close it by their own probes; this instance no longer has an opinion on it.
    expect(redis.commands).toEqual(['hgetall']);
    await supervisor.stop();
  });

  it('an unsent close is re-sent with the time it happened', async () => {
    const { supervisor, heal, redis } = await readySetup();
    const closes = refuseCloses(redis);
    await closeFlakyByProbes(supervisor, heal);
    const closedAt = redis.evals.find((e) => e.kind === 'close')?.args[5];
    expect(typeof closedAt).toBe('number');
    await new Promise((r) => setTimeout(r, 5));
    closes.accept();
    await addAgentAndRead(supervisor, redis, 'other');
    expect(redis.commands).toEqual(['close', 'hgetall']);
    expect(redis.evals[0]?.args[5]).toBe(closedAt); // the probes' close time, not the resend's
    await supervisor.stop();
  });

  it('a reset, even of a half-open circuit, is not a close for the cluster', async () => {
    const { supervisor, heal, redis } = await readySetup();
    await supervisor.route('x', { agents: ['flaky', 'backup'] });
    heal();
    await new Promise((r) => setTimeout(r, 40));
    expect(supervisor.getAgent('flaky')?.state).toBe('half_open');
    supervisor.reset('flaky'); // half_open → closed, by an operator
    for (let i = 0; i < 5; i++) await tick();
    expect(supervisor.getAgent('flaky')?.state).toBe('closed');
    expect(redis.commands).not.toContain('close');
    await supervisor.stop();
  });

  it('an isolate cancels a close Redis has not heard of', async () => {
    const { supervisor, heal, redis } = await readySetup();
    const closes = refuseCloses(redis);
    await closeFlakyByProbes(supervisor, heal);
    supervisor.isolate('flaky'); // the operator's decision replaces the probes' verdict here
    closes.accept();
    await addAgentAndRead(supervisor, redis, 'other');
    expect(redis.commands).toEqual(['hgetall']);
    await supervisor.stop();
  });
});
