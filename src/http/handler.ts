/**
 * `createDashboardHandler(supervisor, options)`: the whole HTTP surface as one node:http request
 * handler `(req, res, next?)` — the JSON API in the original design's shapes (docs/architecture.md),
 * SSE, Prometheus `/metrics` and the visualizer's static files. It mounts in a plain `http.createServer`, in Express
 * (`app.use('/dashboard', handler)`) and in Fastify (on `req.raw`/`reply.raw`). A path it does not
 * serve goes to `next()` when there is one, else gets a JSON 404; every path under its `/api/` is its
 * own (a JSON 404 there, never `next()`). A request that arrived on a loopback address needs a
 * loopback `Host` or one in `allowedHosts` (421 otherwise: no DNS rebinding).
 *
 * Every response is JSON (or the page, SSE, Prometheus text); errors are `{ error: { code,
 * message } }` and never carry a stack trace.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { circuitBreakerMachine } from '../../machines/circuitBreaker.js';
import { breakerMachineOf } from '../../machines/supervisor.js';
import { BreakerboxError, ConfigError, SupervisorStoppedError } from '../common/errors.js';
import type { Supervisor } from '../supervisor/supervisorTypes.js';
import { bearerMatches, tokenDigest } from './auth.js';
import { EventStreams } from './eventStreams.js';
import { requestHostAllowed } from './loopbackHosts.js';
import { registerPrometheusMetrics } from './metrics.js';
import { type DashboardOptions, resolveDashboardOptions } from './options.js';
import { PAGE_CSP, sendError, sendJson, sendJsonText, setCommonHeaders } from './respond.js';
import { findVisualizerDir, loadStaticFiles, type StaticFile } from './staticFiles.js';
import { agentRow, failureJson, frameJson, healthJson, metricsJson } from './wire.js';

export type { DashboardOptions };

/** A node:http request handler with the dashboard's extras. */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** The prom-client registry `/metrics` serves. */
  readonly registry: Registry;
  /** SSE streams open now. */
  readonly streamCount: number;
  /** Ends every SSE stream (a server cannot close while they are open). The handler keeps serving JSON. */
  close(): void;
}

type Next = (error?: unknown) => void;

const FAILURES_DEFAULT_LIMIT = 20;
const FAILURES_MAX_LIMIT = 1000;

/**
 * Builds the handler. Throws `ConfigError` for an invalid option.
 *
 * @example
 * const handler = createDashboardHandler(supervisor, { token: process.env.BREAKERBOX_TOKEN });
 * http.createServer(handler).listen(4400, '127.0.0.1');
 */
