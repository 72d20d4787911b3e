/**
 * The Stately inspector, wired through `@statelyai/inspect` (the XState v5 successor of
 * `@xstate/inspect`, which supports only XState v4).
 *
 * `createInspector()` starts a small relay on a loopback port: the process's inspection events go
 * to it over `createWebSocketInspector`'s WebSocket, and the page it serves at `url` embeds the
 * Stately inspector (https://stately.ai/inspect) and forwards every event to it. A browser that
 * opens the page late still sees every actor: the relay keeps each actor's registration and the
 * most recent events, and replays them to each new viewer.
 *
 * It listens on 127.0.0.1 only, accepts viewers only from its own page (WebSocket `Origin` and
 * `Host` are checked, so another web site cannot read the events), and the process's own socket
 * presents a random key. A request target that is not a URL (`//`, `http://`) is answered 400, page
 * or WebSocket upgrade alike; a viewer that stops reading is disconnected once `maxViewerBufferedBytes`
 * of live events wait unread for it, as the dashboard's event streams do. Inspection is opt-in (about 35 µs per event, and the socket keeps Node
 * alive): `stop()` closes everything so the process can exit.
 *
 * `@statelyai/inspect` and `ws` are optional dependencies, loaded only when this runs.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { InspectionEvent } from 'xstate';
import { BreakerboxError } from '../common/errors.js';
import { checkFunction, checkKnownKeys, checkNumber, checkPlainObject, optional } from '../common/validate.js';
import { allowedHost, withPort } from '../http/loopbackHosts.js';
import { sendError } from '../http/respond.js';

export interface InspectorOptions {
  /** Loopback port of the relay; 0 picks a free one. Default 0. */
  port?: number;
  /** Called once with the page to open. Default: prints how to open it with `console.log`. */
  onReady?: (url: string) => void;
  /**
   * A viewer (browser tab) that leaves more than this many bytes of live events unread is
   * disconnected, rather than buffered without bound; what it was sent on connecting (the replay)
   * does not count. It reconnects by reloading the page. Default 4 MiB.
   */
  maxViewerBufferedBytes?: number;
}

export interface Inspector {
  /** Pass as XState's `inspect` option (`createActor(machine, { inspect })`). A no-op after `stop()`. */
  inspect: (event: InspectionEvent) => void;
  /** The page that shows the Stately inspector, e.g. `http://127.0.0.1:4401/`. */
  url: string;
  /** Closes the inspector's socket, every viewer and the relay server. */
  stop(): Promise<void>;
}

/** Where the embedded inspector UI lives. */
const STATELY_INSPECTOR_URL = 'https://stately.ai/inspect';
/** Recent non-registration events replayed to a viewer that connects late. */
const REPLAY_EVENTS = 500;
/** Actor registrations kept for replay. */
const MAX_ACTORS = 20_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** Default `maxViewerBufferedBytes`. */
const MAX_VIEWER_BUFFERED_BYTES = 4 << 20;
/** The body of the 400 for a request target that is not a URL, page or upgrade alike. */
const BAD_TARGET = { code: 'bad_request', message: 'The request target is not a valid path' };

type WsModule = typeof import('ws');
type InspectModule = typeof import('@statelyai/inspect');

async function loadOptional(): Promise<{ ws: WsModule; inspect: InspectModule }> {
  try {
    const [ws, inspect] = await Promise.all([import('ws'), import('@statelyai/inspect')]);
    return { ws, inspect };
  } catch (error) {
    throw new BreakerboxError(
      `The Stately inspector needs the optional dependencies @statelyai/inspect and ws (npm install @statelyai/inspect ws): ${
        (error as Error).message
      }`,
    );
  }
}

/** Throws `ConfigError` naming the first invalid inspector option (also `createSupervisor`'s `inspect`). */
export function validateInspectorOptions(options: unknown): asserts options is InspectorOptions {
  checkPlainObject(options, 'inspect');
  checkKnownKeys(options, 'inspect', ['port', 'onReady', 'maxViewerBufferedBytes']);
  optional(options.port, (port) => checkNumber(port, 'inspect.port', { min: 0, max: 65_535, integer: true }));
  optional(options.onReady, (onReady) => checkFunction(onReady, 'inspect.onReady'));
  optional(options.maxViewerBufferedBytes, (bytes) =>
    checkNumber(bytes, 'inspect.maxViewerBufferedBytes', { min: 1, integer: true }),
  );
}

