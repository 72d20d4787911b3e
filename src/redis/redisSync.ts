/**
 * `createRedisSync()`: breaker state shared between supervisor instances through Redis.
 *
 * What crosses Redis: a local trip (pub/sub, and the open set for late joiners), a local close, and
 * the half-open probe lease. What never does: a routed call. `publish()` is only called on state
 * changes and never waits; the lease answers within `commandTimeoutMs` or is granted locally.
 *
 * Redis down: commands are issued only while the client's status is `'ready'` (nothing is left in
 * an offline queue to fire late), each under its own short timeout; failures go to
 * `peer.reportError` and every instance decides alone. When Redis is ready again the adapter
 * converges: it re-asserts this instance's own open circuits, sends a close it could not send, then
 * reads the open set — applying the entries it lacks and closing the circuits it had opened because
 * of a peer that the cluster has closed since.
 */
import { type CallbackActorLogic, fromCallback } from 'xstate';
import { type BreakerState, PROBES_SUCCEEDED, type ProbeLeaseInput } from '../../machines/circuitBreaker.js';
import type { BreakerSync, SyncPeer, SyncTransition } from '../breaker/breakerSync.js';
import type { RedisClient } from './client.js';
import { decodeMessage, encodeClose, encodeTrip, type SyncMessage } from './messages.js';
import { type RedisSyncOptions, type ResolvedRedisSyncOptions, resolveRedisSyncOptions } from './options.js';
import { CLOSE_SCRIPT, LEASE_SCRIPT, RELEASE_SCRIPT, TRIP_SCRIPT } from './scripts.js';

/** What this instance believes about one agent, from its own transitions and its peers' messages. */
interface AgentView {
  state: BreakerState;
  nextProbeAt: number | null;
  /** Who opened it: this instance's own outcomes, or a peer (a message or the open set). */
  origin: 'local' | 'peer';
  /** When the latest trip this instance knows of happened (the lease's `#closed:` rule). */
  trippedAt: number;
  /** When this instance's probes closed it, while that close has not reached Redis; else null. */
  unsentCloseAt: number | null;
  /** Bumped on every change: a convergence read older than the change does not undo it. */
  seq: number;
}

type CommandResult<T> = { ok: true; value: T } | { ok: false };

type LeaseEvent = { type: 'LEASE_GRANTED' } | { type: 'LEASE_DENIED' };

class RedisSync implements RedisBreakerSync {
  readonly probeLease: CallbackActorLogic<LeaseEvent, ProbeLeaseInput>;
  /** This instance's name in leases and messages. */
  readonly instanceId: string;
  private readonly o: ResolvedRedisSyncOptions;
  private readonly redis: RedisClient;
  private readonly keys: { open: string; channel: string; prefix: string };
  private peer: SyncPeer | undefined;
  private subscriber: RedisClient | undefined;
  /**
   * What this instance knows of each agent the supervisor has. A removed agent's view (an unsent
   * close included: its peers then close it by their own probes) is dropped when it is noticed: at
   * the next convergence, at a message about it, or when an agent of that id is added.
   */
  private readonly views = new Map<string, AgentView>();
  private seq = 0;
  private readonly inflight = new Set<Promise<unknown>>();
  private detached = false;
  /** An outage is reported once, not once per skipped command; so is a hung Redis. */
  private outageReported = false;
  private slowReported = false;
  private converging: Promise<void> | undefined;
  private convergeAgain = false;
  private fullAgain = false;
  /** Agents added since the last read: a convergence for them alone applies the read to them only. */
  private added = new Set<string>();
  /** Whether the client has been ready once (before, a command skipped is startup, not an outage). */
  private everReady = false;
  private subscribed = false;
  /** A dropped subscription is reported once until it is subscribed again. */
  private subscriptionLossReported = false;
  /** Retries a subscriber whose client gave up reconnecting (`'end'`) while Redis is up. */
  private resubscribeTimer: ReturnType<typeof setTimeout> | undefined;
  /** A peer's time beyond the plausible window is reported once. */
  private clampReported = false;
  private synced = false;
  private readonly syncWaiters: Array<() => void> = [];
  private readonly onReady = () => {
    this.everReady = true;
    this.outageReported = false;
    this.reconnectSubscriber();
    this.requestConverge();
  };

