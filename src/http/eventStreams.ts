/**
 * `GET /api/circuit-breaker/events`: Server-Sent Events from the supervisor's observables.
 *
 * Each stream gets, in order: the recent `transition` and `failure` events (up to 50 of each, oldest
 * first: a dashboard opened late still fills its panels), then a `frame` (health, every agent's row,
 * task totals); then every `transition` as it happens; `failure` events (at most
 * `maxFailuresPerSecond` a stream, the surplus counted in a `dropped` event); and a new `frame` at
 * most once per `frameIntervalMs`, only when its content changed — the clock's `timestamp` aside (a
 * `: keepalive` comment otherwise, every 15 s). `transition` and `failure` events carry an `id:`, so
 * a client that reconnects with `Last-Event-ID` is replayed only what came after it.
 *
 * One subscription to the supervisor, from the handler's creation on, keeps the recent events and
 * fans them out, each serialized once; a frame is built once per tick and shared by every stream. A
 * client that disconnects is dropped at once; a client that does not read is cut off rather than
 * buffered without bound; `stop()` of the supervisor ends every stream with an `end` event. No
 * callback of this module (ticker, subscription) throws out: an error is reported to `onError`
 * once, until that callback succeeds again.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Subscription } from 'rxjs';
import type { Transition } from '../breaker/breaker.js';
import type { FailureRecord, Supervisor } from '../supervisor/supervisorTypes.js';
import { setCommonHeaders } from './respond.js';
import { failureJson, frameJson, type TransitionJson, transitionJson } from './wire.js';

export interface EventStreamOptions {
  maxStreams: number;
  maxAgentsPerFrame: number;
  frameIntervalMs: number;
  maxFailuresPerSecond: number;
  onError: (error: unknown) => void;
}

/** A client that leaves this much unread output is disconnected. */
const MAX_BUFFERED_BYTES = 1 << 20;
const KEEPALIVE_MS = 15_000;
/** Recent events of each kind kept for a stream that opens later. */
const REPLAY = 50;

interface Stream {
  res: ServerResponse;
  /** The last frame sent, without its timestamp. */
  lastContent: string;
  lastWriteAt: number;
  failureWindowStart: number;
  failuresInWindow: number;
  dropped: number;
}

interface Recent {
  id: number;
  event: 'transition' | 'failure';
  /**
   * The event's JSON, serialized when first sent (most are never replayed): while no stream is
   * open, a transition is kept as its wire object and a failure as its record.
   */
  data: string | FailureRecord | TransitionJson;
}

/** A frame as sent, and its content without the clock's `timestamp` (what "changed" compares). */
interface Frame {
  text: string;
  content: string;
}

export class EventStreams {
  private readonly streams = new Set<Stream>();
  private ticker: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** The supervisor stopped: its observables completed. */
  private completed = false;
  private readonly subscriptions: Subscription[] = [];
  private readonly recentTransitions: Recent[] = [];
  private readonly recentFailures: Recent[] = [];
  private lastId = 0;
  /** Callbacks whose last run threw (reported once until they succeed again). */
  private readonly failing = new Set<string>();

  constructor(
    private readonly supervisor: Supervisor,
    private readonly options: EventStreamOptions,
  ) {
    // The failures the supervisor kept from before this handler existed (its transitions it does not keep).
    this.guard('recent failures', () => {
      if (typeof supervisor.getRecentFailures !== 'function') return;
      for (const failure of supervisor.getRecentFailures(REPLAY).reverse()) {
        this.remember(this.recentFailures, 'failure', failure);
      }
    });
    this.subscriptions.push(
      supervisor.transitions$.subscribe({
        next: (transition) => this.guard('transition', () => this.onTransition(transition)),
        complete: () => this.guard('end', () => this.onComplete()),
      }),
    );
    if (supervisor.failures$ !== undefined) {
      this.subscriptions.push(
        supervisor.failures$.subscribe({ next: (failure) => this.guard('failure', () => this.onFailure(failure)) }),
      );
    }
  }

  /** Streams open now. */
  get size(): number {
    return this.streams.size;
  }

  /** Whether another stream may open. */
  get hasRoom(): boolean {
    return !this.closed && this.streams.size < this.options.maxStreams;
  }

  /** Starts a stream on `res` (the caller checked `hasRoom`). */
  open(req: IncomingMessage, res: ServerResponse): void {
    // Built before anything is written: if it throws, the handler still answers a JSON 500.
    const frame = this.buildFrame();
    const stream: Stream = {
      res,
      lastContent: '',
      lastWriteAt: 0,
      failureWindowStart: 0,
      failuresInWindow: 0,
      dropped: 0,
    };
    this.streams.add(stream);
    setCommonHeaders(res);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    const cleanup = () => this.drop(stream);
    res.on('close', cleanup);
    res.on('error', cleanup);
    this.write(stream, 'retry: 2000\n\n');
    const after = lastEventId(req.headers['last-event-id'], this.lastId);
    const replay = [...this.recentTransitions, ...this.recentFailures]
      .filter((recent) => recent.id > after)
      .sort((a, b) => a.id - b.id);
    for (const recent of replay) this.send(stream, recent.event, serialized(recent), recent.id);
    this.sendFrame(stream, frame);
    // The supervisor was already stopped: the stream ends after its one frame.
    if (this.completed) this.end(stream);
    this.startTicker();
  }

