/**
 * The Stately inspector relay (`createInspector`): loopback only, events from the process's
 * `createWebSocketInspector` socket reach a viewer, a late viewer gets the actors replayed, other
 * origins are refused, `stop()` closes everything.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createActor, createMachine, type InspectionEvent } from 'xstate';
import { ConfigError, createInspector, type Inspector } from '../src/index.js';

/** Every event handed to a `createWebSocketInspector` socket, newest last (the real one still runs). */
const handedOver = vi.hoisted(() => [] as InspectionEvent[]);
vi.mock('@statelyai/inspect', async (importOriginal) => {
  const original = await importOriginal<typeof import('@statelyai/inspect')>();
  return {
    ...original,
    createWebSocketInspector: (...args: Parameters<typeof original.createWebSocketInspector>) => {
      const inspector = original.createWebSocketInspector(...args);
      const next = inspector.inspect.next;
      inspector.inspect.next = (event: InspectionEvent) => {
        handedOver.push(event);
        next?.(event);
      };
      return inspector;
    },
  };
});

const toggle = createMachine({
  id: 'toggle',
  initial: 'off',
  states: { off: { on: { FLIP: 'on' } }, on: { on: { FLIP: 'off' } } },
});

const started: Inspector[] = [];
afterEach(async () => {
  for (const inspector of started.splice(0)) await inspector.stop();
});

async function start(): Promise<Inspector> {
  const inspector = await createInspector({ port: 0, onReady: () => {} });
  started.push(inspector);
  return inspector;
}

/** A viewer socket collecting every message; resolves once open. */
function viewer(url: string, origin: string, headers?: Record<string, string>) {
  const socket = new WebSocket(url.replace('http:', 'ws:'), { origin, ...(headers ? { headers } : {}) });
  const messages: { type: string; name?: string; sessionId: string; snapshot?: { value?: unknown } }[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(data.toString())));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  return { socket, messages, opened };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

function get(url: string, host?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: host ? { host } : {} }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('createInspector', () => {
  it('serves the bridge page on 127.0.0.1 with a CSP and no inline script', async () => {
    const inspector = await start();
    expect(inspector.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(inspector.url);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.body).toContain('<script type="module" src="/bridge.js"></script>');
    expect(page.body).toContain('https://stately.ai/inspect');
    expect((await get(`${inspector.url}bridge.js`)).body).toContain("new WebSocket('ws://' + location.host + '/')");
    // DNS rebinding: another Host name is refused; only the printed address is its own (a page
    // at http://localhost:port may be another process's, on [::1]). Host names are case-insensitive.
    expect((await get(inspector.url, 'evil.example')).status).toBe(421);
    const port = new URL(inspector.url).port;
    expect((await get(inspector.url, `evil.example:${port}`)).status).toBe(421);
    const refused = await get(inspector.url, `localhost:${port}`);
    expect(refused.status).toBe(421);
    expect(refused.body).toContain(`open ${inspector.url}`);
    expect((await get(inspector.url, `[::1]:${port}`)).status).toBe(421);
    expect((await get(inspector.url, `127.0.0.1:${port}`.toUpperCase())).status).toBe(200);
  });

  it('refuses a viewer socket addressed to another host name, or from a page served as localhost', async () => {
    const inspector = await start();
    const origin = inspector.url.slice(0, -1);
    const port = new URL(inspector.url).port;
    // verifyClient's refusal is a 401 to the upgrade, not any failure to connect.
    await expect(viewer(inspector.url, origin, { host: `evil.example:${port}` }).opened).rejects.toThrow(/^HTTP 401$/);
    await expect(viewer(inspector.url, `http://localhost:${port}`).opened).rejects.toThrow(/^HTTP 401$/);
    const own = viewer(inspector.url, origin, { host: `127.0.0.1:${port}` });
    await own.opened;
    own.socket.close();
  });

  it('relays actor events to a viewer, replays actors to a late one, refuses other origins', async () => {
    const inspector = await start();
    const origin = inspector.url.slice(0, -1);
    const early = viewer(inspector.url, origin);
    await early.opened;
    const actor = createActor(toggle, { inspect: inspector.inspect }).start();
    actor.send({ type: 'FLIP' });
    await until(() => early.messages.some((m) => m.type === '@xstate.snapshot' && m.snapshot?.value === 'on'));
    expect(early.messages.find((m) => m.type === '@xstate.actor')?.name).toBe('toggle');

    const late = viewer(inspector.url, origin);
    await late.opened;
    await until(() => late.messages.some((m) => m.type === '@xstate.actor'));

    const foreign = viewer(inspector.url, 'https://evil.example');
    await expect(foreign.opened).rejects.toThrow();
    actor.stop();
    early.socket.close();
    late.socket.close();
  });

  it('stop() closes the relay and turns inspect into a no-op', async () => {
    const inspector = await start();
    // Before stop() the events reach the inspector's socket: the count compared below does move.
    const earlier = handedOver.length;
    createActor(toggle, { inspect: inspector.inspect }).start().stop();
    expect(handedOver.length).toBeGreaterThan(earlier);

    await inspector.stop();
    await expect(get(inspector.url)).rejects.toThrow(/ECONNREFUSED/);
    const handed = handedOver.length;
    const actor = createActor(toggle, { inspect: inspector.inspect }).start();
    actor.send({ type: 'FLIP' });
    actor.stop();
    expect(handedOver.length).toBe(handed);
    await inspector.stop();
  });

  it('validates its options', async () => {
    await expect(createInspector({ port: -1 })).rejects.toThrow(ConfigError);
    await expect(createInspector({ port: 1.5 })).rejects.toThrow(ConfigError);
    await expect(createInspector({ nope: true } as never)).rejects.toThrow(ConfigError);
  });
});
