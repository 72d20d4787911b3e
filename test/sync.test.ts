/**
 * The supervisor's side of shared state (`sync`), with two supervisors in one process linked by an
 * in-memory hub that does what a transport adapter does: publish local trips and closes to peers,
 * and hand the half-open probe lease to one instance per window.
 */
import { describe, expect, it } from 'vitest';
import { fromCallback, SimulatedClock } from 'xstate';
import type { BreakerSync, SyncPeer, SyncTransition } from '../src/index.js';
import { createSupervisor } from '../src/index.js';

function memoryHub() {
  const peers = new Map<string, SyncPeer>();
  const published: Array<SyncTransition & { from_: string }> = [];
  const leases = new Map<string, string>(); // `${agentId}` → instance holding this window's lease
  const syncFor = (instance: string): BreakerSync => ({
    probeLease: fromCallback<{ type: 'LEASE_GRANTED' | 'LEASE_DENIED' }, { agentId: string; generation: number }>(
      ({ sendBack, input }) => {
        const holder = leases.get(input.agentId);
        if (holder === undefined || holder === instance) {
          leases.set(input.agentId, instance);
          sendBack({ type: 'LEASE_GRANTED' });
        } else sendBack({ type: 'LEASE_DENIED' });
        // Leaving half-open releases the lease.
        return () => {
          if (leases.get(input.agentId) === instance) leases.delete(input.agentId);
        };
      },
    ),
    attach: (peer) => void peers.set(instance, peer),
    publish: (t) => {
      published.push({ ...t, from_: instance });
      for (const [name, peer] of peers) {
        if (name === instance) continue;
        if (t.to === 'open' && t.nextProbeAt !== null) peer.peerTripped(t.agentId, t.nextProbeAt);
        if (t.to === 'closed' && t.from === 'half_open') peer.peerClosed(t.agentId);
      }
    },
    detach: async () => void peers.delete(instance),
  });
  return { syncFor, published, leases };
}

describe('sync: breaker state shared between instances', () => {
  it('a trip in one instance opens the agent everywhere, with the same nextProbeAt; one instance probes', async () => {
    const clock = new SimulatedClock();
    clock.set(5000);
    const hub = memoryHub();
    let healthy = false;
    const calls = { a: 0, b: 0 };
    const make = (name: 'a' | 'b') =>
      createSupervisor({
        clock,
        sync: hub.syncFor(name),
        agents: [
          {
            id: 'agent-3',
            run: async () => {
              calls[name]++;
              if (!healthy) throw new Error('down');
              return `${name} ok`;
            },
          },
          { id: 'backup', run: async () => 'backup' },
        ],
      });
    const a = make('a');
    const b = make('b');
    for (let i = 0; i < 5; i++) await a.route(i);
    expect(a.getAgent('agent-3')?.state).toBe('open');
    expect(b.getAgent('agent-3')?.state).toBe('open'); // learned from a, not from five failures of its own
    expect(calls.b).toBe(0);
    expect(b.getStats().agents[0]?.nextProbeAt).toBe(a.getStats().agents[0]?.nextProbeAt);
    expect(hub.published.map((t) => `${t.from_}:${t.from}→${t.to}`)).toEqual(['a:closed→open']);

    healthy = true;
    clock.increment(1000); // both go half-open at the same moment; a holds the lease
    expect([a.getAgent('agent-3')?.state, b.getAgent('agent-3')?.state]).toEqual(['half_open', 'half_open']);
    expect(await b.route('from b')).toBe('backup'); // b may not probe
    expect(calls.b).toBe(0);
    for (let i = 0; i < 3; i++) expect(await a.route(i)).toBe('a ok');
    expect(a.getAgent('agent-3')?.state).toBe('closed');
    expect(b.getAgent('agent-3')?.state).toBe('closed'); // closed by its peer
    expect(hub.leases.size).toBe(0); // released on close
    expect(await b.route('again')).toBe('b ok');
    await Promise.all([a.stop(), b.stop()]);
  });

  it('a throwing adapter is contained: routing goes on, the error is reported', async () => {
    const reported: string[] = [];
    const supervisor = createSupervisor({
      clock: new SimulatedClock(),
      onError: (_e, where) => reported.push(where),
      sync: {
        attach: () => {},
        publish: () => {
          throw new Error('transport down');
        },
        detach: async () => {
          throw new Error('still down');
        },
      },
      agents: [
        { id: 'x', run: async () => Promise.reject(new Error('boom')) },
        { id: 'y', run: async () => 'y' },
      ],
    });
    for (let i = 0; i < 5; i++) expect(await supervisor.route(i)).toBe('y');
    expect(supervisor.getAgent('x')?.state).toBe('open');
    await supervisor.stop();
    expect(reported).toEqual(['sync.publish', 'stop']);
  });
});
