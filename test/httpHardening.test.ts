/**
 * Issue 14, the HTTP items: each test on real loopback servers and sockets, through the public API.
 * 2 (timers): no callback of the SSE module throws out; 4: the handler's Host allow-list; 5: idle
 * streams get one frame, then keepalives; 8: a truncated POST does nothing; 9: serveDashboard's
 * short timeouts; 10: a mounted handler owns its /api/; 11: a late dashboard gets recent events.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { config as rxjsConfig } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  ConfigError,
  createDashboardHandler,
  createSupervisor,
  type DashboardHandler,
  type DashboardOptions,
  type DashboardServer,
  type Supervisor,
  serveDashboard,
} from '../src/index.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field
type Json = any;

const TOKEN = 'test-token-0123456789abcdef';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What RxJS would otherwise rethrow in a timeout (an uncaught exception). */
let rxjsUnhandled: unknown[] = [];
beforeEach(() => {
  rxjsUnhandled = [];
  rxjsConfig.onUnhandledError = (error) => rxjsUnhandled.push(error);
  cleanups.push(() => {
    rxjsConfig.onUnhandledError = null;
  });
});

function setup(options: { clock?: boolean } = {}) {
  const clock = new SimulatedClock();
  const healthy = new Map<string, boolean>([
    ['agent-1', true],
    ['agent-2', true],
  ]);
  const supervisor = createSupervisor({
    ...(options.clock === false ? {} : { clock }),
    routing: { maxAttempts: 1 },
    agents: [...healthy.keys()].map((id) => ({
      id,
      run: async (task: unknown) => {
        if (!healthy.get(id)) throw new Error(`${id}: connection refused`);
        return `${id}:${String(task)}`;
      },
    })),
  });
  cleanups.push(() => supervisor.stop({ drainMs: 0 }));
  const trip = async (id: string) => {
    healthy.set(id, false);
    for (let i = 0; i < 5; i++) await supervisor.route(i, { agents: [id], taskId: `${id}-task-${i}` }).catch(() => {});
  };
  return { supervisor, clock, trip };
}

async function serve(supervisor: Supervisor, options: Parameters<typeof serveDashboard>[1] = {}) {
  const server = await serveDashboard(supervisor, { port: 0, ...options });
  cleanups.push(() => server.close());
  return server;
}

/** The handler in a plain node:http server on 127.0.0.1, as the README mounts it. */
async function mountPlain(supervisor: Supervisor, options: DashboardOptions = {}) {
  const handler = createDashboardHandler(supervisor, options);
  const server = createServer(handler);
  await listen(server, handler);
  return { handler, server, base: `http://127.0.0.1:${port(server)}` };
}

/** The handler under Express's `app.use('/dashboard', handler)` on 127.0.0.1. */
async function mountExpress(supervisor: Supervisor, options: DashboardOptions = {}) {
  const { default: express } = await import('express');
  const handler = createDashboardHandler(supervisor, options);
  const app = express();
  app.use('/dashboard', handler);
  const server = createServer(app);
  await listen(server, handler);
  return { handler, server, base: `http://127.0.0.1:${port(server)}/dashboard` };
}

async function listen(server: Server, handler: DashboardHandler): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        handler.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
}

const port = (server: Server) => (server.address() as { port: number }).port;

/** A request with any Host header (fetch will not send one). */
function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** An SSE stream read from a raw request: every event, in order, and every raw chunk. */
function openSse(url: string, headers: Record<string, string> = {}) {
  const events: SseEvent[] = [];
  let raw = '';
  let buffer = '';
  const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      raw += chunk;
      buffer += chunk;
      let cut = buffer.indexOf('\n\n');
      while (cut !== -1) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event: SseEvent = { event: 'message', data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) event.id = line.slice(4);
          else if (line.startsWith('event: ')) event.event = line.slice(7);
          else if (line.startsWith('data: ')) event.data += line.slice(6);
        }
        if (event.data !== '') events.push(event);
        cut = buffer.indexOf('\n\n');
      }
    });
  });
  req.on('error', () => {});
  req.end();
  cleanups.push(() => req.destroy());
  return {
    events,
    raw: () => raw,
    named: (name: string): Json[] => events.filter((e) => e.event === name).map((e) => JSON.parse(e.data)),
    close: () => req.destroy(),
  };
}

