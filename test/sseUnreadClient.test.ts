/**
 * The dashboard's event stream and a client that never reads (README, "Server-Sent Events": "one
 * that stops reading is cut off after 1 MiB"): while far more than that is produced, the server
 * never holds more than the cap (plus the one event that crossed it) unsent for the client, and
 * drops it. Real loopback sockets; the client subscribes and then never reads again.
 */
import { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createSupervisor, type DashboardServer, type Supervisor, serveDashboard } from '../src/index.js';

const CAP = 1 << 20;

/** The most bytes any event-stream response held unsent just before a write, and the bytes written. */
function watchEventStreamWrites() {
  const seen = { maxUnsent: 0, written: 0 };
  const proto = ServerResponse.prototype as unknown as { write: (...args: unknown[]) => boolean };
  const original = proto.write;
  proto.write = function (this: ServerResponse, ...args: unknown[]) {
    if (String(this.getHeader('content-type')).startsWith('text/event-stream')) {
      seen.maxUnsent = Math.max(seen.maxUnsent, this.writableLength);
      if (typeof args[0] === 'string') seen.written += Buffer.byteLength(args[0]);
    }
    return original.apply(this, args);
  };
  return { seen, restore: () => (proto.write = original) };
}

describe('an SSE client that never reads', () => {
  let supervisor: Supervisor | undefined;
  let dashboard: DashboardServer | undefined;
  let socket: Socket | undefined;
  afterEach(async () => {
    socket?.destroy();
    await dashboard?.close();
    await supervisor?.stop();
  });

  it('is cut off before more than 1 MiB waits unsent for it, while ~20 MiB of events are produced', async () => {
    // Agent ids of 200 characters (the most allowed): each transition event is ~0.5 KB.
    const ids = ['a', 'b'].map((c) => c.repeat(200));
    supervisor = createSupervisor({ agents: ids.map((id) => ({ id, run: () => 'ok' })) });
    dashboard = await serveDashboard(supervisor, { port: 0 });
    const port = dashboard.port;

    // Subscribe, read the head, then never read again.
    const client = connect(port, '127.0.0.1');
    socket = client;
    await new Promise<void>((resolve, reject) => {
      let head = '';
      client.on('error', reject);
      client.on('data', function onData(chunk: Buffer) {
        head += chunk.toString('latin1');
        if (head.includes('\r\n\r\n')) {
          expect(head).toMatch(/^HTTP\/1\.1 200[\s\S]*text\/event-stream/);
          client.off('data', onData);
          client.pause();
          resolve();
        }
      });
      client.write(`GET /api/circuit-breaker/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    });
    let closed = false;
    client.on('close', () => {
      closed = true;
    });
    client.on('error', () => {});
    expect(dashboard.handler.streamCount).toBe(1);

    const watch = watchEventStreamWrites();
    let transitions = 0;
    const counting = supervisor.transitions$.subscribe(() => transitions++);
    try {
      // Isolate and reset each agent over and over: every change is a transition event on the stream.
      for (let round = 0; round < 40; round++) {
        for (let i = 0; i < 500; i++) {
          for (const id of ids) {
            supervisor.isolate(id);
            supervisor.reset(id);
          }
        }
        await tick(); // let the socket flush what the kernel takes
      }
      await sleep(20);
    } finally {
      watch.restore();
      counting.unsubscribe();
    }

    const event = 520; // bytes of one transition event, at most (id: …, event: transition, data: {…})
    expect(transitions * 450).toBeGreaterThan(20 * CAP); // far beyond the cap was produced…
    expect(watch.seen.maxUnsent).toBeLessThanOrEqual(CAP + event); // …at most the cap and one event waited…
    expect(dashboard.handler.streamCount).toBe(0); // …and the client was dropped
    expect(watch.seen.written).toBeLessThan(transitions * event); // not everything was written to it
    // Once it reads again, it finds the connection closed.
    client.resume();
    for (let i = 0; i < 300 && !closed; i++) await sleep(10);
    expect(closed).toBe(true);
  }, 30_000);
});
