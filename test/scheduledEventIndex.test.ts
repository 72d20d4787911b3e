/**
 * XState's `cancelAll` scans every delayed event of the system whenever any actor stops: with
 * 10,000 half-open circuits sharing a probe lease, a mass reset or recovery was O(N²), and stopping
 * 10,000 open circuits took 35 s. `indexScheduledEvents` replaces the scan with a lookup. These
 * tests pin that it installs on the XState we ship with, that an actor's stop still cancels exactly
 * its own timers, and that no stop scans the schedule.
 */
import { describe, expect, it } from 'vitest';
import { type AnyActorRef, createActor, createMachine, SimulatedClock, spawnChild, stopChild } from 'xstate';
import { alwaysGrantedLease, createSupervisor } from '../src/index.js';
import { indexScheduledEvents } from '../src/supervisor/scheduledEventIndex.js';
import { TrackedClock } from './support/trackedClock.js';

/** Counts enumerations of the system's schedule (what `for…in` in XState's `cancelAll` does). */
function countScans(system: AnyActorRef['system']): { scans: number } {
  const counter = { scans: 0 };
  const internals = system as unknown as { _snapshot: { _scheduledEvents: object } };
  internals._snapshot._scheduledEvents = new Proxy(internals._snapshot._scheduledEvents, {
    ownKeys(target) {
      counter.scans++;
      return Reflect.ownKeys(target);
    },
  });
  return counter;
}

const ticking = createMachine({
  initial: 'waiting',
  states: { waiting: { after: { 1000: 'done' } }, done: {} },
});

describe('indexScheduledEvents', () => {
  it('installs on the XState this package ships with (a changed scheduler would fall back)', () => {
    const root = createActor(createMachine({}));
    expect(indexScheduledEvents(root.system)).toBe(true);
  });

  it('leaves an XState of another shape alone and says so', () => {
    expect(indexScheduledEvents({} as AnyActorRef['system'])).toBe(false);
  });

  it("stopping an actor cancels its own delayed events and nobody else's", () => {
    const clock = new SimulatedClock();
    const parent = createMachine({
      entry: [spawnChild(ticking, { id: 'a' }), spawnChild(ticking, { id: 'b' })],
      on: { STOP_A: { actions: stopChild('a') } },
    });
    const root = createActor(parent, { clock });
    indexScheduledEvents(root.system);
    root.start();
    const a = root.getSnapshot().children.a as AnyActorRef;
    const b = root.getSnapshot().children.b as AnyActorRef;
    root.send({ type: 'STOP_A' });
    clock.increment(1000);
    expect(a.getSnapshot().value).toBe('waiting'); // its timer was cancelled
    expect(b.getSnapshot().value).toBe('done'); // its own still fired
    root.stop();
  });

  it('the scan counter counts a stop on a system without the index (control for the next test)', () => {
    const clock = new SimulatedClock();
    const parent = createMachine({
      entry: [spawnChild(ticking, { id: 'a' })],
      on: { STOP_A: { actions: stopChild('a') } },
    });
    const root = createActor(parent, { clock }).start(); // not indexed: XState's own cancelAll
    const counter = countScans(root.system);
    root.send({ type: 'STOP_A' });
    expect(counter.scans).toBeGreaterThan(0);
    root.stop();
  });

  it('a supervisor resets and stops 200 half-open circuits without one scan of the schedule, leaving no timer', async () => {
    const sim = new SimulatedClock();
    const clock = new TrackedClock(sim);
    const ids = Array.from({ length: 200 }, (_, i) => `agent-${i}`);
    const supervisor = createSupervisor({
      clock,
      agents: ids.map((id) => ({ id, run: () => Promise.reject(new Error('down')) })),
      routing: { maxAttempts: 1 },
      breaker: { failureThreshold: 1 },
      // A shared-state adapter's probe lease: each half-open window invokes an actor, and each exit
      // from half-open stops it (the stop that scanned the schedule).
      sync: { probeLease: alwaysGrantedLease, attach: () => {}, publish: () => {}, detach: async () => {} },
    });
    for (const id of ids) await supervisor.route('t', { agents: [id] }).catch(() => undefined);
    sim.increment(1000); // every circuit half-open, each with a probe lease actor and a timeout
    expect(supervisor.getHealthStatus().halfOpenCircuits).toBe(200);
    expect(Object.keys(supervisor.actor.system.get('agent-0')?.getSnapshot().children ?? {})).toHaveLength(1);

    const counter = countScans(supervisor.actor.system);
    for (const id of ids.slice(0, 100)) supervisor.reset(id); // each stops its lease actor
    await supervisor.stop({ drainMs: 0 }); // stops every breaker actor
    expect(counter.scans).toBe(0);
    expect(clock.live.size).toBe(0);
  });
});
