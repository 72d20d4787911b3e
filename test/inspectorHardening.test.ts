/**
 * Issue 14, items 1 and 6, on the Stately inspector relay (`createInspector`):
 * - a request target that is not a URL (`//`, `///`, `http://`, `//[::1`) is answered 400 with the
 *   JSON error, for the page and for a WebSocket upgrade, and the process lives on (the relay runs in
 *   a child process, so that a throw would show as its exit);
 * - a viewer that stops reading is disconnected once its unread bytes pass the cap, so the relay's
 *   buffer for it stays bounded.
 * Real loopback servers and sockets only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createActor, createMachine } from 'xstate';
import { createInspector, type Inspector } from '../src/index.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const RELAY_MODULE = fileURLToPath(new URL('../src/inspection/inspectorRelay.ts', import.meta.url));

/** The request targets that make `new URL(target, base)` throw. */
const BAD_TARGETS = ['//', '///', 'http://', '//[::1'];

interface RawResponse {
  status: number | undefined;
  headers: string;
  body: string;
}

/** Sends `head` as raw bytes (so the target reaches the server as written) and reads until close. */
function rawRequest(port: number, head: string): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = () => {
      const [headers = '', body = ''] = text.split('\r\n\r\n', 2);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), headers, body });
    };
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', done);
    socket.write(head);
  });
}

describe('the inspector relay answers a request target that is not a URL with 400', () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('for the page and for a WebSocket upgrade, and the process lives on', async () => {
    dir = mkdtempSync(join(tmpdir(), 'breakerbox-inspector-'));
    const script = join(dir, 'relay.mjs');
    writeFileSync(
      script,
      `const { createInspector } = await import(${JSON.stringify(`file://${RELAY_MODULE}`)});
await createInspector({ port: 0, onReady: (url) => process.stdout.write(url + '\\n') });
`,
    );
    const running = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = running;
    let stderr = '';
    running.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      running.stdout?.on('data', (chunk) => {
        out += chunk;
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) resolve(line);
      });
      running.once('exit', (code) => reject(new Error(`relay exited (${code}): ${stderr}`)));
    });
    const port = Number(new URL(url).port);
    const host = `127.0.0.1:${port}`;

    for (const target of BAD_TARGETS) {
      const page = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect({ target, status: page.status }).toEqual({ target, status: 400 });
      expect(page.headers).toMatch(/content-type: application\/json/i);
      expect(JSON.parse(page.body)).toEqual({ error: { code: 'bad_request', message: expect.any(String) } });

      const upgrade = await rawRequest(
        port,
        `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      expect({ target, status: upgrade.status }).toEqual({ target, status: 400 });
      expect(upgrade.headers).toMatch(/content-type: application\/json/i);
      expect(JSON.parse(upgrade.body)).toEqual({ error: { code: 'bad_request', message: expect.any(String) } });
    }

    expect(running.exitCode).toBeNull();
    expect(stderr).toBe('');
    // Still serving: the page and a viewer's upgrade.
    const page = await rawRequest(port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(page.status).toBe(200);
    const viewer = new WebSocket(`ws://${host}/`, { origin: `http://${host}` });
    await new Promise<void>((resolve, reject) => {
      viewer.once('open', () => resolve());
      viewer.once('error', reject);
    });
    viewer.terminate();
  }, 30_000);
});