describe('item 4: createDashboardHandler checks Host like serveDashboard (no DNS rebinding)', () => {
  it('answers 421 to a foreign Host in node:http and Express mounts on 127.0.0.1', async () => {
    const { supervisor } = setup();
    for (const mount of [mountPlain, mountExpress]) {
      const { base, server } = await mount(supervisor);
      const url = `${base}/api/circuit-breaker/failures`;
      const foreign = await request(url, { headers: { host: `attacker.example:${port(server)}` } });
      expect(foreign.status, mount.name).toBe(421);
      expect(JSON.parse(foreign.body), mount.name).toEqual({
        error: { code: 'misdirected_request', message: expect.any(String) },
      });
      expect((await request(url, { headers: { host: `127.0.0.1:${port(server)}` } })).status).toBe(200);
      expect((await request(url, { headers: { host: `LOCALHOST:${port(server)}` } })).status).toBe(200);
      expect((await request(url, { headers: { host: `localhost:${port(server) + 1}` } })).status).toBe(421);
    }
  });

  it('allowedHosts admits the names a reverse proxy passes; true turns the check off', async () => {
    const { supervisor } = setup();
    const { base, server } = await mountPlain(supervisor, {
      allowedHosts: ['dash.example.com', 'ops.example.com:8443'],
    });
    const status = async (host: string) =>
      (await request(`${base}/api/circuit-breaker/health`, { headers: { host } })).status;
    expect(await status('dash.example.com')).toBe(200);
    expect(await status('Dash.Example.com:443')).toBe(200);
    expect(await status('ops.example.com:8443')).toBe(200);
    expect(await status('ops.example.com')).toBe(421);
    expect(await status('evil.example')).toBe(421);
    expect(await status(`127.0.0.1:${port(server)}`)).toBe(200);

    const open = await mountPlain(supervisor, { allowedHosts: true });
    expect((await request(`${open.base}/api/agents`, { headers: { host: 'anything.example' } })).status).toBe(200);
  });

  it('validates allowedHosts with a ConfigError naming the field', () => {
    const { supervisor } = setup();
    const fieldOf = (allowedHosts: unknown) => {
      try {
        createDashboardHandler(supervisor, { allowedHosts } as never);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).field;
      }
      return undefined;
    };
    expect(fieldOf('dash.example.com')).toBe('allowedHosts');
    expect(fieldOf(false)).toBe('allowedHosts');
    expect(fieldOf([''])).toBe('allowedHosts[0]');
    expect(fieldOf(['ok.example', 'has space'])).toBe('allowedHosts[1]');
    expect(fieldOf(['http://x.example'])).toBe('allowedHosts[0]');
    expect(fieldOf([42])).toBe('allowedHosts[0]');
    expect(fieldOf(['x.example', '[::1]:4400', '10.0.0.2'])).toBeUndefined();
    expect(fieldOf(true)).toBeUndefined();
  });
});

describe('item 5: an idle dashboard gets one frame, then keepalives', () => {
  it('does not resend a frame whose only change is the clock timestamp', async () => {
    // The real clock: the timestamp moves every tick while nothing else does.
    const { supervisor } = setup({ clock: false });
    const server = await serve(supervisor, { frameIntervalMs: 20 });
    const sse = openSse(`${server.url}api/circuit-breaker/events`);
    await vi.waitFor(() => expect(sse.named('frame')).toHaveLength(1));
    await sleep(400); // 20 ticks
    expect(sse.named('frame')).toHaveLength(1);
    // A real change is still sent, with the timestamp.
    await supervisor.route('x', { agents: ['agent-1'] });
    await vi.waitFor(() => expect(sse.named('frame')).toHaveLength(2));
    const [first, second] = sse.named('frame');
    expect(second.tasks.succeeded).toBe(first.tasks.succeeded + 1);
    expect(Object.keys(second)[0]).toBe('timestamp');
    expect(Date.parse(second.timestamp)).toBeGreaterThanOrEqual(Date.parse(first.timestamp));
  });
});