  constructor(options: ResolvedRedisSyncOptions) {
    this.o = options;
    this.redis = options.redis;
    this.instanceId = options.instanceId;
    const ns = options.namespace;
    this.keys = { open: `${ns}:open`, channel: `${ns}:events`, prefix: ns };
    this.probeLease = fromCallback<LeaseEvent, ProbeLeaseInput>(({ sendBack, input }) =>
      this.lease(input, (event) => sendBack(event)),
    );
  }

  // ─── BreakerSync ──────────────────────────────────────────────────────────────────────────────

  attach(peer: SyncPeer): void {
    this.peer = peer;
    this.redis.on('ready', this.onReady);
    if (this.redis.status === 'wait') this.redis.connect().catch((error: unknown) => this.report(error, 'connect'));
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    subscriber.on('message', (channel: string, raw: string) => {
      if (channel === this.keys.channel) this.onMessage(raw);
    });
    // Ours: without a listener ioredis prints every connection error. Reported once per outage.
    subscriber.on('error', (error: unknown) => this.noteOutage(error));
    subscriber.on('ready', () => this.subscribe());
    // The server may drop the subscriber while Redis stays up: a message bigger than its
    // client-output-buffer-limit pubsub (32 MB hard by default), CLIENT KILL, a failover. No
    // 'error' comes then, so the close is reported here; ioredis reconnects ('ready' → subscribe
    // → the open set is read again), and a client whose retryStrategy gave up ('end') is reconnected.
    subscriber.on('close', () => this.subscriptionClosed(subscriber));
    subscriber.on('end', () => this.scheduleResubscribe());
    if (subscriber.status === 'wait') subscriber.connect().catch(() => {});
    else if (subscriber.status === 'ready') this.subscribe();
    if (this.redis.status === 'ready') {
      this.everReady = true;
      this.requestConverge();
    }
  }

  /**
   * An agent added after `attach` starts closed, with nothing of an agent of the same id removed
   * before (its view goes). It may be open in the cluster already, so the open set is read again
   * for it alone: this instance's own trips are not re-sent, and other agents are left as they are
   * (an operator's local reset stays until the next full convergence, after Redis was away).
   */
  agentAdded(agentId: string): void {
    this.views.delete(agentId);
    this.added.add(agentId);
    this.requestConverge(false);
  }

  publish(transition: SyncTransition): void {
    if (this.detached) return;
    const { agentId, from, to, at } = transition;
    const view = this.view(agentId);
    view.seq = ++this.seq;
    view.state = to;
    // Any local change after a close not sent yet replaces it (a new trip, or an operator's reset
    // or isolate); only probes that succeeded close a circuit for everyone.
    view.unsentCloseAt = null;
    if (to === 'open') {
      view.origin = 'local';
      view.nextProbeAt = transition.nextProbeAt ?? at;
      view.trippedAt = at;
      this.sendTrip(agentId, view.nextProbeAt, at);
    } else if (to === 'closed') {
      view.origin = 'local';
      view.nextProbeAt = null;
      // A reset, from half-open too, stays local.
      if (from === 'half_open' && transition.reason === PROBES_SUCCEEDED) {
        view.unsentCloseAt = at;
        this.sendClose(agentId, at, view);
      }
    } else if (to === 'isolated') {
      view.origin = 'local';
      view.nextProbeAt = null;
    }
  }

