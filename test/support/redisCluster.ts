/**
 * Harness of the Redis tests: supervisor instances as child processes (test/support/redisInstance.mjs
 * on the built dist), private redis-server processes on loopback ports, and small statistics.
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * Milliseconds of the system's monotonic clock (`process.hrtime`, CLOCK_MONOTONIC on Linux): one
 * clock for every process of the machine, so delays between processes are measured to the µs.
 * (`performance.timeOrigin` differs between processes by up to a millisecond.)
 */
export const hrNow = () => Number(process.hrtime.bigint()) / 1e6;

/** Every process these tests start, killed when the test process exits however it ends. */
const owned = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of owned) if (child.exitCode === null) child.kill('SIGKILL');
});
function own(child: ChildProcess): ChildProcess {
  owned.add(child);
  child.once('exit', () => owned.delete(child));
  return child;
}

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INSTANCE = fileURLToPath(new URL('./redisInstance.mjs', import.meta.url));

export interface TransitionEvent {
  instance: string;
  agentId: string;
  from: string;
  to: string;
  reason: string;
  /** When, in ms of the machine's monotonic clock (`hrNow`): comparable across processes. */
  hr: number;
}

export interface InstanceOptions {
  url: string;
  namespace: string;
  instanceId: string;
  agents: string[];
  breaker?: Record<string, unknown>;
  /** Per-agent breaker options. */
  breakers?: Record<string, Record<string, unknown>>;
  quorum?: number;
  quorumWindowMs?: number;
  leaseMs?: number;
  restore?: unknown;
  reconnectMs?: number;
}

/** One supervisor process. */
export class Instance {
  readonly transitions: TransitionEvent[] = [];
  readonly errors: Array<{ where: string; message: string }> = [];
  private readonly child: ChildProcess;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;

  private constructor(readonly name: string) {
    this.child = own(fork(INSTANCE, [], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    this.child.on('message', (m: Record<string, unknown>) => this.onMessage(m));
    this.child.on('error', () => {}); // a send racing the child's exit: its calls reject below
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.exited.then(() => {
      for (const { reject } of this.pending.values()) reject(new Error(`instance ${name} exited`));
      this.pending.clear();
    });
  }

  static async start(options: InstanceOptions): Promise<Instance> {
    const instance = new Instance(options.instanceId);
    await instance.call('init', options);
    return instance;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  call<T = unknown>(op: string, args?: unknown): Promise<T> {
    const id = this.nextId++;
    if (!this.child.connected) return Promise.reject(new Error(`instance ${this.name} is gone`));
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, op, args });
    });
  }

  /** Resolves when `predicate` holds for the transitions seen so far (checked on each new one). */
  waitFor(predicate: (t: TransitionEvent[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate(this.transitions)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this.transitions)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** The first transition of `agentId` to `to` (with `reason` matching) after index `since`. */
  find(agentId: string, to: string, reason?: RegExp, since = 0): TransitionEvent | undefined {
    return this.transitions
      .slice(since)
      .find((t) => t.agentId === agentId && t.to === to && (reason === undefined || reason.test(t.reason)));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await this.call('stop').catch(() => {});
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): Promise<number | null> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  private onMessage(m: Record<string, unknown>): void {
    if (m.ev === 'transition') {
      this.transitions.push({ ...(m as unknown as TransitionEvent), instance: this.name });
      for (const check of [...this.waiters]) check();
    } else if (m.ev === 'error') {
      this.errors.push({ where: String(m.where), message: String(m.message) });
    } else if (typeof m.id === 'number') {
      const waiter = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error !== undefined) waiter?.reject(new Error(String(m.error)));
      else waiter?.resolve(m.result);
    }
  }
}

// ─── redis-server ─────────────────────────────────────────────────────────────────────────────

/** Debian's redis-server, if installed. */
export function findRedisServer(): string | undefined {
  const candidates = [process.env.BREAKERBOX_REDIS_SERVER, '/usr/bin/redis-server', '/usr/local/bin/redis-server'];
  return candidates.find((path): path is string => path !== undefined && existsSync(path));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something answers PING at host:port within `timeoutMs`. */
export function ping(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** A private, non-persistent redis-server on a loopback port, owned by this test (its own pid). */
export class RedisServer {
  private child: ChildProcess | undefined;
  private constructor(
    private readonly binary: string,
    readonly port: number,
  ) {}

  static async start(binary: string, port?: number): Promise<RedisServer> {
    const server = new RedisServer(binary, port ?? (await freePort()));
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts it, empty, and resolves once it answers. */
  async restart(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const child = own(spawn(this.binary, args, { stdio: 'ignore' }));
    this.child = child;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited (${child.exitCode})`);
      if (await ping('127.0.0.1', this.port, 200)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`redis-server on port ${this.port} did not answer`);
  }

  /** SIGKILL: the outage of a crashed server (connections reset at once). */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP / SIGCONT: a server that hangs (connections stay up, nothing answers). */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.thaw();
    await this.kill();
  }
}

// ─── the build ────────────────────────────────────────────────────────────────────────────────

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = `${dir}/${name}`;
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestMtime(path) : stat.mtimeMs);
  }
  return newest;
}

/**
 * The instances run the built dist (what users install). `npm test` builds first; a direct vitest
 * run with a missing or stale dist/src/redis builds it here, and says so.
 */
export function ensureBuilt(): void {
  const built = `${ROOT}dist/src/redis/index.js`;
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(`${ROOT}src/redis`)) return;
  console.warn('[redis tests] dist/src/redis is missing or older than src/redis: running tsc -p tsconfig.build.json');
  try {
    execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  } catch {
    // tsc emits even when another file has a type error; the check below decides.
  }
  if (!existsSync(built)) throw new Error('dist/src/redis/index.js is missing: run `npm run build`');
}

// ─── statistics ───────────────────────────────────────────────────────────────────────────────

export function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export const ms = (value: number, digits = 2) => `${value.toFixed(digits)} ms`;

// ─── which Redis, or a loud skip ──────────────────────────────────────────────────────────────

export const REDIS_REQUIRED = process.env.BREAKERBOX_REQUIRE_REDIS === '1';

export type RedisAvailability = { ok: true; url: string | undefined } | { ok: false; reason: string };

/**
 * `BREAKERBOX_REDIS_URL` (loopback only) when set and answering; else, when redis-server is
 * installed, a private one the suite starts (`url: undefined`); else a reason to skip.
 */
export async function redisAvailability(): Promise<RedisAvailability> {
  const env = process.env.BREAKERBOX_REDIS_URL;
  if (env !== undefined && env !== '') {
    const url = new URL(env);
    if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
      return { ok: false, reason: `BREAKERBOX_REDIS_URL=${env} is not on loopback (127.0.0.1 only)` };
    }
    const answers = await ping('127.0.0.1', Number(url.port || 6379));
    return answers ? { ok: true, url: env } : { ok: false, reason: `nothing answers PING at ${env}` };
  }
  if (findRedisServer() !== undefined) return { ok: true, url: undefined };
  return { ok: false, reason: 'BREAKERBOX_REDIS_URL is not set and no redis-server is installed' };
}

/** The banner of a skipped suite. */
export function warnSkipped(what: string, reason: string): void {
  const bar = '!'.repeat(78);
  console.warn(
    `\n${bar}\n!! ${what} SKIPPED: ${reason}.\n!! Install it with: apt-get update && apt-get install -y redis-server\n!! (.ci/run does, and starts it; BREAKERBOX_REQUIRE_REDIS=1 turns this skip into a failure)\n${bar}\n`,
  );
}