describe('item 8: a truncated authenticated POST does nothing', () => {
  /** POST isolate with a declared 100-byte body over a raw socket; `finish` after 10 bytes. */
  async function truncatedIsolate(server: DashboardServer, finish: 'destroy' | 'end' | 'complete'): Promise<void> {
    const socket = connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.on('error', () => {});
    const body = finish === 'complete' ? 'x'.repeat(100) : 'x'.repeat(10);
    socket.write(
      `POST /api/agents/agent-1/isolate HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n` +
        `Authorization: Bearer ${TOKEN}\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n${body}`,
    );
    await sleep(50); // the server has the headers and the 10 bytes: the handler is reading the body
    if (finish === 'destroy') socket.destroy();
    else if (finish === 'end') socket.end();
    await sleep(200);
    socket.destroy();
  }

  it('a client gone mid-body (reset or half-closed) isolates nothing; a complete one does', async () => {
    const { supervisor } = setup();
    const onError = vi.fn();
    const server = await serve(supervisor, { token: TOKEN, onError });
    await truncatedIsolate(server, 'destroy');
    expect(supervisor.getAgent('agent-1')?.state).toBe('closed');
    await truncatedIsolate(server, 'end');
    expect(supervisor.getAgent('agent-1')?.state).toBe('closed');
    expect(onError).not.toHaveBeenCalled();
    // The same request with its whole body acts: the test reaches the route.
    await truncatedIsolate(server, 'complete');
    expect(supervisor.getAgent('agent-1')?.state).toBe('isolated');
    expect(onError).not.toHaveBeenCalled();
  });
});

describe('item 9: serveDashboard gives slow clients short timeouts', () => {
  it('sets headersTimeout and requestTimeout to 10 s, checked every second', async () => {
    const { supervisor } = setup();
    const server = await serve(supervisor);
    expect(server.server.headersTimeout).toBe(10_000);
    expect(server.server.requestTimeout).toBe(10_000);
    // SSE responses are output, not the request: a stream outlives requestTimeout.
    expect(server.server.requestTimeout).toBeLessThan(300_000);
  });
});

describe('item 10: a mounted handler owns every path under its /api/', () => {
  it('answers POST .../isolate without a token, and unknown /api/ paths, with JSON errors under Express', async () => {
    const { supervisor } = setup();
    const { base } = await mountExpress(supervisor);
    for (const [method, path] of [
      ['POST', '/api/agents/agent-1/isolate'],
      ['POST', '/api/agents/agent-1/reset'],
      ['GET', '/api/agents/agent-1/unknown'],
      ['GET', '/api/nothing/here'],
      ['DELETE', '/api/'],
    ] as const) {
      const answer = await request(`${base}${path}`, { method });
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.type, `${method} ${path}`).toBe('application/json; charset=utf-8');
      expect(JSON.parse(answer.body)).toEqual({ error: { code: 'not_found', message: 'Not found' } });
    }
    expect(supervisor.getAgent('agent-1')?.state).toBe('closed');
    // With a token, an unauthenticated POST is the JSON 401.
    const withToken = await mountExpress(supervisor, { token: TOKEN });
    const unauthenticated = await request(`${withToken.base}/api/agents/agent-1/isolate`, { method: 'POST' });
    expect(unauthenticated.status).toBe(401);
    expect(JSON.parse(unauthenticated.body).error.code).toBe('unauthorized');
  });
});