export function createDashboardHandler(supervisor: Supervisor, options: DashboardOptions = {}): DashboardHandler {
  checkSupervisor(supervisor);
  const config = resolveDashboardOptions(options);
  const registry = registerPrometheusMetrics(supervisor, config.registry);
  const streams = new EventStreams(supervisor, config);
  const digest = config.token === undefined ? undefined : tokenDigest(config.token);
  const files: Map<string, StaticFile> = config.visualizer ? loadStaticFiles(findVisualizerDir()) : new Map();
  let machinesBody: string | undefined;

  const machines = (): string => {
    if (machinesBody === undefined) {
      const logic = (supervisor.actor as { logic?: { id?: unknown; toJSON?: () => unknown } }).logic;
      // The chart the breakers run (without the probe-lease invoke unless shared state added it).
      const breaker = breakerMachineOf(logic) ?? circuitBreakerMachine;
      const body: Record<string, unknown> = { circuitBreaker: breaker.toJSON() };
      if (logic && typeof logic.toJSON === 'function')
        body[typeof logic.id === 'string' ? logic.id : 'supervisor'] = logic.toJSON();
      machinesBody = JSON.stringify(body, (_key, value) =>
        typeof value === 'function' ? describeFunction(value) : value,
      );
    }
    return machinesBody;
  };

  async function route(req: IncomingMessage, res: ServerResponse, next: Next | undefined): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      // A request target URL cannot read (`//`, `///`, `//[::1`): the client's mistake, not ours.
      return sendError(res, 400, 'bad_request', 'The request target is not a valid path');
    }
    let path = url.pathname;
    if (config.basePath !== '' && path !== config.basePath && !path.startsWith(`${config.basePath}/`)) {
      return notOurs(res, next);
    }
    if (config.allowedHosts !== undefined && !requestHostAllowed(req, config.allowedHosts)) {
      return sendError(
        res,
        421,
        'misdirected_request',
        'This dashboard answers only its loopback address or an allowed host',
      );
    }
    if (config.basePath !== '') {
      if (path === config.basePath) return redirect(res, `${config.basePath}/${url.search}`);
      path = path.slice(config.basePath.length);
    }
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';

    // The page itself: relative links need the trailing slash under a mount point.
    if (path === '/' || path === '/index.html') {
      if (!config.visualizer) return notOurs(res, next);
      const original = (req as { originalUrl?: unknown }).originalUrl;
      if (path === '/' && typeof original === 'string') {
        const originalPath = URL.canParse(original, 'http://localhost')
          ? new URL(original, 'http://localhost').pathname
          : '/';
        if (!originalPath.endsWith('/')) return redirect(res, `${originalPath}/${url.search}`);
      }
      if (!read) return methodNotAllowed(res, 'GET, HEAD');
      return sendFile(res, files.get('index.html'), true);
    }

    if (path === '/metrics') {
      if (!read) return methodNotAllowed(res, 'GET, HEAD');
      const text = await registry.metrics();
      setCommonHeaders(res);
      res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      res.end(text);
      return;
    }

    if (path.startsWith('/api/')) return api(req, res, path.slice(4), url.searchParams, method);

    const file = files.get(path.slice(1));
    if (file !== undefined && path.indexOf('/', 1) === -1) {
      if (!read) return methodNotAllowed(res, 'GET, HEAD');
      return sendFile(res, file, false);
    }
    return notOurs(res, next);
  }

  async function api(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    method: string,
  ): Promise<void> {
    const read = method === 'GET' || method === 'HEAD';
    const onlyRead = (respond: () => void) => (read ? respond() : methodNotAllowed(res, 'GET, HEAD'));
    switch (path) {
      case '/circuit-breaker/health':
        return onlyRead(() => sendJson(res, 200, healthJson(supervisor.getHealthStatus())));
      case '/circuit-breaker/failures':
        return onlyRead(() => {
          const limit = parseLimit(query.get('limit'));
          if (limit === undefined) {
            return sendError(res, 400, 'bad_request', `limit must be an integer from 1 to ${FAILURES_MAX_LIMIT}`);
          }
          sendJson(res, 200, supervisor.getRecentFailures(limit).map(failureJson));
        });
      case '/circuit-breaker/metrics':
        return onlyRead(() => sendJson(res, 200, supervisor.getAllMetrics().map(metricsJson)));
      case '/circuit-breaker/events':
        if (method !== 'GET') return methodNotAllowed(res, 'GET');
        if (!streams.hasRoom) {
          return sendError(res, 503, 'too_many_streams', 'Too many event streams are open', { 'retry-after': '5' });
        }
        return streams.open(req, res);
      case '/machines':
        // Built once and never changes: `no-cache` (revalidate) rather than the live routes' `no-store`.
        return onlyRead(() => sendJsonText(res, 200, machines(), { 'cache-control': 'no-cache' }));
      case '/agents':
        return onlyRead(() => sendJson(res, 200, frameJson(supervisor).agents));
    }

    // Every path under /api/ is the handler's: an unknown one is a JSON 404, never the host app's page.
    const agentRoute = /^\/agents\/([^/]+)(?:\/(isolate|reset))?$/.exec(path);
    if (agentRoute === null) return notFound(res);
    let id: string;
    try {
      id = decodeURIComponent(agentRoute[1] as string);
    } catch {
      return sendError(res, 400, 'bad_request', 'The agent id is not valid percent-encoding');
    }
    const action = agentRoute[2] as 'isolate' | 'reset' | undefined;

    if (action === undefined) {
      if (!read) return methodNotAllowed(res, 'GET, HEAD');
      const row = agentRow(supervisor, id);
      return row === undefined ? unknownAgent(res) : sendJson(res, 200, row);
    }
    // Without a configured token the routes that change state do not exist.
    if (digest === undefined) return notFound(res);
    if (method !== 'POST') return methodNotAllowed(res, 'POST');
    if (!bearerMatches(req, digest)) {
      return sendError(res, 401, 'unauthorized', 'A valid Authorization: Bearer token is required', {
        'www-authenticate': 'Bearer realm="breakerbox"',
      });
    }
    const body = await readBody(req, config.maxBodyBytes);
    if (body === 'too_large') {
      return sendError(res, 413, 'payload_too_large', `The request body is larger than ${config.maxBodyBytes} bytes`, {
        connection: 'close',
      });
    }
    // The client left (or the connection broke) before its whole body arrived: nothing happens.
    if (body === 'incomplete') {
      if (!res.destroyed) sendError(res, 400, 'bad_request', 'The request body is incomplete', { connection: 'close' });
      return;
    }
    if (supervisor.getAgent(id) === undefined) return unknownAgent(res);
    try {
      if (action === 'isolate') supervisor.isolate(id);
      else supervisor.reset(id);
    } catch (error) {
      // Once stopped the breakers are detached: refused rather than a 200 that changed nothing.
      if (error instanceof SupervisorStoppedError) return sendError(res, 409, 'stopped', 'The supervisor is stopped');
      if (error instanceof BreakerboxError) return sendError(res, 409, 'conflict', error.message);
      throw error;
    }
    return sendJson(res, 200, { agent_id: id, state: supervisor.getAgent(id)?.state ?? null });
  }

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: Next) => {
    route(req, res, typeof next === 'function' ? next : undefined).catch((error: unknown) => {
      try {
        config.onError(error);
      } catch {
        // A throwing onError must not become an unhandled rejection.
      }
      if (!res.headersSent) sendError(res, 500, 'internal', 'Internal error');
      else res.destroy();
    });
  }) as DashboardHandler;
  Object.defineProperties(handler, {
    registry: { value: registry, enumerable: true },
    streamCount: { get: () => streams.size, enumerable: true },
    close: { value: () => streams.close(), enumerable: true },
  });
  return handler;
}