  /**
   * Resolves once this instance is subscribed and has read the cluster's open set (its first
   * convergence), or after `timeoutMs` (then false): await it before serving traffic when a new
   * instance should start from the cluster's knowledge. Routing never needs it.
   */
  whenSynced(timeoutMs = 5000): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref?.();
      this.syncWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async detach(): Promise<void> {
    if (this.detached) return;
    this.detached = true;
    this.redis.off('ready', this.onReady);
    clearTimeout(this.resubscribeTimer);
    // Lease releases of the breakers just stopped are issued on the next turn: let them go out.
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([...this.inflight]);
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber === undefined) return;
    if (subscriber.status === 'ready') {
      // Under the command timeout like every command; a quit that fails or hangs is cut off.
      if (!(await this.command('quit', () => subscriber.quit())).ok) subscriber.disconnect();
    } else {
      subscriber.disconnect();
    }
  }

  // ─── the probe lease ─────────────────────────────────────────────────────────────────────────

  /**
   * One half-open window's lease, answered once (the machine takes one answer per window).
   * Granted: this instance probes. Denied: it routes around the agent until the window ends — the
   * holder's close or reopen arrives, or the window restarts at `halfOpenTimeoutMs` and asks again
   * (by then a holder that died has lost its lease: `leaseMs` is shorter). Redis unreachable or too
   * slow to answer: granted, this instance decides alone.
   */
  private lease(input: ProbeLeaseInput, sendBack: (event: LeaseEvent) => void): () => void {
    let ended = false;
    const answer = (granted: boolean) => {
      if (ended) return;
      ended = true;
      sendBack({ type: granted ? 'LEASE_GRANTED' : 'LEASE_DENIED' });
    };
    const key = this.leaseKey(input.agentId);
    const value = `${this.instanceId}:${input.generation}`;
    /** Whether Redis may hold this window's lease (granted, or unknown after a timeout). */
    let mayHold = false;
    if (this.detached || !this.ready()) {
      answer(true);
    } else {
      mayHold = true;
      const since = this.views.get(input.agentId)?.trippedAt ?? 0;
      this.command('lease', () =>
        this.redis.eval(
          LEASE_SCRIPT,
          1,
          key,
          value,
          this.o.leaseMs,
          `${this.instanceId}:`,
          Math.floor(this.o.now()) + LEASE_SLACK_MS,
          Math.floor(since),
        ),
      ).then((result) => {
        if (result.ok && result.value !== 1) mayHold = false;
        answer(!result.ok || result.value === 1);
      });
    }
    return () => {
      ended = true;
      if (!mayHold) return;
      // Deferred one turn: the transition that ends the window publishes first (a close or a
      // reopen replaces the lease with its tombstone), so no late window slips in between.
      setImmediate(() => {
        if (this.ready()) void this.command('release', () => this.redis.eval(RELEASE_SCRIPT, 1, key, value));
      });
    };
  }

  // ─── outgoing ────────────────────────────────────────────────────────────────────────────────

  private sendTrip(agentId: string, nextProbeAt: number, at: number): void {
    if (!this.ready()) {
      this.noteOutage();
      return;
    }
    const message = encodeTrip(agentId, nextProbeAt, at, this.instanceId);
    void this.command('publish', () =>
      this.redis.eval(
        TRIP_SCRIPT,
        3,
        this.keys.open,
        this.tripsKey(agentId),
        this.leaseKey(agentId),
        agentId,
        this.instanceId,
        Math.floor(at),
        Math.ceil(nextProbeAt),
        this.o.quorum,
        this.o.quorumWindowMs,
        this.o.openTtlMs,
        this.o.leaseMs,
        this.keys.channel,
        message,
      ),
    );
  }

  /** Publishes a local close; it stays unsent until Redis has it (unless the view changed since). */
  private sendClose(agentId: string, at: number, view: AgentView): void {
    if (!this.ready()) {
      this.noteOutage();
      return;
    }
    const message = encodeClose(agentId, at, this.instanceId);
    void this.command('publish', () =>
      this.redis.eval(
        CLOSE_SCRIPT,
        3,
        this.keys.open,
        this.tripsKey(agentId),
        this.leaseKey(agentId),
        agentId,
        Math.floor(at),
        this.o.quorum,
        this.o.leaseMs,
        this.keys.channel,
        message,
      ),
    ).then((result) => {
      if (result.ok && view.unsentCloseAt === at) view.unsentCloseAt = null;
    });
  }

  // ─── incoming ────────────────────────────────────────────────────────────────────────────────

  private subscribe(): void {
    const subscriber = this.subscriber;
    if (subscriber === undefined || this.detached) return;
    // Idempotent: ioredis resubscribes after a reconnect too; ours resolves once Redis confirms,
    // and only then is the open set read, so nothing published in between is missed.
    subscriber.subscribe(this.keys.channel).then(
      () => {
        if (this.detached) return;
        this.subscribed = true;
        this.subscriptionLossReported = false;
        this.requestConverge();
      },
      (error: unknown) => this.noteOutage(error),
    );
  }

  /**
   * The subscriber's connection closed. During an outage (the command connection is down too) it
   * is part of that outage, reported once as such; otherwise Redis dropped this subscriber alone
   * and messages are missed until it is back: reported once until it has subscribed again.
   */
  private subscriptionClosed(subscriber: RedisClient): void {
    if (this.detached || subscriber !== this.subscriber) return;
    const wasSubscribed = this.subscribed;
    this.subscribed = false;
    if (!wasSubscribed || this.subscriptionLossReported) return;
    this.subscriptionLossReported = true;
    // Both connections of a Redis that went away close in the same turn or the next.
    setImmediate(() => {
      if (this.detached) return;
      if (!this.ready()) {
        this.noteOutage();
        return;
      }
      this.report(
        new Error(
          `Redis closed the subscription to ${this.keys.channel} while it is up (a message over its ` +
            'client-output-buffer-limit pubsub, or CLIENT KILL): peers’ trips and closes are missed until ' +
            'it re-subscribes, then the open set is read again',
        ),
        'subscriber',
      );
    });
  }

  /** The subscriber's client gave up reconnecting: try again in a while, while Redis is up. */
  private scheduleResubscribe(): void {
    if (this.detached || this.resubscribeTimer !== undefined) return;
    this.resubscribeTimer = setTimeout(() => {
      this.resubscribeTimer = undefined;
      if (this.ready()) this.reconnectSubscriber();
    }, RESUBSCRIBE_DELAY_MS);
    this.resubscribeTimer.unref?.();
  }

  private reconnectSubscriber(): void {
    const subscriber = this.subscriber;
    if (this.detached || subscriber === undefined || subscriber.status !== 'end') return;
    subscriber.connect().catch(() => this.scheduleResubscribe());
  }

  /**
   * A peer's time, at most `limit` (a time past it is forged, corrupt or from a clock far off:
   * clamped, the first one reported). Earlier times are left: a late message is harmless.
   */
  private plausible(time: number, limit: number): number {
    if (time <= limit) return time;
    if (!this.clampReported) {
      this.clampReported = true;
      this.report(
        new Error(
          `a peer's time ${time} is ${time - this.o.now()} ms ahead of this clock, beyond what ` +
            `maxClockSkewMs (${this.o.maxClockSkewMs}) allows: clamped to ${limit} (is a host's clock off, or ` +
            `is something else writing to ${this.keys.channel} / ${this.keys.open}?); reported once`,
        ),
        'message',
      );
    }
    return limit;
  }

  private onMessage(raw: string): void {
    const message = decodeMessage(raw);
    if (message === undefined || message.i === this.instanceId || this.detached) return;
    this.apply(message);
  }

  private apply(message: SyncMessage): void {
    const peer = this.peer;
    if (peer === undefined) return;
    // An agent this instance does not have (any more): nothing to apply, and no view to keep (one
    // per foreign id would grow without bound, and a stale 'open' would hide the cluster's state
    // from the agent if it is added here later).
    if (!peer.hasAgent(message.a)) {
      this.views.delete(message.a);
      return;
    }
    const view = this.view(message.a);
    view.seq = ++this.seq;
    view.unsentCloseAt = null; // a peer's later word on the agent supersedes a close not sent yet
    if (message.k === 'trip') {
      const now = this.o.now();
      const at = this.plausible(message.t, now + this.o.maxClockSkewMs);
      const nextProbeAt = this.plausible(message.n, now + this.o.maxClockSkewMs + this.o.openTtlMs);
      view.trippedAt = Math.max(view.trippedAt, at);
      // A circuit this instance opened itself stays this instance's (it re-asserts it on reconnect);
      // an isolated one ignores peers.
      if (!(view.state === 'open' && view.origin === 'local') && view.state !== 'isolated') {
        view.state = 'open';
        view.origin = 'peer';
        view.nextProbeAt = nextProbeAt;
      }
      peer.peerTripped(message.a, nextProbeAt);
    } else {
      if (view.state !== 'isolated') {
        view.state = 'closed';
        view.origin = 'peer';
        view.nextProbeAt = null;
      }
      peer.peerClosed(message.a);
    }
  }

  // ─── convergence ─────────────────────────────────────────────────────────────────────────────

  /**
   * Converges now, or once the running convergence ends (requests meanwhile coalesce into one).
   * `full` (after attach, or Redis or the subscription back): re-send this instance's own running
   * trips and apply the read to every agent; otherwise only to the agents added since.
   */
  private requestConverge(full = true): void {
    if (this.detached || this.peer === undefined) return;
    if (this.converging !== undefined) {
      this.convergeAgain = true;
      this.fullAgain ||= full;
      return;
    }
    this.converging = this.converge(full)
      .catch((error: unknown) => this.report(error, 'converge'))
      .finally(() => {
        this.converging = undefined;
        if (this.convergeAgain) {
          const full = this.fullAgain;
          this.convergeAgain = false;
          this.fullAgain = false;
          this.requestConverge(full);
        }
      });
  }

  private async converge(full: boolean): Promise<void> {
    const peer = this.peer;
    if (peer === undefined || !this.ready()) return;
    const now = this.o.now();
    // 1. What this instance decided that Redis may not know: closes it could not send (always, so
    // the read below does not bring back what they remove) and, after Redis was away, its own
    // trips still running (it may have restarted empty). Removed agents' views go, an unsent close
    // with them.
    for (const [agentId, view] of this.views) {
      if (!peer.hasAgent(agentId)) this.views.delete(agentId);
      else if (view.unsentCloseAt !== null) this.sendClose(agentId, view.unsentCloseAt, view);
      else if (full && view.origin === 'local' && view.state === 'open' && view.nextProbeAt !== null) {
        if (view.nextProbeAt > now) this.sendTrip(agentId, view.nextProbeAt, view.trippedAt);
      }
    }
    // 2. The cluster's open set (read after the writes above: one connection keeps their order).
    const readAt = this.seq;
    const subscribed = this.subscribed;
    const result = await this.command('converge', () => this.redis.hgetall(this.keys.open));
    if (!result.ok || this.detached) return;
    if (full && subscribed && !this.synced) {
      this.synced = true;
      for (const wake of this.syncWaiters.splice(0)) wake();
    }
    const added = this.added;
    this.added = new Set();
    const applies = (agentId: string) => full || added.has(agentId);
    const listed = new Set<string>();
    for (const [agentId, raw] of Object.entries(result.value)) {
      const listedAt = Number(raw);
      if (!Number.isFinite(listedAt) || listedAt + this.o.openTtlMs <= now) continue; // stale
      const nextProbeAt = this.plausible(listedAt, now + this.o.maxClockSkewMs + this.o.openTtlMs);
      listed.add(agentId);
      if (!peer.hasAgent(agentId) || !applies(agentId)) continue;
      const view = this.views.get(agentId);
      if (view !== undefined && view.seq > readAt) continue; // a message newer than the read
      if (view?.state === 'open' || view?.state === 'isolated') continue; // the machine would ignore it
      if (view !== undefined && view.unsentCloseAt !== null) continue; // closed here by its probes, the close not in Redis yet
      if (view?.state === 'half_open' && nextProbeAt <= now) continue; // this very window
      const next = this.view(agentId);
      next.seq = ++this.seq;
      next.state = 'open';
      next.origin = 'peer';
      next.nextProbeAt = nextProbeAt;
      next.trippedAt = Math.max(next.trippedAt, now);
      peer.peerTripped(agentId, nextProbeAt);
    }
    // 3. Circuits opened here because of a peer that the cluster closed while we were away.
    for (const [agentId, view] of this.views) {
      if (view.origin !== 'peer' || listed.has(agentId) || view.seq > readAt || !applies(agentId)) continue;
      if (view.state !== 'open' && view.state !== 'half_open') continue;
      view.seq = ++this.seq;
      view.state = 'closed';
      view.nextProbeAt = null;
      peer.peerClosed(agentId);
    }
  }

  // ─── plumbing ────────────────────────────────────────────────────────────────────────────────

  private ready(): boolean {
    return this.redis.status === 'ready';
  }

  /** Runs one command under the timeout; never rejects. Errors are reported. */
  private command<T>(where: string, run: () => Promise<T>): Promise<CommandResult<T>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<CommandResult<T>>((resolve) => {
      timer = setTimeout(() => {
        // A hung Redis times out every command: reported once until one succeeds again.
        if (!this.slowReported) {
          this.slowReported = true;
          this.report(
            new Error(`Redis did not answer within ${this.o.commandTimeoutMs} ms (reported once until it does)`),
            where,
          );
        }
        resolve({ ok: false });
      }, this.o.commandTimeoutMs);
      timer.unref?.();
    });
    let started: Promise<T>;
    try {
      started = run();
    } catch (error) {
      clearTimeout(timer);
      this.report(error, where);
      return Promise.resolve({ ok: false });
    }
    const done = Promise.race([
      started.then(
        (value): CommandResult<T> => {
          this.slowReported = false;
          return { ok: true, value };
        },
        (error: unknown): CommandResult<T> => {
          this.report(error, where);
          return { ok: false };
        },
      ),
      timeout,
    ]).finally(() => {
      clearTimeout(timer);
      this.inflight.delete(done);
    });
    this.inflight.add(done);
    return done;
  }

  private noteOutage(error?: unknown): void {
    if (this.outageReported || this.detached) return;
    // Still connecting for the first time: the first convergence will send what was skipped.
    if (error === undefined && !this.everReady && STARTING.has(this.redis.status)) return;
    this.outageReported = true;
    const reason = error instanceof Error ? `: ${error.message}` : ` (client status '${this.redis.status}')`;
    this.peer?.reportError(
      new Error(`Redis unavailable${reason}; each instance decides on its own until it is back`),
      'redis',
    );
  }

  private report(error: unknown, where: string): void {
    if (this.detached && where !== 'release') return;
    this.peer?.reportError(error, `redis ${where}`);
  }

  private view(agentId: string): AgentView {
    let view = this.views.get(agentId);
    if (view === undefined) {
      view = {
        state: 'closed',
        nextProbeAt: null,
        origin: 'local',
        trippedAt: 0,
        unsentCloseAt: null,
        seq: 0,
      };
      this.views.set(agentId, view);
    }
    return view;
  }

  private leaseKey(agentId: string): string {
    return `${this.keys.prefix}:lease:${agentId}`;
  }

  private tripsKey(agentId: string): string {
    return `${this.keys.prefix}:trips:${agentId}`;
  }
}

const STARTING = new Set(['wait', 'connecting', 'connect']);

/** How long after its client gave up the subscriber is reconnected (while Redis is up). */
const RESUBSCRIBE_DELAY_MS = 1000;

/**
 * Node's timers may fire a millisecond before `Date.now()` reaches their target: a window opening
 * at `nextProbeAt` still gets the lease that its `#open:` tombstone keeps until then.
 */
const LEASE_SLACK_MS = 50;

/** The adapter: a `BreakerSync`, its instance id, and a way to wait for the first sync. */
export interface RedisBreakerSync extends BreakerSync {
  readonly instanceId: string;
  /** Resolves true once subscribed and the open set was read; false after `timeoutMs` (default 5000). */
  whenSynced(timeoutMs?: number): Promise<boolean>;
}

/**
 * Shares breaker state between supervisor instances through Redis: pass the result as `sync` to
 * `createSupervisor`. Throws `ConfigError` for a wrong option.
 */
export function createRedisSync(options: RedisSyncOptions): RedisBreakerSync {
  return new RedisSync(resolveRedisSyncOptions(options));
}
