/**
 * `GET /api/circuit-breaker/events`: Server-Sent Events from the supervisor's observables.
 *
 * Each stream gets, in order: a `frame` (health, every agent's row, task totals) at once; then
 * every `transition` as it happens; `failure` events (at most `maxFailuresPerSecond` a stream, the
 * surplus counted in a `dropped` event); and a new `frame` at most once per `frameIntervalMs`, only
 * when something changed (a `: keepalive` comment otherwise, every 15 s). A frame is built once per
 * tick and shared by every stream. A client that disconnects is unsubscribed at once; a client that
 * does not read is cut off rather than buffered without bound; `stop()` of the supervisor ends
 * every stream with an `end` event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Subscription } from 'rxjs';
import type { Supervisor } from '../supervisor/supervisorTypes.js';
import { setCommonHeaders } from './respond.js';
import { failureJson, frameJson, transitionJson } from './wire.js';

export interface EventStreamOptions {
  maxStreams: number;
  maxAgentsPerFrame: number;
  frameIntervalMs: number;
  maxFailuresPerSecond: number;
}

/** A client that leaves this much unread output is disconnected. */
const MAX_BUFFERED_BYTES = 1 << 20;
const KEEPALIVE_MS = 15_000;

interface Stream {
  res: ServerResponse;
  subscriptions: Subscription[];
  lastFrame: string;
  lastWriteAt: number;
  failureWindowStart: number;
  failuresInWindow: number;
  dropped: number;
}

export class EventStreams {
  private readonly streams = new Set<Stream>();
  private ticker: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(
    private readonly supervisor: Supervisor,
    private readonly options: EventStreamOptions,
  ) {}

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
    const stream: Stream = {
      res,
      subscriptions: [],
      lastFrame: '',
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
    this.sendFrame(stream, JSON.stringify(frameJson(this.supervisor, this.options.maxAgentsPerFrame)));

    const supervisor = this.supervisor;
    stream.subscriptions.push(
      supervisor.transitions$.subscribe({
        next: (transition) => this.send(stream, 'transition', JSON.stringify(transitionJson(supervisor, transition))),
        complete: () => this.end(stream),
      }),
      supervisor.failures$.subscribe({
        next: (failure) => {
          const now = performance.now();
          if (now - stream.failureWindowStart >= 1000) {
            stream.failureWindowStart = now;
            stream.failuresInWindow = 0;
          }
          if (stream.failuresInWindow >= this.options.maxFailuresPerSecond) {
            stream.dropped++;
            return;
          }
          stream.failuresInWindow++;
          this.send(stream, 'failure', JSON.stringify(failureJson(failure)));
        },
      }),
    );
    // The supervisor was already stopped: its streams completed at once and ended this one.
    if (!this.streams.has(stream)) for (const subscription of stream.subscriptions) subscription.unsubscribe();
    this.startTicker();
  }

  /** Ends every stream and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const stream of [...this.streams]) this.end(stream);
    this.stopTicker();
  }

  private tick(): void {
    if (this.streams.size === 0) return;
    const frame = JSON.stringify(frameJson(this.supervisor, this.options.maxAgentsPerFrame));
    const now = performance.now();
    for (const stream of [...this.streams]) {
      if (stream.dropped > 0) {
        this.send(stream, 'dropped', JSON.stringify({ failures: stream.dropped }));
        stream.dropped = 0;
      }
      if (frame !== stream.lastFrame) this.sendFrame(stream, frame);
      else if (now - stream.lastWriteAt >= KEEPALIVE_MS) this.write(stream, ': keepalive\n\n');
    }
  }

  private sendFrame(stream: Stream, frame: string): void {
    stream.lastFrame = frame;
    this.send(stream, 'frame', frame);
  }

  private send(stream: Stream, event: string, data: string): void {
    this.write(stream, `event: ${event}\ndata: ${data}\n\n`);
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

  /** Unsubscribes a stream (its client left, or it ended). */
  private drop(stream: Stream): void {
    if (!this.streams.delete(stream)) return;
    for (const subscription of stream.subscriptions) subscription.unsubscribe();
    stream.subscriptions.length = 0;
    if (this.streams.size === 0) this.stopTicker();
  }

  private startTicker(): void {
    if (this.ticker !== undefined || this.streams.size === 0) return;
    this.ticker = setInterval(() => this.tick(), this.options.frameIntervalMs);
    // Pacing output is I/O, not a breaker decision: it never keeps the process alive on its own.
    this.ticker.unref();
  }

  private stopTicker(): void {
    if (this.ticker === undefined) return;
    clearInterval(this.ticker);
    this.ticker = undefined;
  }
}
