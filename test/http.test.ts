/**
 * The HTTP API on a real loopback server: every route, status code and JSON shape, auth, limits,
 * SSE, Prometheus and the static page. Breakers run on XState's SimulatedClock: no test waits for
 * a backoff in real time.
 */
import { request as httpRequest } from 'node:http';
import { defer, finalize } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import { isLoopbackAddress, loopbackHosts } from '../src/http/loopbackHosts.js';
import {
  alwaysGrantedLease,
  type BreakerSync,
  ConfigError,
  createDashboardHandler,
  createSupervisor,
  type DashboardServer,
  type ServeDashboardOptions,
  type Supervisor,
  SupervisorStoppedError,
  serveDashboard,
} from '../src/index.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field
type Json = any;

const TOKEN = 'test-token-0123456789abcdef';

interface Agent {
  id: string;
  healthy: boolean;
}

function setup(ids: readonly string[] = ['agent-1', 'agent-2', 'agent-3']) {
  const clock = new SimulatedClock();
  const agents = new Map<string, Agent>(ids.map((id) => [id, { id, healthy: true }]));
  // One attempt per task: each failing route() is one failure of the agent it names.
  const supervisor = createSupervisor({
    clock,
    routing: { maxAttempts: 1 },
    agents: ids.map((id) => ({
      id,
      run: async (task: unknown) => {
        if (!(agents.get(id) as Agent).healthy) throw new Error(`${id}: connection refused`);
        return `${id}:${String(task)}`;
      },
    })),
  });
  return { clock, agents, supervisor };
}

/** Five failures in a row trip `id` (the original design's default threshold, docs/architecture.md). */
async function tripAgent(supervisor: Supervisor, agents: Map<string, Agent>, id: string): Promise<void> {
  (agents.get(id) as Agent).healthy = false;
  for (let i = 0; i < 5; i++) await supervisor.route(`t${i}`, { agents: [id], taskId: `task-${i}` }).catch(() => {});
}

const open: { server?: DashboardServer; supervisor?: Supervisor }[] = [];

async function serve(supervisor: Supervisor, options: ServeDashboardOptions = {}): Promise<DashboardServer> {
  const server = await serveDashboard(supervisor, { port: 0, ...options });
  open.push({ server, supervisor });
  return server;
}

afterEach(async () => {
  for (const { server, supervisor } of open.splice(0)) {
    await server?.close();
    await supervisor?.stop({ drainMs: 0 });
  }
});

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: Json; headers: Headers }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text), headers: response.headers };
}

/** Raw request, for bodies and headers fetch will not send (chunked oversize bodies). */
function rawRequest(
  url: string,
  options: { method: string; headers?: Record<string, string>; chunks?: string[] },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method, headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end();
  });
}

/** Reads SSE events from a streaming fetch. */
async function openEvents(url: string) {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const queue: { event: string; data: Json }[] = [];
  let ended = false;
  async function fill(): Promise<void> {
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      return;
    }
    buffer += decoder.decode(value, { stream: true });
    let cut = buffer.indexOf('\n\n');
    while (cut !== -1) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data !== '') queue.push({ event, data: JSON.parse(data) });
      cut = buffer.indexOf('\n\n');
    }
  }
  return {
    response,
    /** The next event named `name` (skipping others); undefined when the stream ended. */
    async next(name: string): Promise<Json> {
      for (;;) {
        const index = queue.findIndex((e) => e.event === name);
        if (index !== -1) return queue.splice(0, index + 1).at(-1)?.data;
        if (ended) return undefined;
        await fill();
      }
    },
    close() {
      controller.abort();
    },
  };
}

