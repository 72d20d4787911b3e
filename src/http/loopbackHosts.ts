/**
 * The `Host` headers a server bound to loopback answers: its loopback names with its port. A web
 * page the user visits can point its own host name at 127.0.0.1 (DNS rebinding) and then read such
 * a server as same-origin; its requests carry that name in `Host`, so they are refused. Host names
 * are case-insensitive (RFC 9110 §7.2), so the header is compared in lower case.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export function isLoopbackAddress(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * `name:port` for each name a loopback address is reached by: `localhost` and the address, as
 * written in a URL and as a browser normalizes it (`[::ffff:127.0.0.1]` is sent as
 * `[::ffff:7f00:1]`); an IPv4-mapped address is reached as IPv4 too. No other loopback address:
 * a server bound to 127.0.0.1 is not reached through `[::1]`.
 */
export function loopbackHosts({ address, family, port }: AddressInfo): ReadonlySet<string> {
  const names = ['localhost'];
  if (family === 'IPv6') {
    names.push(`[${address}]`, new URL(`http://[${address}]`).hostname);
    if (address.startsWith('::ffff:')) names.push(address.slice('::ffff:'.length));
  } else {
    names.push(address);
  }
  return withPort(names, port);
}

/** `name:port` for each name; on port 80 or 443 the bare name too (browsers leave the default port out). */
export function withPort(names: readonly string[], port: number): ReadonlySet<string> {
  return new Set(
    names.flatMap((name) => (port === 80 || port === 443 ? [`${name}:${port}`, name] : [`${name}:${port}`])),
  );
}

/** The request's `Host` in lower case if it is one of `hosts`, else undefined. */
export function allowedHost(req: IncomingMessage, hosts: ReadonlySet<string>): string | undefined {
  const host = (req.headers.host ?? '').toLowerCase();
  return hosts.has(host) ? host : undefined;
}

let cachedKey = '';
let cachedHosts: ReadonlySet<string> = new Set();

/**
 * Whether a request may be answered: one that arrived on a loopback address must carry a loopback
 * name with the local port in `Host` (as `loopbackHosts`), or one of `extra` (lower case; a bare name
 * allows any port). A request that arrived on any other address (or without a TCP socket) is not
 * checked: DNS rebinding reaches what a browser can reach, and that is judged where it is bound.
 */
export function requestHostAllowed(req: IncomingMessage, extra: ReadonlySet<string>): boolean {
  const socket = req.socket as { localAddress?: string; localPort?: number } | undefined;
  const local = socket?.localAddress;
  const port = socket?.localPort;
  if (typeof local !== 'string' || typeof port !== 'number' || !isLoopbackAddress(local)) return true;
  const host = (req.headers.host ?? '').toLowerCase();
  if (extra.size > 0 && (extra.has(host) || extra.has(hostName(host)))) return true;
  const key = `${local} ${port}`;
  if (key !== cachedKey) {
    cachedHosts = loopbackHosts({ address: local, family: local.includes(':') ? 'IPv6' : 'IPv4', port });
    cachedKey = key;
  }
  return cachedHosts.has(host);
}

/** `Host` without its port: `[::1]:80` → `[::1]`, `example.com:80` → `example.com`. */
function hostName(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
