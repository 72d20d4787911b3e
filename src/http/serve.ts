/**
 * `serveDashboard(supervisor, options)`: the dashboard handler on its own node:http server, with short
 * timeouts for slow clients: the request headers within `HEADERS_TIMEOUT_MS`, the whole request
 * (a control POST's body included; not an SSE response, which is output) within
 * `REQUEST_TIMEOUT_MS`, checked every `CONNECTIONS_CHECK_MS`, instead of Node's 60 s and 300 s.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../common/errors.js';
import { checkNumber, checkPlainObject } from '../common/validate.js';
import type { Supervisor } from '../supervisor/supervisorTypes.js';
import { createDashboardHandler, type DashboardHandler } from './handler.js';
import type { DashboardOptions } from './options.js';

/** A client has this long to send its request headers. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** …and this long for the whole request (bodies here are at most `maxBodyBytes`, 1 KiB by default). */
export const REQUEST_TIMEOUT_MS = 10_000;
/** How often Node checks those timeouts (its default is 30 s, which would stretch them). */
const CONNECTIONS_CHECK_MS = 1_000;

export interface ServeDashboardOptions extends DashboardOptions {
  /** TCP port; 0 picks a free one. Default 4400. */
  port?: number;
  /** Interface to listen on. Default `'127.0.0.1'` (loopback only). */
  host?: string;
}

export interface DashboardServer {
  /** The visualizer's address, e.g. `http://127.0.0.1:4400/`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly server: Server;
  readonly handler: DashboardHandler;
  /** Ends the SSE streams, stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Starts a node:http server with the dashboard handler; resolves once it listens. Throws
 * `ConfigError` for an invalid option; rejects with the system error when the port is taken.
 *
 * @example
 * const dashboard = await serveDashboard(supervisor, { port: 4400 });
 * console.log(`open ${dashboard.url}`);
 * // …
 * await dashboard.close();
 */
export async function serveDashboard(
  supervisor: Supervisor,
  options: ServeDashboardOptions = {},
): Promise<DashboardServer> {
  checkPlainObject(options, 'options');
  const { port = 4400, host = '127.0.0.1', ...handlerOptions } = options;
  checkNumber(port, 'port', { min: 0, max: 65_535, integer: true });
  if (typeof host !== 'string' || host.length === 0) throw new ConfigError('host', host, 'a host name or address');
  // Validates the rest (an unknown key included) before it registers metrics or opens anything.
  const handler = createDashboardHandler(supervisor, handlerOptions);
  // On loopback the handler answers only requests addressed to loopback names (no DNS rebinding).
  const server = createServer(
    {
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
    },
    (req, res) => handler(req, res),
  );
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      handler.close();
      reject(error);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${address.port}${handlerOptions.basePath ?? ''}/`,
    host: address.address,
    port: address.port,
    server,
    handler,
    close() {
      closing ??= new Promise<void>((resolve) => {
        handler.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