describe("JSON routes in the original design's shapes", () => {
  it("GET /api/circuit-breaker/health has the original design's keys in snake_case", async () => {
    const { supervisor, agents } = setup();
    const server = await serve(supervisor);
    await supervisor.route('x');
    await tripAgent(supervisor, agents, 'agent-2');
    const { status, body, headers } = await getJson(`${server.url}api/circuit-breaker/health`);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(body).toEqual({
      total_agents: 3,
      healthy_agents: 2,
      open_circuits: 1,
      half_open_circuits: 0,
      isolated_circuits: 0,
      routing_events: 6,
    });
  });

  it('GET /api/circuit-breaker/failures lists the newest first, with ?limit', async () => {
    const { supervisor, agents } = setup();
    const server = await serve(supervisor);
    await tripAgent(supervisor, agents, 'agent-1');
    const all = await getJson(`${server.url}api/circuit-breaker/failures`);
    expect(all.status).toBe(200);
    expect(all.body).toHaveLength(5);
    expect(all.body[0]).toEqual({
      task_id: 'task-4',
      agent_id: 'agent-1',
      status: 'FAILED',
      reason: 'agent-1: connection refused',
      timestamp: '1970-01-01T00:00:00.000Z',
      kind: 'failed',
      attempt: 1,
    });
    const one = await getJson(`${server.url}api/circuit-breaker/failures?limit=2`);
    expect(one.body.map((f: { task_id: string }) => f.task_id)).toEqual(['task-4', 'task-3']);
    for (const bad of ['0', '-1', 'abc', '1001', '2.5']) {
      const response = await getJson(`${server.url}api/circuit-breaker/failures?limit=${bad}`);
      expect(response.status, bad).toBe(400);
      expect(response.body.error.code).toBe('bad_request');
    }
  });

  it("GET /api/circuit-breaker/metrics has one record per agent in the original design's shape", async () => {
    const { supervisor, agents } = setup();
    const server = await serve(supervisor);
    await supervisor.route('x', { agents: ['agent-3'] });
    await tripAgent(supervisor, agents, 'agent-2');
    const { status, body } = await getJson(`${server.url}api/circuit-breaker/metrics`);
    expect(status).toBe(200);
    expect(body.map((m: { agent_id: string }) => m.agent_id)).toEqual(['agent-1', 'agent-2', 'agent-3']);
    expect(body[1]).toEqual({
      agent_id: 'agent-2',
      state: 'open',
      metrics: {
        failure_count: 5,
        success_count: 0,
        total_rejections: 0,
        last_failure_time: '1970-01-01T00:00:00.000Z',
        last_success_time: null,
        total_failures: 5,
      },
      backoff_seconds: 1,
    });
    expect(body[2].metrics.success_count).toBe(1);
    expect(body[2].metrics.last_success_time).toBe('1970-01-01T00:00:00.000Z');
  });

  it('GET /api/machines serves the breaker statechart with its named guards', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor);
    const { status, body } = await getJson(`${server.url}api/machines`);
    expect(status).toBe(200);
    const breaker = body.circuitBreaker;
    expect(breaker.id).toBe('circuitBreaker');
    expect(Object.keys(breaker.states).sort()).toEqual(['closed', 'half_open', 'isolated', 'open']);
    const trip = breaker.states.closed.transitions.find((t: { target?: string[] }) => t.target?.length);
    expect(trip.target).toEqual(['#circuitBreaker.open']);
    expect(trip.guard).toBe('failureThresholdReached');
    const probeTimer = breaker.states.open.transitions.find((t: { delay?: string }) => t.delay !== undefined);
    expect(probeTimer.delay).toBe('backoff');
    // The chart the breakers run: no probe lease to wait for without shared state.
    expect(breaker.states.half_open.invoke).toEqual([]);
  });

  it('GET /api/machines shows the probe-lease invoke when shared state provides the lease', async () => {
    const sync: BreakerSync = {
      probeLease: alwaysGrantedLease,
      attach: () => {},
      publish: () => {},
      detach: async () => {},
    };
    const supervisor = createSupervisor({ sync, agents: [{ id: 'a', run: async () => 'a' }] });
    const server = await serve(supervisor);
    const { body } = await getJson(`${server.url}api/machines`);
    expect(body.circuitBreaker.states.half_open.invoke.map((i: { src: string }) => i.src)).toEqual(['probeLease']);
  });

  it('GET /api/agents and /api/agents/:id give the tile rows; an unknown id is 404', async () => {
    const { supervisor, agents, clock } = setup(['a', 'b', '__proto__', 'x/y z']);
    const server = await serve(supervisor);
    await tripAgent(supervisor, agents, 'b');
    clock.increment(400);
    const list = await getJson(`${server.url}api/agents`);
    expect(list.body.map((a: { agent_id: string }) => a.agent_id)).toEqual(['a', 'b', '__proto__', 'x/y z']);
    const b = await getJson(`${server.url}api/agents/b`);
    expect(b.body).toMatchObject({ agent_id: 'b', state: 'open', failed: 5, error_rate: 1, retry_after_ms: 600 });
    const odd = await getJson(`${server.url}api/agents/${encodeURIComponent('x/y z')}`);
    expect(odd.body).toMatchObject({ agent_id: 'x/y z', state: 'closed', retry_after_ms: null });
    expect((await getJson(`${server.url}api/agents/__proto__`)).body.agent_id).toBe('__proto__');
    const missing = await getJson(`${server.url}api/agents/nobody`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: 'unknown_agent', message: 'No agent with this id' } });
    expect((await getJson(`${server.url}api/agents/%E0%A4%A`)).status).toBe(400);
  });

  it('GET /api/agents/:id is the same row as in GET /api/agents, whatever the counters', async () => {
    const clock = new SimulatedClock();
    type Mode = 'ok' | 'fail' | 'hang';
    const mode = new Map<string, Mode>([
      ['steady', 'ok'],
      ['tripped', 'fail'],
      ['slow', 'hang'],
      ['probing', 'fail'],
      ['held', 'ok'],
    ]);
    const supervisor = createSupervisor({
      clock,
      routing: { maxAttempts: 1, attemptTimeoutMs: 100 },
      agents: [...mode.keys()].map((id, i) => ({
        id,
        priority: i,
        run: (task: unknown) => {
          const now = mode.get(id);
          if (now === 'fail') return Promise.reject(new Error(`${id} refused`));
          if (now === 'hang') return new Promise<never>(() => {});
          return Promise.resolve(`${id}:${String(task)}`);
        },
      })),
    });
    const server = await serve(supervisor);
    /** `n` calls to `id` at once (all admitted by the state it is in now). */
    const route = (id: string, n: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => supervisor.route(i, { agents: [id] }).catch(() => {})));
    await route('steady', 3);
    // Two attempts cut off at 100 ms: timeouts, not failures.
    const cut = route('slow', 2);
    clock.increment(150);
    await cut;
    // Tripped, then half-open after its 1 s backoff: one probe succeeds.
    await route('probing', 5);
    clock.increment(1000);
    mode.set('probing', 'ok');
    await route('probing', 1);
    // Tripped, then called while open (not permitted), 400 ms into its backoff.
    await route('tripped', 5);
    await route('tripped', 2);
    clock.increment(400);
    supervisor.isolate('held');
    void route('slow', 1); // in flight while the rows are read

    const list = await getJson(`${server.url}api/agents`);
    const byId = new Map<string, Json>(list.body.map((row: Json) => [row.agent_id, row]));
    // Every counter a row carries is non-zero somewhere, so a row read another way would differ.
    expect(byId.get('steady')).toMatchObject({ successful: 3, priority: 0, error_rate: 0 });
    expect(byId.get('slow')).toMatchObject({ timeout: 2, failed: 0, in_flight: 1, error_rate: 1 });
    expect(byId.get('probing')).toMatchObject({ state: 'half_open', half_open_probes: 1, failed: 5, successful: 1 });
    expect(byId.get('tripped')).toMatchObject({
      state: 'open',
      not_permitted: 2,
      failure_count: 5,
      retry_after_ms: 600,
    });
    expect(byId.get('held')).toMatchObject({ state: 'isolated', retry_after_ms: null });
    for (const [id, row] of byId) {
      const one = await getJson(`${server.url}api/agents/${encodeURIComponent(id)}`);
      expect(one.status, id).toBe(200);
      expect(one.body, id).toEqual(row);
      // The row is read through getAgentStats, which must be that agent's getStats() entry.
      expect(supervisor.getAgentStats(id), id).toEqual(supervisor.getStats().agents.find((a) => a.agentId === id));
    }
    expect(supervisor.getAgentStats('nobody')).toBeUndefined();
  });

  it('answers wrong methods with 405 and Allow, unknown paths with a JSON 404', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor);
    const post = await getJson(`${server.url}api/circuit-breaker/health`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(post.body.error.code).toBe('method_not_allowed');
    expect((await getJson(`${server.url}metrics`, { method: 'DELETE' })).status).toBe(405);
    expect((await getJson(`${server.url}api/circuit-breaker/events`, { method: 'PUT' })).status).toBe(405);
    const missing = await getJson(`${server.url}api/nothing-here`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expect((await getJson(`${server.url}nothing.js`)).status).toBe(404);
    expect((await getJson(`${server.url}..%2Fpackage.json`)).status).toBe(404);
    const head = await fetch(`${server.url}api/circuit-breaker/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('never sends a stack trace: an internal error is a JSON 500', async () => {
    const { supervisor } = setup();
    const broken = new Proxy(supervisor, {
      get(target, key) {
        if (key === 'getHealthStatus') {
          return () => {
            throw new Error('secret internals at /srv/app.js:12');
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const onError = vi.fn();
    const server = await serve(broken, { onError });
    const { status, body } = await getJson(`${server.url}api/circuit-breaker/health`);
    expect(status).toBe(500);
    expect(body).toEqual({ error: { code: 'internal', message: 'Internal error' } });
    expect(onError).toHaveBeenCalledOnce();
  });
});

describe('isolate and reset', () => {
  it('are off (404) without a configured token', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor);
    const response = await getJson(`${server.url}api/agents/agent-1/isolate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(404);
    expect(supervisor.getAgent('agent-1')?.state).toBe('closed');
  });

  it('need the bearer token, then isolate and reset the circuit', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor, { token: TOKEN });
    const url = `${server.url}api/agents/agent-1`;
    const none = await getJson(`${url}/isolate`, { method: 'POST' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="breakerbox"');
    for (const authorization of [`Bearer ${TOKEN}x`, `Basic ${TOKEN}`, 'Bearer', `bearer  ${TOKEN.slice(1)}`]) {
      expect((await getJson(`${url}/isolate`, { method: 'POST', headers: { authorization } })).status).toBe(401);
    }
    expect(supervisor.getAgent('agent-1')?.state).toBe('closed');

    const auth = { authorization: `Bearer ${TOKEN}` };
    const isolated = await getJson(`${url}/isolate`, { method: 'POST', headers: auth });
    expect(isolated).toMatchObject({ status: 200, body: { agent_id: 'agent-1', state: 'isolated' } });
    expect(supervisor.getHealthStatus().isolatedCircuits).toBe(1);
    const reset = await getJson(`${url}/reset`, { method: 'POST', headers: auth });
    expect(reset).toMatchObject({ status: 200, body: { agent_id: 'agent-1', state: 'closed' } });

    expect((await getJson(`${url}/isolate`, { headers: auth })).status).toBe(405);
    const unknown = await getJson(`${server.url}api/agents/nobody/isolate`, { method: 'POST', headers: auth });
    expect(unknown.status).toBe(404);
  });

  it('still act while the supervisor drains; once it is stopped they answer 409 and change nothing', async () => {
    const clock = new SimulatedClock();
    let finishSlow: ((value: string) => void) | undefined;
    const supervisor = createSupervisor({
      clock,
      agents: [
        { id: 'slow', run: () => new Promise<string>((resolve) => (finishSlow = resolve)) },
        { id: 'other', run: async () => 'ok' },
      ],
    });
    const server = await serve(supervisor, { token: TOKEN });
    const post = { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } };
    const task = supervisor.route('t', { agents: ['slow'] });
    const stopped = supervisor.stop({ drainMs: 60_000 });
    expect(supervisor.phase).toBe('draining');
    // Draining still serves the in-flight task: its breakers still take commands.
    const whileDraining = await getJson(`${server.url}api/agents/other/isolate`, post);
    expect(whileDraining).toMatchObject({ status: 200, body: { agent_id: 'other', state: 'isolated' } });
    expect(supervisor.getAgent('other')?.state).toBe('isolated');

    finishSlow?.('done');
    expect(await task).toBe('done');
    await stopped;
    expect(supervisor.phase).toBe('stopped');
    for (const action of ['reset', 'isolate']) {
      const refused = await getJson(`${server.url}api/agents/other/${action}`, post);
      expect(refused.status, action).toBe(409);
      expect(refused.body, action).toEqual({ error: { code: 'stopped', message: 'The supervisor is stopped' } });
    }
    expect(supervisor.getAgent('other')?.state).toBe('isolated');
    expect((await getJson(`${server.url}api/agents/nobody/reset`, post)).status).toBe(404);
    // The supervisor refuses them itself: what the 409 reports.
    expect(() => supervisor.reset('other')).toThrow(SupervisorStoppedError);
    expect(() => supervisor.isolate('slow')).toThrow(SupervisorStoppedError);
    expect(() => supervisor.isolate('slow')).toThrow(/the supervisor is stopped/);
  });

  it('refuse oversized bodies with 413, declared or streamed', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor, { token: TOKEN, maxBodyBytes: 64 });
    const url = `${server.url}api/agents/agent-1/isolate`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const declared = await rawRequest(url, {
      method: 'POST',
      headers: { ...auth, 'content-length': '65', 'content-type': 'application/json' },
      chunks: ['x'.repeat(65)],
    });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body).error.code).toBe('payload_too_large');
    const streamed = await rawRequest(url, {
      method: 'POST',
      headers: { ...auth, 'transfer-encoding': 'chunked' },
      chunks: ['x'.repeat(40), 'y'.repeat(40)],
    });
    expect(streamed.status).toBe(413);
    expect(supervisor.getAgent('agent-1')?.state).toBe('closed');
    const small = await rawRequest(url, { method: 'POST', headers: auth, chunks: ['{"why":"test"}'] });
    expect(small.status).toBe(200);
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus text read from the counters at scrape time', async () => {
    const { supervisor, agents, clock } = setup(['a', 'b']);
    const server = await serve(supervisor);
    await tripAgent(supervisor, agents, 'b');
    await supervisor.route('x', { agents: ['b', 'a'] });
    const response = await fetch(`${server.url}metrics`);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).toContain('breakerbox_circuitbreaker_state{name="b",state="open"} 1');
    expect(text).toContain('breakerbox_circuitbreaker_state{name="b",state="closed"} 0');
    expect(text).toContain('breakerbox_circuitbreaker_state{name="a",state="closed"} 1');
    expect(text).toContain('breakerbox_circuitbreaker_calls_total{name="b",kind="failed"} 5');
    expect(text).toContain('breakerbox_circuitbreaker_calls_total{name="b",kind="not_permitted"} 0');
    expect(text).toContain('breakerbox_circuitbreaker_calls_total{name="a",kind="successful"} 1');
    expect(text).toContain('breakerbox_circuitbreaker_calls_total{name="b",kind="timeout"} 0');
    expect(text).toContain('# TYPE breakerbox_circuitbreaker_call_duration_seconds histogram');
    expect(text).toContain('breakerbox_circuitbreaker_call_duration_seconds_bucket{name="b",le="0.005"} 5');
    expect(text).toContain('breakerbox_circuitbreaker_call_duration_seconds_bucket{name="b",le="+Inf"} 5');
    expect(text).toContain('breakerbox_circuitbreaker_call_duration_seconds_count{name="b"} 5');
    expect(text).toContain('breakerbox_tasks_total{kind="successful"} 1');
    expect(text).toContain('breakerbox_tasks_total{kind="failed"} 5');
    expect(text).toContain('breakerbox_failovers_total 0');
    expect(text).toContain('breakerbox_circuitbreaker_open_to_half_open_total{name="b"} 0');

    // The next scrape reads the counters again: recovery shows without anything pushed.
    clock.increment(1000);
    (agents.get('b') as Agent).healthy = true;
    for (let i = 0; i < 3; i++) await supervisor.route('p', { agents: ['b'] });
    const again = await (await fetch(`${server.url}metrics`)).text();
    expect(again).toContain('breakerbox_circuitbreaker_state{name="b",state="closed"} 1');
    expect(again).toContain('breakerbox_circuitbreaker_open_to_half_open_total{name="b"} 1');
    expect(again).toContain('breakerbox_circuitbreaker_half_open_probes_total{name="b"} 3');
    expect(again).toContain('breakerbox_routing_events_total 9');
  });
});