describe('the inspector relay disconnects a viewer that stops reading', () => {
  const started: Inspector[] = [];
  afterEach(async () => {
    for (const inspector of started.splice(0)) await inspector.stop();
  });

  /** A machine whose every snapshot carries `bytes` of context: inspection events of that size. */
  const bloatMachine = (bytes: number) =>
    createMachine({
      id: 'bloat',
      context: { filler: 'x'.repeat(bytes) },
      initial: 'a',
      states: { a: { on: { FLIP: 'b' } }, b: { on: { FLIP: 'a' } } },
    });

  /** A viewer of the relay's page, connected. */
  async function connectViewer(url: string): Promise<WebSocket> {
    const viewer = new WebSocket(url.replace('http:', 'ws:'), { origin: url.slice(0, -1) });
    await new Promise<void>((resolve, reject) => {
      viewer.once('open', () => resolve());
      viewer.once('error', reject);
    });
    return viewer;
  }

  /** The viewer stops (or starts again) reading: the kernel buffers fill, then the relay's. */
  const reading = (viewer: WebSocket, on: boolean) => {
    const socket = (viewer as unknown as { _socket: import('node:net').Socket })._socket;
    if (on) socket.resume();
    else socket.pause();
  };

  /**
   * The most bytes any relay-side socket held unsent just before a send, and the bytes the process's
   * inspector socket sent to the relay.
   */
  function watchServerSends() {
    const seen = { maxBuffered: 0, inspected: 0 };
    const proto = WebSocket.prototype as unknown as {
      send: (...args: unknown[]) => void;
      _isServer?: boolean;
      bufferedAmount: number;
    };
    const original = proto.send;
    proto.send = function (this: typeof proto, ...args: unknown[]) {
      if (this._isServer) seen.maxBuffered = Math.max(seen.maxBuffered, this.bufferedAmount);
      else seen.inspected += typeof args[0] === 'string' ? Buffer.byteLength(args[0]) : 0;
      return original.apply(this, args);
    };
    return { seen, restore: () => (proto.send = original) };
  }

  it('by default, before 4 MiB of live events wait unread for it', async () => {
    const inspector = await createInspector({ port: 0, onReady: () => {} });
    started.push(inspector);
    const cap = 4 << 20;
    // ~10 KB per snapshot, so that ~40 MB of events go to a viewer that reads none of them.
    const machine = bloatMachine(10_000);

    const viewer = await connectViewer(inspector.url);
    reading(viewer, false);
    let closed = false;
    viewer.on('close', () => {
      closed = true;
    });

    const watch = watchServerSends();
    try {
      const actor = createActor(machine, { inspect: inspector.inspect }).start();
      for (let round = 0; round < 40; round++) {
        for (let i = 0; i < 100; i++) actor.send({ type: 'FLIP' });
        // Let the events cross the inspector's socket to the relay.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      actor.stop();
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      watch.restore();
    }

    // ~4,000 snapshots of 10 KB (over 32 MiB) went to the relay; at most the cap (plus one message and
    // the short replay) ever waited in the relay for the viewer.
    expect(watch.seen.inspected).toBeGreaterThan(8 * cap);
    expect(watch.seen.maxBuffered).toBeLessThanOrEqual(cap + 64 * 1024);
    // The relay dropped it: once it reads again, it finds the connection closed.
    reading(viewer, true);
    for (let i = 0; i < 300 && !closed; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(closed).toBe(true);
  }, 30_000);

  it('at maxViewerBufferedBytes when given, which must be a positive integer', async () => {
    await expect(createInspector({ port: 0, onReady: () => {}, maxViewerBufferedBytes: 0 })).rejects.toThrow(
      /maxViewerBufferedBytes/,
    );
    await expect(createInspector({ port: 0, onReady: () => {}, maxViewerBufferedBytes: 1.5 })).rejects.toThrow(
      /maxViewerBufferedBytes/,
    );
    const inspector = await createInspector({ port: 0, onReady: () => {}, maxViewerBufferedBytes: 64 * 1024 });
    started.push(inspector);
    const machine = bloatMachine(10_000);
    const viewer = await connectViewer(inspector.url);
    reading(viewer, false);
    const watch = watchServerSends();
    try {
      const actor = createActor(machine, { inspect: inspector.inspect }).start();
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 100; i++) actor.send({ type: 'FLIP' });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      actor.stop();
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      watch.restore();
    }
    expect(watch.seen.inspected).toBeGreaterThan(4 << 20);
    expect(watch.seen.maxBuffered).toBeLessThanOrEqual(64 * 1024 + 64 * 1024);
    viewer.terminate();
  }, 30_000);

  it('after a large replay the viewer read, the cap holds for the live events that follow', async () => {
    const cap = 64 * 1024;
    const inspector = await createInspector({ port: 0, onReady: () => {}, maxViewerBufferedBytes: cap });
    started.push(inspector);
    const machine = bloatMachine(5_000);
    // ~400 actors of ~5 KB each: a replay of ~2 MB, far above the cap.
    const actors = Array.from({ length: 400 }, () => createActor(machine, { inspect: inspector.inspect }).start());
    await new Promise((resolve) => setTimeout(resolve, 200));
    const viewer = await connectViewer(inspector.url);
    let received = 0;
    viewer.on('message', () => received++);
    // It reads the whole replay, then stops reading.
    for (let i = 0; i < 200 && received < actors.length; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(received).toBeGreaterThanOrEqual(actors.length);
    reading(viewer, false);
    const watch = watchServerSends();
    try {
      const [actor] = actors;
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 100; i++) actor?.send({ type: 'FLIP' });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      watch.restore();
      for (const actor of actors) actor.stop();
    }
    expect(watch.seen.maxBuffered).toBeLessThanOrEqual(cap + 64 * 1024);
    viewer.terminate();
  }, 30_000);
});