/**
 * Starts the relay and the WebSocket inspector; resolves when the inspector's socket is connected.
 * Throws `ConfigError` for an invalid option, `BreakerboxError` when the optional dependencies are
 * missing; rejects with the system error when the port is taken.
 *
 * @example
 * const inspector = await createInspector({ port: 4401 });
 * const actor = createActor(machine, { inspect: inspector.inspect }).start();
 * // open inspector.url in a browser …
 * await inspector.stop();
 */
export async function createInspector(options: InspectorOptions = {}): Promise<Inspector> {
  validateInspectorOptions(options);
  const { ws, inspect: stately } = await loadOptional();
  const key = randomBytes(16).toString('hex');
  const maxViewerBuffered = options.maxViewerBufferedBytes ?? MAX_VIEWER_BUFFERED_BYTES;
  const actors = new Map<string, string>();
  const recent: string[] = [];
  const sockets = new Set<Socket>();

  let hosts: ReadonlySet<string> = new Set(); // set once listening
  const server = createServer((req, res) => servePage(req, res, hosts, url));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  // Only the address it prints: another process may serve a page on [::1] at the same port, which
  // a browser reaches as http://localhost:port, and that origin must not read the events.
  hosts = withPort(['127.0.0.1'], port);
  const ownOrigins = new Set([...hosts].map((host) => `http://${host}`));

  let appConnected!: () => void;
  const connected = new Promise<void>((resolve) => {
    appConnected = resolve;
  });
  const wss = new ws.WebSocketServer({
    server,
    maxPayload: 16 << 20,
    // The callback form, to answer a target that is not a URL with a 400 rather than throw.
    verifyClient: (
      { req }: { req: IncomingMessage },
      done: (verified: boolean, code?: number, message?: string, headers?: Record<string, string>) => void,
    ) => {
      if (allowedHost(req, hosts) === undefined) return done(false);
      const url = parseTarget(req);
      if (url === undefined) {
        return done(false, 400, JSON.stringify({ error: BAD_TARGET }), {
          'Content-Type': 'application/json; charset=utf-8',
        });
      }
      if (isApp(url, key)) return done(true);
      const origin = req.headers.origin;
      done(origin === undefined || ownOrigins.has(origin));
    },
  });
  /** Each viewer with the unread bytes at which it is disconnected. */
  const viewers = new Map<import('ws').WebSocket, number>();
  wss.on('connection', (socket, req) => {
    if (isApp(parseTarget(req), key)) {
      appConnected();
      socket.on('message', (data) => relay(data.toString()));
      return;
    }
    socket.on('close', () => viewers.delete(socket));
    socket.on('error', () => viewers.delete(socket));
    // Viewers only listen: what they send is ignored.
    for (const message of actors.values()) socket.send(message);
    for (const message of recent) socket.send(message);
    // The replay is bounded by what the relay keeps; the cap is on live events left unread after it.
    viewers.set(socket, socket.bufferedAmount + maxViewerBuffered);
  });

  function relay(message: string): void {
    let parsed: { type?: unknown; sessionId?: unknown } | undefined;
    try {
      parsed = JSON.parse(message) as typeof parsed;
    } catch {
      return;
    }
    if (parsed?.type === '@xstate.actor' && typeof parsed.sessionId === 'string') {
      if (actors.size < MAX_ACTORS || actors.has(parsed.sessionId)) actors.set(parsed.sessionId, message);
    } else {
      recent.push(message);
      if (recent.length > REPLAY_EVENTS) recent.shift();
    }
    for (const [viewer, replayLimit] of viewers) {
      if (viewer.readyState !== viewer.OPEN) continue;
      // The limit falls as the replay drains (bytes the viewer read no longer count towards it), so
      // live events never pile up beyond the cap after a large replay. Checked before sending, as
      // the event streams do: one message may overshoot, never more.
      const buffered = viewer.bufferedAmount;
      const limit = Math.min(replayLimit, buffered + maxViewerBuffered);
      if (limit < replayLimit) viewers.set(viewer, limit);
      if (buffered > limit) {
        viewers.delete(viewer);
        viewer.terminate();
        continue;
      }
      viewer.send(message);
    }
  }

  // The adapter keeps only its last `maxDeferredEvents` (200 by default) until its socket opens; the
  // supervisor flushes every actor's registration into it at once, so keep as many as the relay does.
  const inspector = stately.createWebSocketInspector({
    url: `ws://127.0.0.1:${port}/app?key=${key}`,
    maxDeferredEvents: MAX_ACTORS + REPLAY_EVENTS,
  });
  // Closing a socket that is still connecting makes the adapter retry forever: wait until it is open.
  let timeout: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      connected,
      new Promise<never>((_, reject) => {
        timeout = setTimeout(
          () => reject(new BreakerboxError('The inspector could not connect to its relay')),
          CONNECT_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    await shutdown();
    throw error;
  } finally {
    clearTimeout(timeout);
  }

  /** Set by `stop()`: from then on `inspect` is a no-op. */
  let stopping: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    inspector.stop();
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  }

  if (options.onReady) options.onReady(url);
  else console.log(`Stately inspector: open ${url} in a browser (it embeds ${STATELY_INSPECTOR_URL})`);

  return {
    url,
    inspect: (event) => {
      if (stopping === undefined) inspector.inspect.next?.(event);
    },
    stop() {
      stopping ??= shutdown();
      return stopping;
    },
  };
}

/**
 * The request target as a URL, or undefined when it is not one: `//`, `///`, `http://` and `//[::1`
 * reach the server as they are and make `new URL` throw.
 */
function parseTarget(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

function isApp(url: URL | undefined, key: string): boolean {
  return url?.pathname === '/app' && url.searchParams.get('key') === key;
}

/** The bridge page: the Stately inspector in an iframe, fed from the relay's WebSocket. */
function servePage(req: IncomingMessage, res: ServerResponse, hosts: ReadonlySet<string>, url: string): void {
  const host = allowedHost(req, hosts);
  if (host === undefined) {
    res.writeHead(421, { 'content-type': 'text/plain' }).end(`misdirected request: open ${url}`);
    return;
  }
  const path = parseTarget(req)?.pathname;
  if (path === undefined) {
    sendError(res, 400, BAD_TARGET.code, BAD_TARGET.message);
    return;
  }
  const common = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...common, allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed');
  } else if (path === '/') {
    res.writeHead(200, {
      ...common,
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': `default-src 'none'; script-src 'self'; style-src 'self'; connect-src ws://${host}; frame-src ${new URL(STATELY_INSPECTOR_URL).origin}; base-uri 'none'`,
    });
    res.end(BRIDGE_HTML);
  } else if (path === '/bridge.js') {
    res.writeHead(200, { ...common, 'content-type': 'text/javascript; charset=utf-8' }).end(BRIDGE_JS);
  } else if (path === '/bridge.css') {
    res.writeHead(200, { ...common, 'content-type': 'text/css; charset=utf-8' }).end(BRIDGE_CSS);
  } else {
    res.writeHead(404, { ...common, 'content-type': 'text/plain' }).end('not found');
  }
}

const BRIDGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Breakerbox · Stately inspector</title>
<link rel="stylesheet" href="/bridge.css">
<script type="module" src="/bridge.js"></script>
</head>
<body><iframe id="inspector" src="${STATELY_INSPECTOR_URL}" title="Stately inspector"></iframe></body>
</html>
`;

const BRIDGE_CSS = 'html,body{margin:0;height:100%}iframe{border:0;width:100%;height:100%}\n';

const BRIDGE_JS = `const iframe = document.getElementById('inspector');
const target = new URL(iframe.src).origin;
const buffer = [];
let ready = false;
window.addEventListener('message', (event) => {
  if (event.origin !== target || !event.data || event.data.type !== '@statelyai.connected') return;
  ready = true;
  for (const data of buffer.splice(0)) iframe.contentWindow.postMessage(data, target);
});
const socket = new WebSocket('ws://' + location.host + '/');
socket.addEventListener('message', (event) => {
  const data = JSON.parse(event.data);
  if (ready) iframe.contentWindow.postMessage(data, target);
  else buffer.push(data);
});
`;