describe('the visualizer files', () => {
  it('serves the page with a CSP that allows no inline script, and its modules', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor);
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="app.js"></script>');
    expect(html).not.toMatch(/<script>|https?:\/\//);
    const app = await fetch(`${server.url}app.js`);
    expect(app.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await app.text()).toContain("new EventSource('api/circuit-breaker/events')");
    expect((await fetch(`${server.url}style.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('leaves the page out with visualizer: false', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor, { visualizer: false });
    expect((await fetch(server.url)).status).toBe(404);
    expect((await fetch(`${server.url}api/circuit-breaker/health`)).status).toBe(200);
  });
});

describe('SSE: GET /api/circuit-breaker/events', () => {
  /** The supervisor with its transitions$ subscriptions counted. */
  function counted(supervisor: Supervisor) {
    const live = { subscribed: 0, unsubscribed: 0 };
    const tracked = defer(() => {
      live.subscribed++;
      return supervisor.transitions$;
    }).pipe(
      finalize(() => {
        live.unsubscribed++;
      }),
    );
    const proxy = new Proxy(supervisor, {
      get(target, key) {
        if (key === 'transitions$') return tracked;
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    return { proxy, live };
  }

  it('sends a frame at once, then transitions and failures; a client that leaves is dropped', async () => {
    const { supervisor, agents, clock } = setup(['a', 'b']);
    const { proxy, live } = counted(supervisor);
    const server = await serve(proxy, { frameIntervalMs: 20 });
    const events = await openEvents(`${server.url}api/circuit-breaker/events`);
    expect(events.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const first = await events.next('frame');
    expect(first.health).toMatchObject({ total_agents: 2, healthy_agents: 2 });
    expect(first.agents.map((a: { agent_id: string }) => a.agent_id)).toEqual(['a', 'b']);
    expect(server.handler.streamCount).toBe(1);

    await tripAgent(supervisor, agents, 'b');
    const failure = await events.next('failure');
    expect(failure).toMatchObject({ task_id: 'task-0', agent_id: 'b', status: 'FAILED' });
    const opened = await events.next('transition');
    expect(opened).toMatchObject({ agent_id: 'b', from: 'closed', to: 'open', retry_after_ms: 1000 });
    expect(opened.reason).toMatch(/^failure threshold reached/);
    const frame = await events.next('frame');
    expect(frame.health.open_circuits).toBe(1);
    expect(frame.agents.find((a: { agent_id: string }) => a.agent_id === 'b').state).toBe('open');

    clock.increment(1000);
    expect(await events.next('transition')).toMatchObject({ agent_id: 'b', from: 'open', to: 'half_open' });

    events.close();
    await vi.waitFor(() => expect(server.handler.streamCount).toBe(0));
    // One subscription for the handler (it keeps the recent events for late clients), none per client.
    const again = await openEvents(`${server.url}api/circuit-breaker/events`);
    await again.next('frame');
    again.close();
    await vi.waitFor(() => expect(server.handler.streamCount).toBe(0));
    expect(live).toEqual({ subscribed: 1, unsubscribed: 0 });
    await server.close();
    expect(live).toEqual({ subscribed: 1, unsubscribed: 1 });
  });

  it('caps the agents in a frame to the worst ones', async () => {
    const { supervisor, agents } = setup(['a', 'b', 'c']);
    const server = await serve(supervisor, { maxAgentsPerFrame: 2 });
    await supervisor.route('x', { agents: ['c'] });
    await tripAgent(supervisor, agents, 'b');
    const events = await openEvents(`${server.url}api/circuit-breaker/events`);
    const frame = await events.next('frame');
    expect(frame.agents_total).toBe(3);
    expect(frame.agents.map((a: { agent_id: string }) => a.agent_id)).toEqual(['b', 'c']);
    events.close();
    // The REST list is never capped.
    expect((await getJson(`${server.url}api/agents`)).body).toHaveLength(3);
  });

  it('caps concurrent streams with 503', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor, { maxStreams: 1 });
    const first = await openEvents(`${server.url}api/circuit-breaker/events`);
    await first.next('frame');
    const second = await getJson(`${server.url}api/circuit-breaker/events`);
    expect(second.status).toBe(503);
    expect(second.body.error.code).toBe('too_many_streams');
    first.close();
    await vi.waitFor(() => expect(server.handler.streamCount).toBe(0));
    const third = await openEvents(`${server.url}api/circuit-breaker/events`);
    expect((await third.next('frame')).health.total_agents).toBe(3);
    third.close();
  });

  it('ends every stream with an end event when the supervisor stops', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor);
    const events = await openEvents(`${server.url}api/circuit-breaker/events`);
    await events.next('frame');
    await supervisor.stop({ drainMs: 0 });
    expect(await events.next('end')).toEqual({});
    await vi.waitFor(() => expect(server.handler.streamCount).toBe(0));
  });

  it('close() of the server ends open streams', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor);
    const events = await openEvents(`${server.url}api/circuit-breaker/events`);
    await events.next('frame');
    await server.close();
    expect(await events.next('end')).toEqual({});
  });
});

describe('mounting', () => {
  it('works in Express under a prefix, passing other paths to next()', async () => {
    const { default: express } = await import('express');
    const { supervisor, agents } = setup();
    const handler = createDashboardHandler(supervisor);
    const app = express();
    app.get('/own', (_req, res) => {
      res.json({ own: true });
    });
    app.use('/dashboard', handler);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      await tripAgent(supervisor, agents, 'agent-1');
      const health = await getJson(`${base}/dashboard/api/circuit-breaker/health`);
      expect(health.body.open_circuits).toBe(1);
      const redirect = await fetch(`${base}/dashboard`, { redirect: 'manual' });
      expect(redirect.status).toBe(308);
      expect(redirect.headers.get('location')).toBe('/dashboard/');
      const page = await fetch(`${base}/dashboard/`);
      expect(await page.text()).toContain('<title>Breakerbox</title>');
      expect(await (await fetch(`${base}/dashboard/metrics`)).text()).toContain('breakerbox_circuitbreaker_state');
      expect((await getJson(`${base}/own`)).body).toEqual({ own: true });
      // Not the handler's: Express's own 404, reached through next().
      const other = await fetch(`${base}/dashboard/unknown/page`);
      expect(other.status).toBe(404);
      expect(other.headers.get('content-type')).toContain('text/html');
      // Under its /api/ every path is the handler's: a JSON 404 (issue 14, item 10).
      const api = await getJson(`${base}/dashboard/api/unknown`);
      expect(api.status).toBe(404);
      expect(api.body).toEqual({ error: { code: 'not_found', message: 'Not found' } });
    } finally {
      handler.close();
      await new Promise((resolve) => server.close(resolve));
      await supervisor.stop({ drainMs: 0 });
    }
  });

  it('works in node:http with basePath, and the plain server answers other paths', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor, { basePath: '/ops/breakers' });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ops\/breakers\/$/);
    expect((await getJson(`${server.url}api/circuit-breaker/health`)).body.total_agents).toBe(3);
    const bare = await fetch(server.url.slice(0, -1), { redirect: 'manual' });
    expect(bare.headers.get('location')).toBe('/ops/breakers/');
    expect((await fetch(new URL('/api/circuit-breaker/health', server.url))).status).toBe(404);
  });
});

describe('options', () => {
  it('are validated with ConfigError', async () => {
    const { supervisor } = setup();
    open.push({ supervisor });
    const bad: [unknown, string][] = [
      [{ token: 'short' }, 'token'],
      [{ token: 'has whitespace inside it' }, 'token'],
      [{ maxStreams: 0 }, 'maxStreams'],
      [{ frameIntervalMs: 1 }, 'frameIntervalMs'],
      [{ basePath: 'dashboard/' }, 'basePath'],
      [{ registry: {} }, 'registry'],
      [{ tokn: TOKEN }, 'tokn'],
    ];
    const thrown = (act: () => unknown): unknown => {
      try {
        act();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    for (const [options, field] of bad) {
      const error = thrown(() => createDashboardHandler(supervisor, options as never));
      expect(error, field).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe(field);
    }
    expect((() => createDashboardHandler({} as Supervisor)).bind(null)).toThrow(ConfigError);
    // serveDashboard reports a bad option as a rejection, the whole options object included.
    const serveBad: [unknown, string][] = [
      [{ port: 70_000 }, 'port'],
      [{ host: '' }, 'host'],
      [null, 'options'],
      [{ tokn: TOKEN }, 'tokn'],
    ];
    for (const [options, field] of serveBad) {
      const serving = serveDashboard(supervisor, options as never);
      await expect(serving, field).rejects.toBeInstanceOf(ConfigError);
      await expect(serving, field).rejects.toMatchObject({ field });
    }
    // The token never appears in the error.
    const tokenError = thrown(() => createDashboardHandler(supervisor, { token: 'short secret' }));
    expect(tokenError).toBeInstanceOf(ConfigError);
    expect((tokenError as ConfigError).field).toBe('token');
    expect((tokenError as ConfigError).message).not.toContain('short secret');
    expect(String((tokenError as ConfigError).value)).not.toContain('short secret');
  });

  it('serveDashboard listens on 127.0.0.1 by default and rejects a taken port', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor);
    expect(server.host).toBe('127.0.0.1');
    await expect(serveDashboard(supervisor, { port: server.port })).rejects.toThrow(/EADDRINUSE/);
  });

  it('on loopback answers only loopback host names (no DNS rebinding)', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor);
    const statusFor = async (host: string) =>
      (await rawRequest(`${server.url}api/circuit-breaker/health`, { method: 'GET', headers: { host } })).status;
    expect(await statusFor(`evil.example:${server.port}`)).toBe(421);
    expect(await statusFor(`127.0.0.1.evil.example:${server.port}`)).toBe(421);
    expect(await statusFor(`localhost:${server.port}`)).toBe(200);
    expect(await statusFor(`LocalHost:${server.port}`)).toBe(200);
    expect(await statusFor(`127.0.0.1:${server.port}`)).toBe(200);
    expect(await statusFor(`localhost:${server.port + 1}`)).toBe(421);
    expect(await statusFor(`[::1]:${server.port}`)).toBe(421); // bound to 127.0.0.1, not reachable as [::1]
  });
});

describe('loopbackHosts', () => {
  const hosts = (address: string, family: string) => [...loopbackHosts({ address, family, port: 4400 })].sort();
  it('accepts the names a loopback address is reached by, and no other loopback address', () => {
    expect(hosts('127.0.0.1', 'IPv4')).toEqual(['127.0.0.1:4400', 'localhost:4400']);
    expect(hosts('::1', 'IPv6')).toEqual(['[::1]:4400', 'localhost:4400']);
    // IPv4-mapped: reached as IPv4 too, and browsers send the normalized form.
    expect(hosts('::ffff:127.0.0.1', 'IPv6')).toEqual([
      '127.0.0.1:4400',
      '[::ffff:127.0.0.1]:4400',
      '[::ffff:7f00:1]:4400',
      'localhost:4400',
    ]);
  });

  it('accepts the bare names on port 80, which browsers leave out of Host', () => {
    expect([...loopbackHosts({ address: '127.0.0.1', family: 'IPv4', port: 80 })].sort()).toEqual([
      '127.0.0.1',
      '127.0.0.1:80',
      'localhost',
      'localhost:80',
    ]);
  });

  it('treats every IPv4-mapped 127.x address as loopback', () => {
    expect(isLoopbackAddress('::ffff:127.0.0.2')).toBe(true);
    expect(isLoopbackAddress('::ffff:10.0.0.1')).toBe(false);
    expect(isLoopbackAddress('0.0.0.0')).toBe(false);
  });
});
