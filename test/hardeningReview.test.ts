/**
 * Regressions found by the adversarial review of the hardening work: the Host rule on an HTTPS
 * port, a custom clock that goes backwards between bad readings, and the inspector's replay of
 * every actor a supervisor registers at once.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { guardedClock } from '../src/common/clock.js';
import { loopbackHosts } from '../src/http/loopbackHosts.js';
import { createSupervisor } from '../src/index.js';

describe('found by the adversarial review of the hardening', () => {
  it('a loopback server on port 443 answers a browser, which leaves the port out of Host', () => {
    const hosts = loopbackHosts({ address: '127.0.0.1', family: 'IPv4', port: 443 });
    expect(hosts.has('localhost')).toBe(true);
    expect(hosts.has('127.0.0.1')).toBe(true);
    expect(hosts.has('localhost:443')).toBe(true);
    // Any other port still needs the port.
    expect(loopbackHosts({ address: '127.0.0.1', family: 'IPv4', port: 8443 }).has('localhost')).toBe(false);
  });

  it('a guarded clock never runs backwards, and a bad reading after a backward one keeps the latest time', () => {
    const readings: unknown[] = [1000, 2000, 500, Number.NaN, 2500, Number.POSITIVE_INFINITY, 400];
    const reports: unknown[] = [];
    let i = 0;
    const clock = guardedClock(
      { now: () => readings[i++] as number, setTimeout: () => 0, clearTimeout: () => {} },
      (error) => reports.push(error),
    );
    expect(readings.map(() => clock.now())).toEqual([1000, 2000, 2000, 2000, 2500, 2500, 2500]);
    expect(reports).toHaveLength(1); // the first bad reading; a backward one is not an error
  });

  it('a viewer of the inspector sees every actor of a supervisor that starts with many agents', async () => {
    let url = '';
    const agents = Array.from({ length: 400 }, (_, n) => ({ id: `agent-${n}`, run: async () => n }));
    const supervisor = createSupervisor({
      agents,
      eagerActors: true,
      inspect: { onReady: (u) => (url = u) },
      onError: () => {},
    });
    await supervisor.inspectorUrl;
    const registered = new Set<string>();
    const viewer = new WebSocket(url.replace('http', 'ws'), { origin: url.replace(/\/$/, '') });
    viewer.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type?: string; sessionId?: string };
      if (message.type === '@xstate.actor' && message.sessionId) registered.add(message.sessionId);
    });
    // The relay replays what it holds as soon as the viewer connects; wait for it to arrive.
    for (let i = 0; i < 100 && registered.size <= agents.length; i++) await new Promise((r) => setTimeout(r, 20));
    viewer.terminate();
    await supervisor.stop({ drainMs: 0 });
    // Every breaker actor, plus the root and its shards (the adapter kept only 200 before).
    expect(registered.size).toBeGreaterThan(agents.length);
  });
});