describe('item 11: a dashboard opened late gets the recent failures and transitions', () => {
  it('replays them, oldest first and with ids, before its first frame; Last-Event-ID skips what was seen', async () => {
    const { supervisor, trip } = setup();
    await trip('agent-2'); // before the handler exists: failures the supervisor kept
    const server = await serve(supervisor);
    await trip('agent-1'); // after: failures and the transition, kept by the handler
    const sse = openSse(`${server.url}api/circuit-breaker/events`);
    await vi.waitFor(() => expect(sse.named('frame')).toHaveLength(1));
    const beforeFrame = sse.events.slice(
      0,
      sse.events.findIndex((e) => e.event === 'frame'),
    );
    const failures = beforeFrame.filter((e) => e.event === 'failure').map((e) => JSON.parse(e.data));
    const transitions = beforeFrame.filter((e) => e.event === 'transition').map((e) => JSON.parse(e.data));
    expect(failures.map((f) => f.task_id)).toEqual([
      ...[0, 1, 2, 3, 4].map((i) => `agent-2-task-${i}`),
      ...[0, 1, 2, 3, 4].map((i) => `agent-1-task-${i}`),
    ]);
    expect(transitions).toEqual([expect.objectContaining({ agent_id: 'agent-1', from: 'closed', to: 'open' })]);
    const ids = beforeFrame.map((e) => Number(e.id));
    expect(ids.every((id) => id > 0)).toBe(true);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);

    // A reconnect that saw everything gets no replay; one that saw half gets the rest.
    const last = String(ids.at(-1));
    const resumed = openSse(`${server.url}api/circuit-breaker/events`, { 'last-event-id': last });
    await vi.waitFor(() => expect(resumed.named('frame')).toHaveLength(1));
    expect(resumed.events.map((e) => e.event)).toEqual(['frame']);
    const half = openSse(`${server.url}api/circuit-breaker/events`, { 'last-event-id': String(ids[4]) });
    await vi.waitFor(() => expect(half.named('frame')).toHaveLength(1));
    expect(half.events.slice(0, -1).map((e) => Number(e.id))).toEqual(ids.slice(5));
  });
});

describe('item 2 (timers in src/http): no callback of ours throws out', () => {
  it('a frame that cannot be built is reported once; the stream lives on and recovers', async () => {
    const { supervisor } = setup();
    let broken = false;
    const faulty = new Proxy(supervisor, {
      get(target, key) {
        if (key === 'getStats' && broken)
          return () => {
            throw new RangeError('Invalid time value');
          };
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const onError = vi.fn();
    const server = await serve(faulty, { frameIntervalMs: 20, onError });
    const sse = openSse(`${server.url}api/circuit-breaker/events`);
    await vi.waitFor(() => expect(sse.named('frame')).toHaveLength(1));
    broken = true;
    await sleep(200); // ~10 ticks, each throwing inside the ticker's setInterval
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]?.[0]).toBeInstanceOf(RangeError);
    expect(server.handler.streamCount).toBe(1);
    broken = false;
    await supervisor.route('x', { agents: ['agent-1'] });
    await vi.waitFor(() => expect(sse.named('frame')).toHaveLength(2));
    expect(onError).toHaveBeenCalledTimes(1);
  });

  it('a transition that cannot be serialized is reported, not rethrown by RxJS', async () => {
    const { supervisor, trip } = setup();
    let broken = false;
    const faulty = new Proxy(supervisor, {
      get(target, key) {
        if (key === 'getAgent' && broken)
          return () => {
            throw new Error('getAgent failed');
          };
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const onError = vi.fn();
    const server = await serve(faulty, { onError });
    const sse = openSse(`${server.url}api/circuit-breaker/events`);
    await vi.waitFor(() => expect(sse.named('frame')).toHaveLength(1));
    broken = true;
    await trip('agent-1'); // closed → open: transitionJson reads getAgent for retry_after_ms
    broken = false;
    await sleep(20);
    expect(rxjsUnhandled).toEqual([]);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(String(onError.mock.calls[0]?.[0])).toContain('getAgent failed');
  });
});