function checkSupervisor(supervisor: unknown): asserts supervisor is Supervisor {
  const s = supervisor as Partial<Supervisor> | null;
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.getHealthStatus !== 'function' ||
    typeof s.getStats !== 'function' ||
    s.transitions$ === undefined
  ) {
    throw new ConfigError('supervisor', supervisor, 'a Supervisor from createSupervisor()');
  }
}

/**
 * A function inside a machine definition, as text: higher-order guards (`and([...])`) carry their
 * parts in `guards`; a named function shows its name; an anonymous one is null, as in `toJSON()`.
 */
function describeFunction(fn: { name?: string; guards?: unknown }): string | null {
  if (Array.isArray(fn.guards)) {
    const parts = fn.guards.map((g: unknown) => (typeof g === 'function' ? describeFunction(g) : String(g)));
    return `${fn.name || 'guard'}(${parts.join(', ')})`;
  }
  return fn.name ? fn.name : null;
}

function parseLimit(raw: string | null): number | undefined {
  if (raw === null || raw === '') return FAILURES_DEFAULT_LIMIT;
  if (!/^\d{1,7}$/.test(raw)) return undefined;
  const limit = Number(raw);
  return limit >= 1 && limit <= FAILURES_MAX_LIMIT ? limit : undefined;
}

/**
 * Reads the request body (and throws it away): `'complete'` when all of it arrived within `max`
 * bytes, `'too_large'` when it is (or is declared) larger, `'incomplete'` when the request errs,
 * is aborted or closes before its end (a client gone mid-body): such a request must not act.
 */
function readBody(req: IncomingMessage, max: number): Promise<'complete' | 'too_large' | 'incomplete'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (!Number.isFinite(declared) || declared > max) return Promise.resolve('too_large');
  if (req.readableEnded) return Promise.resolve(req.complete ? 'complete' : 'incomplete');
  if (req.destroyed) return Promise.resolve('incomplete');
  return new Promise((resolve) => {
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        done('too_large');
        req.pause();
      }
    };
    const done = (outcome: 'complete' | 'too_large' | 'incomplete') => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onBroken);
      req.off('aborted', onBroken);
      req.off('close', onBroken);
      // Later 'error' events of this request have a listener still: none becomes uncaught.
      if (outcome !== 'complete') req.on('error', ignore);
      resolve(outcome);
    };
    const onEnd = () => done(!req.complete ? 'incomplete' : size <= max ? 'complete' : 'too_large');
    const onBroken = () => done('incomplete');
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onBroken);
    req.on('aborted', onBroken);
    req.on('close', onBroken);
  });
}

function ignore(): void {}

function sendFile(res: ServerResponse, file: StaticFile | undefined, page: boolean): void {
  if (file === undefined) {
    sendError(res, 404, 'not_found', 'Not found');
    return;
  }
  setCommonHeaders(res);
  res.writeHead(200, {
    'content-type': file.type,
    'content-length': file.body.length,
    'cache-control': 'no-cache',
    ...(page ? { 'content-security-policy': PAGE_CSP } : {}),
  });
  res.end(file.body);
}

function notOurs(res: ServerResponse, next: Next | undefined): void {
  if (next !== undefined) next();
  else sendError(res, 404, 'not_found', 'Not found');
}

function notFound(res: ServerResponse): void {
  sendError(res, 404, 'not_found', 'Not found');
}

function unknownAgent(res: ServerResponse): void {
  sendError(res, 404, 'unknown_agent', 'No agent with this id');
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  sendError(res, 405, 'method_not_allowed', `Allowed: ${allow}`, { allow });
}

function redirect(res: ServerResponse, target: string): void {
  // Never `//host/…`: a same-origin path only.
  const location = target.replace(/^[/\\]+/, '/');
  setCommonHeaders(res);
  res.writeHead(308, { location, 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify({ redirect: location }));
}
