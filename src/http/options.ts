/** Options of `createDashboardHandler` and `serveDashboard`, validated (a wrong one throws `ConfigError`). */
import { Registry } from 'prom-client';
import { ConfigError } from '../common/errors.js';
import { checkFunction, checkKnownKeys, checkNumber, checkPlainObject, optional } from '../common/validate.js';

export interface DashboardOptions {
  /**
   * Turns on `POST /api/agents/:id/isolate` and `/reset`, which then require
   * `Authorization: Bearer <token>`. At least 16 characters. Default: off (those routes are 404).
   */
  token?: string;
  /**
   * The path prefix when the server passes full URLs (node:http, Fastify), e.g. `'/dashboard'`.
   * Not needed under Express's `app.use('/dashboard', handler)`, which strips it. Default `''`.
   */
  basePath?: string;
  /** Concurrent SSE streams; one more gets 503. Default 32. */
  maxStreams?: number;
  /** SSE frames (health and every agent's row) at most this often, in ms. Default 1000. */
  frameIntervalMs?: number;
  /** Agents in an SSE frame: the worst by error rate, then volume. Default 500. */
  maxAgentsPerFrame?: number;
  /** `failure` events per SSE stream per second; the surplus is counted, not sent. Default 50. */
  maxFailuresPerSecond?: number;
  /** Largest request body accepted, in bytes; larger gets 413. Default 1024. */
  maxBodyBytes?: number;
  /** The prom-client registry `/metrics` serves; Breakerbox's metrics are added to it. Default: a new one. */
  registry?: Registry;
  /** Serve the visualizer page at `/`. Default true. */
  visualizer?: boolean;
  /** Called with an unexpected error inside the handler (the client gets a JSON 500). Default: console.error. */
  onError?: (error: unknown) => void;
  /**
   * A request that arrives on a loopback address is answered only when its `Host` is a loopback name
   * with the port (`localhost:4400`, `127.0.0.1:4400`) or one of these (421 otherwise), so a web page
   * cannot read the handler through DNS rebinding. Behind a reverse proxy on the same machine that
   * passes its own `Host`, list the names it passes: `'dashboard.example.com'` (any port) or
   * `'dashboard.example.com:8443'` (that port only). `true` turns the check off. Default `[]`.
   */
  allowedHosts?: readonly string[] | true;
}

export interface ResolvedDashboardOptions {
  token: string | undefined;
  basePath: string;
  maxStreams: number;
  frameIntervalMs: number;
  maxAgentsPerFrame: number;
  maxFailuresPerSecond: number;
  maxBodyBytes: number;
  registry: Registry;
  visualizer: boolean;
  onError: (error: unknown) => void;
  /** Lower case; undefined: any `Host` (`allowedHosts: true`). */
  allowedHosts: ReadonlySet<string> | undefined;
}

const HANDLER_KEYS = [
  'token',
  'basePath',
  'maxStreams',
  'frameIntervalMs',
  'maxAgentsPerFrame',
  'maxFailuresPerSecond',
  'maxBodyBytes',
  'registry',
  'visualizer',
  'onError',
  'allowedHosts',
] as const;

/** A host name, an IPv4 address or a bracketed IPv6 address, with an optional port. */
const HOST_PATTERN = /^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::\d{1,5})?$/i;

export function resolveDashboardOptions(options: unknown): ResolvedDashboardOptions {
  checkPlainObject(options, 'options');
  checkKnownKeys(options, '', HANDLER_KEYS);
  const o = options as DashboardOptions;
  optional(o.token, (token) => {
    if (typeof token !== 'string' || token.length < 16 || /\s/.test(token)) {
      throw new ConfigError('token', '(hidden)', 'a string of at least 16 characters without whitespace');
    }
  });
  optional(o.basePath, (basePath) => {
    if (typeof basePath !== 'string' || (basePath !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath))) {
      throw new ConfigError('basePath', basePath, "'' or a path like '/dashboard' (no trailing slash)");
    }
  });
  optional(o.maxStreams, (v) => checkNumber(v, 'maxStreams', { min: 1, max: 10_000, integer: true }));
  optional(o.frameIntervalMs, (v) => checkNumber(v, 'frameIntervalMs', { min: 10, max: 60_000 }));
  optional(o.maxAgentsPerFrame, (v) => checkNumber(v, 'maxAgentsPerFrame', { min: 1, integer: true }));
  optional(o.maxFailuresPerSecond, (v) => checkNumber(v, 'maxFailuresPerSecond', { min: 0, integer: true }));
  optional(o.maxBodyBytes, (v) => checkNumber(v, 'maxBodyBytes', { min: 0, max: 1 << 20, integer: true }));
  optional(o.registry, (registry) => {
    // Duck-typed: an application may load its own copy of prom-client.
    const r = registry as unknown as Partial<Registry> | null;
    if (
      typeof r !== 'object' ||
      r === null ||
      typeof r.metrics !== 'function' ||
      typeof r.registerMetric !== 'function'
    ) {
      throw new ConfigError('registry', registry, 'a prom-client Registry');
    }
  });
  optional(o.visualizer, (v) => {
    if (typeof v !== 'boolean') throw new ConfigError('visualizer', v, 'a boolean');
  });
  optional(o.onError, (v) => checkFunction(v, 'onError'));
  optional(o.allowedHosts, (v) => {
    if (v === true) return;
    if (!Array.isArray(v)) throw new ConfigError('allowedHosts', v, 'an array of host names, or true');
    v.forEach((host: unknown, i) => {
      if (typeof host !== 'string' || !HOST_PATTERN.test(host)) {
        throw new ConfigError(`allowedHosts[${i}]`, host, "a host name or address, optionally with ':port'");
      }
    });
  });
  return {
    token: o.token,
    basePath: o.basePath ?? '',
    maxStreams: o.maxStreams ?? 32,
    frameIntervalMs: o.frameIntervalMs ?? 1000,
    maxAgentsPerFrame: o.maxAgentsPerFrame ?? 500,
    maxFailuresPerSecond: o.maxFailuresPerSecond ?? 50,
    maxBodyBytes: o.maxBodyBytes ?? 1024,
    registry: o.registry ?? new Registry(),
    visualizer: o.visualizer ?? true,
    onError: o.onError ?? ((error) => console.error('breakerbox dashboard:', error)),
    allowedHosts: o.allowedHosts === true ? undefined : new Set((o.allowedHosts ?? []).map((h) => h.toLowerCase())),
  };
}
