import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { ConfigError, createSupervisor, type SupervisorOptions } from '../src/index.js';

function failing(id: string) {
  return { id, run: async () => Promise.reject(new Error(`${id} down`)) };
}

/** A supervisor whose agent-1 is driven into `state`, at simulated time 10,000. */
async function supervisorIn(
  state: 'closed' | 'open' | 'half_open' | 'isolated',
  extra: Partial<SupervisorOptions> = {},
) {
  const clock = new SimulatedClock();
  clock.set(10_000);
  const supervisor = createSupervisor({
    clock,
    agents: [failing('agent-1'), { id: 'agent-2', run: async () => 'ok' }],
    ...extra,
  });
  if (state === 'isolated') supervisor.isolate('agent-1');
  if (state === 'closed') await supervisor.route('t'); // one failure counted, still closed
  if (state === 'open' || state === 'half_open') for (let i = 0; i < 5; i++) await supervisor.route(i);
  if (state === 'half_open') clock.increment(1000);
  return { clock, supervisor };
}

/** Restores `snapshot` into a fresh supervisor (same agents) at simulated time `now`. */
function restored(snapshot: unknown, now: number) {
  const clock = new SimulatedClock();
  clock.set(now);
  let agent1Calls = 0;
  const supervisor = createSupervisor({
    clock,
    agents: [
      {
        id: 'agent-1',
        run: async () => {
          agent1Calls++;
          return 'agent-1 is back';
        },
      },
      { id: 'agent-2', run: async () => 'ok' },
    ],
    restore: JSON.parse(JSON.stringify(snapshot)),
  });
  return { clock, supervisor, calls: () => agent1Calls };
}

