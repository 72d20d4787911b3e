/**
 * What a peer with Redis access can do to this instance's circuits through `PEER_TRIPPED` (README,
 * "What an attacker can and cannot do"): a trip with a far-future or absurd `nextProbeAt` opens the
 * agent for at most `backoff.maxMs` from its receipt, a trip for an agent this instance does not
 * have changes nothing, and an isolated agent ignores peers. Through a stand-in adapter: the Redis
 * adapter hands every trip it reads (channel or open set) to the same `peerTripped`.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { BreakerSync, SyncPeer } from '../src/index.js';
import { createSupervisor } from '../src/index.js';

function peerHandle() {
  let peer: SyncPeer | undefined;
  const sync: BreakerSync = {
    attach: (p) => {
      peer = p;
    },
    publish: () => {},
    detach: async () => {},
  };
  return { sync, peer: () => peer as SyncPeer };
}

describe('a peer’s trip time is clamped', () => {
  it.each([
    ['a far-future time', 8.64e15],
    ['a time beyond Date', 1e300],
  ])('%s holds the circuit open for at most backoff.maxMs', async (_name, nextProbeAt) => {
    const clock = new SimulatedClock();
    clock.set(1_000_000);
    const { sync, peer } = peerHandle();
    const maxMs = 60_000;
    const supervisor = createSupervisor({
      clock,
      sync,
      breaker: { backoff: { maxMs } },
      agents: [
        { id: 'a', run: () => 'a' },
        { id: 'b', run: () => 'b' },
      ],
    });
    peer().peerTripped('a', nextProbeAt);
    expect(supervisor.getAgent('a')?.state).toBe('open');
    expect(supervisor.getStats().agents.find((s) => s.agentId === 'a')?.nextProbeAt).toBe(1_000_000 + maxMs);
    clock.increment(maxMs);
    expect(supervisor.getAgent('a')?.state).toBe('half_open');
    await supervisor.stop();
  });

  it('a trip for an unknown agent changes nothing; an isolated agent ignores peers', async () => {
    const { sync, peer } = peerHandle();
    const supervisor = createSupervisor({
      clock: new SimulatedClock(),
      sync,
      agents: [
        { id: 'a', run: () => 'a' },
        { id: 'b', run: () => 'b' },
      ],
    });
    peer().peerTripped('nobody', 5_000);
    supervisor.isolate('b');
    peer().peerTripped('b', 5_000);
    peer().peerClosed('b');
    expect(supervisor.getAllMetrics().map((m) => [m.agentId, m.state])).toEqual([
      ['a', 'closed'],
      ['b', 'isolated'],
    ]);
    await supervisor.stop();
  });
});