  /** Ends every stream, refuses new ones and lets go of the supervisor. */
  close(): void {
    this.closed = true;
    for (const stream of [...this.streams]) this.end(stream);
    this.stopTicker();
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
  }

  private onTransition(transition: Transition): void {
    // Its retry-after is read now (it is a countdown); the text is made only if a stream needs it.
    const json = transitionJson(this.supervisor, transition);
    if (this.streams.size === 0) {
      this.remember(this.recentTransitions, 'transition', json);
      return;
    }
    const data = JSON.stringify(json);
    const id = this.remember(this.recentTransitions, 'transition', data);
    for (const stream of [...this.streams]) this.send(stream, 'transition', data, id);
  }

  private onFailure(failure: FailureRecord): void {
    const id = this.remember(this.recentFailures, 'failure', failure);
    if (this.streams.size === 0) return;
    const data = JSON.stringify(failureJson(failure));
    const kept = this.recentFailures.at(-1);
    if (kept?.id === id) kept.data = data;
    const now = performance.now();
    for (const stream of [...this.streams]) {
      if (now - stream.failureWindowStart >= 1000) {
        stream.failureWindowStart = now;
        stream.failuresInWindow = 0;
      }
      if (stream.failuresInWindow >= this.options.maxFailuresPerSecond) {
        stream.dropped++;
        continue;
      }
      stream.failuresInWindow++;
      this.send(stream, 'failure', data, id);
    }
  }

  private onComplete(): void {
    this.completed = true;
    for (const stream of [...this.streams]) this.end(stream);
    this.stopTicker();
  }

  /** Keeps an event for streams that open later; returns its id. */
  private remember(list: Recent[], event: Recent['event'], data: Recent['data']): number {
    const id = ++this.lastId;
    list.push({ id, event, data });
    if (list.length > REPLAY) list.shift();
    return id;
  }

  private buildFrame(): Frame {
    const { timestamp, ...rest } = frameJson(this.supervisor, this.options.maxAgentsPerFrame);
    const content = JSON.stringify(rest);
    // The same keys in the same order as frameJson's, timestamp first; content is never `{}`.
    return { content, text: `{"timestamp":${JSON.stringify(timestamp)},${content.slice(1)}` };
  }

  private tick(): void {
    if (this.streams.size === 0) return;
    const frame = this.buildFrame();
    const now = performance.now();
    for (const stream of [...this.streams]) {
      if (stream.dropped > 0) {
        this.send(stream, 'dropped', JSON.stringify({ failures: stream.dropped }));
        stream.dropped = 0;
      }
      if (frame.content !== stream.lastContent) this.sendFrame(stream, frame);
      else if (now - stream.lastWriteAt >= KEEPALIVE_MS) this.write(stream, ': keepalive\n\n');
    }
  }

  private sendFrame(stream: Stream, frame: Frame): void {
    stream.lastContent = frame.content;
    this.send(stream, 'frame', frame.text);
  }

  private send(stream: Stream, event: string, data: string, id?: number): void {
    this.write(stream, `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`);
  }

  private write(stream: Stream, text: string): void {
    const res = stream.res;
    if (res.writableEnded || res.destroyed) return;
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      res.destroy();
      this.drop(stream);
      return;
    }
    stream.lastWriteAt = performance.now();
    res.write(text);
  }

  private end(stream: Stream): void {
    if (!this.streams.has(stream)) return;
    this.send(stream, 'end', '{}');
    this.drop(stream);
    stream.res.end();
  }

  /** Forgets a stream (its client left, or it ended). */
  private drop(stream: Stream): void {
    if (!this.streams.delete(stream)) return;
    if (this.streams.size === 0) this.stopTicker();
  }

  /**
   * Runs a callback of ours (timer, subscription) so that nothing it throws escapes: a throw from a
   * timer would be an uncaught exception, one from an RxJS subscriber too (RxJS rethrows it in a
   * timeout). The first error of `where` goes to `onError`; repeats stay quiet until it succeeds.
   */
  private guard(where: string, fn: () => void): void {
    try {
      fn();
      if (this.failing.size > 0) this.failing.delete(where);
    } catch (error) {
      if (this.failing.has(where)) return;
      this.failing.add(where);
      try {
        this.options.onError(error);
      } catch {
        // onError itself threw: nowhere left to report to, and a timer must not throw.
      }
    }
  }

  private startTicker(): void {
    if (this.ticker !== undefined || this.streams.size === 0) return;
    this.ticker = setInterval(() => this.guard('frame', () => this.tick()), this.options.frameIntervalMs);
    // Pacing output is I/O, not a breaker decision: it never keeps the process alive on its own.
    this.ticker.unref();
  }

  private stopTicker(): void {
    if (this.ticker === undefined) return;
    clearInterval(this.ticker);
    this.ticker = undefined;
  }
}

function serialized(recent: Recent): string {
  const data = recent.data;
  if (typeof data === 'string') return data;
  recent.data = JSON.stringify(recent.event === 'failure' ? failureJson(data as FailureRecord) : data);
  return recent.data;
}

/** The `Last-Event-ID` a reconnecting client sent; 0 (replay all) when absent, malformed or not ours. */
function lastEventId(header: string | string[] | undefined, lastId: number): number {
  if (typeof header !== 'string' || !/^\d{1,15}$/.test(header)) return 0;
  const id = Number(header);
  // Beyond the newest id: from a handler before a restart, whose ids mean nothing here.
  return id <= lastId ? id : 0;
}