describe('snapshot() and restore', () => {
  it('an open circuit stays open until its recorded nextProbeAt, across a restart, then probes', async () => {
    const before = await supervisorIn('open');
    const snapshot = before.supervisor.snapshot();
    await before.supervisor.stop();
    const entry = snapshot.agents.find((a) => a.id === 'agent-1');
    expect(entry).toMatchObject({ state: 'open', failureCount: 5, backoffMs: 1000, nextProbeAt: 11_000 });

    // The new process starts 400 ms later: 600 ms of the backoff are left.
    const after = restored(snapshot, 10_400);
    expect(after.supervisor.getAgent('agent-1')?.state).toBe('open');
    expect(await after.supervisor.route('t')).toBe('ok'); // agent-1 skipped
    expect(after.calls()).toBe(0);
    after.clock.increment(599);
    expect(after.supervisor.getAgent('agent-1')?.state).toBe('open');
    after.clock.increment(1);
    expect(after.supervisor.getAgent('agent-1')?.state).toBe('half_open');
    for (let i = 0; i < 3; i++) expect(await after.supervisor.route(i)).toBe('agent-1 is back');
    expect(after.supervisor.getAgent('agent-1')?.state).toBe('closed');
    await after.supervisor.stop();
  });

  it('an open circuit whose probe time passed while down goes half-open at once', async () => {
    const before = await supervisorIn('open');
    const snapshot = before.supervisor.snapshot();
    await before.supervisor.stop();
    const after = restored(snapshot, 60_000);
    after.clock.increment(0);
    expect(after.supervisor.getAgent('agent-1')?.state).toBe('half_open');
    await after.supervisor.stop();
  });

  it('a half-open window restarts cleanly: a fresh set of probes, the backoff level kept', async () => {
    const before = await supervisorIn('half_open');
    await before.supervisor.route('probe 1').catch(() => {}); // fails: reopen with 1.5 s
    before.clock.increment(1500);
    expect(before.supervisor.getAgent('agent-1')?.state).toBe('half_open');
    const snapshot = before.supervisor.snapshot();
    await before.supervisor.stop();
    const after = restored(snapshot, 50_000);
    expect(after.supervisor.getAgent('agent-1')?.state).toBe('half_open');
    expect(after.supervisor.getAllMetrics()[0]?.backoffSeconds).toBe(1.5);
    for (let i = 0; i < 3; i++) await after.supervisor.route(i);
    expect(after.supervisor.getAgent('agent-1')?.state).toBe('closed');
    await after.supervisor.stop();
  });

  it('isolated stays isolated; a closed circuit keeps its failure count and counters', async () => {
    const isolated = await supervisorIn('isolated');
    const a = restored(isolated.supervisor.snapshot(), 20_000);
    expect(a.supervisor.getAgent('agent-1')?.state).toBe('isolated');
    a.clock.increment(10 * 60_000);
    expect(a.supervisor.getAgent('agent-1')?.state).toBe('isolated');

    const closed = await supervisorIn('closed');
    const b = restored(closed.supervisor.snapshot(), 20_000);
    expect(b.supervisor.getAllMetrics()[0]).toMatchObject({
      state: 'closed',
      metrics: { failureCount: 1, totalFailures: 1, successCount: 0 },
    });
    expect(b.supervisor.getAllMetrics()[1]?.metrics.successCount).toBe(1);
    await Promise.all([isolated.supervisor.stop(), closed.supervisor.stop(), a.supervisor.stop(), b.supervisor.stop()]);
  });

  it('an entry for an agent added later applies when it is added', async () => {
    const before = await supervisorIn('open');
    const snapshot = before.supervisor.snapshot();
    const clock = new SimulatedClock();
    clock.set(10_500);
    const supervisor = createSupervisor({ clock, restore: snapshot });
    supervisor.addAgent({ id: 'agent-1', run: async () => 'x' });
    expect(supervisor.getAgent('agent-1')?.state).toBe('open');
    await Promise.all([before.supervisor.stop(), supervisor.stop()]);
  });

  it('a snapshot survives JSON and says what it is', async () => {
    const { supervisor } = await supervisorIn('open');
    const snapshot = supervisor.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toStrictEqual(snapshot); // no undefined that JSON drops
    expect(snapshot).toMatchObject({ format: 'breakerbox/supervisor-snapshot', version: 1, takenAt: 10_000 });
    await supervisor.stop();
  });

  it.each([
    ['not an object', 'nope', 'restore'],
    ['another format', { format: 'other', version: 1, takenAt: 0, agents: [] }, 'restore.format'],
    [
      'an older version',
      { format: 'breakerbox/supervisor-snapshot', version: 0, takenAt: 0, agents: [] },
      'restore.version',
    ],
    [
      'an unknown state',
      { format: 'breakerbox/supervisor-snapshot', version: 1, takenAt: 0, agents: [{ id: 'a', state: 'ajar' }] },
      'restore.agents[0].state',
    ],
    [
      // forEach skips holes: a sparse list passed validation and crashed the constructor
      'a list with a hole',
      { format: 'breakerbox/supervisor-snapshot', version: 1, takenAt: 0, agents: new Array(1) },
      'restore.agents[0]',
    ],
    [
      'an id no agent can have (over 200 characters)',
      { format: 'breakerbox/supervisor-snapshot', version: 1, takenAt: 0, agents: [{ id: 'x'.repeat(201) }] },
      'restore.agents[0].id',
    ],
  ])('refuses %s with a ConfigError', (_name, snapshot, field) => {
    let error: unknown;
    try {
      createSupervisor({ agents: [failing('a')], restore: snapshot as never });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
  });

  it('refuses a snapshot whose second entry is malformed, naming that entry', async () => {
    const { supervisor } = await supervisorIn('open');
    const snapshot = supervisor.snapshot();
    const broken = { ...snapshot, agents: [snapshot.agents[0], { ...snapshot.agents[1], failureCount: -1 }] };
    expect(() => createSupervisor({ agents: [failing('agent-1')], restore: broken as never })).toThrow(
      'restore.agents[1].failureCount',
    );
    await supervisor.stop();
  });
});
