/**
 * Replay on live actors (issue 4, part 2). `createTestModel` rejects machines with `after`, so the
 * paths `xstate/graph` finds are replayed here on real actors driven by XState's `SimulatedClock`:
 * every shortest path, every explored edge (the shortest path to its source, then its event), and
 * every simple path of small configurations. A delayed event advances the clock by exactly its delay,
 * checking first that one millisecond less does not fire it. Coverage of the explored states and
 * edges, and of the statechart's own transitions, must be 100%.
 *
 * The live actors run the explored machine itself: its probe lease never answers, so LEASE_GRANTED
 * and LEASE_DENIED are sent explicitly. Events explored at `at` = 0 are sent at the clock's time,
 * and the times they carry (a peer's or a snapshot's `nextProbeAt`) move with it. On actors that
 * replayed a whole path, the timestamps in the context must follow the simulated clock.
 */
import { describe, expect, it } from 'vitest';
import { type AnyTransitionDefinition, createActor, SimulatedClock } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import type { BreakerOptions } from '../machines/breakerOptions.js';
import type { BreakerEvent } from '../machines/circuitBreaker.js';
import {
  AFTER_BACKOFF,
  AFTER_HALF_OPEN_TIMEOUT,
  type AnyEvent,
  breakerGrid,
  type Exploration,
  eventsFor,
  explore,
  isAfter,
  keyOf,
  machine,
  type Snapshot,
  traversalOptions,
} from './support/exploreBreaker.js';

/** A live breaker actor on a simulated clock (the explored machine: its lease never answers). */
function live(options: BreakerOptions) {
  const clock = new SimulatedClock();
  const actor = createActor(machine, { input: { agentId: 'explored', options, now: 0 }, clock });
  actor.start();
  return { clock, actor };
}

type Live = ReturnType<typeof live>;

/** Every transition the statechart defines, by source state, event and position. */
function transitionId(t: AnyTransitionDefinition): string {
  const siblings = t.source.transitions.get(t.eventType) ?? [];
  return `${t.source.id} ${t.eventType} #${siblings.indexOf(t)}`;
}

function allTransitionIds(): Set<string> {
  const ids = new Set<string>();
  const visit = (node: typeof machine.root) => {
    for (const list of node.transitions.values()) for (const t of list) ids.add(transitionId(t));
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root);
  return ids;
}

/**
 * The explored event for the live actor's generation and clock. Explored events (results, permit
 * requests naming a window, permits given back) carry generations of the state's representative
 * (the first snapshot the exploration reached with that key); a path may reach the key with another
 * generation, so they keep their generation *relative* to the state: current stays current, a late
 * result (a stale request, a permit of an older window) stays late. Events are explored at `at` = 0: sent at
 * `now`, the times they carry keep their distance from `at`.
 */
function relative(event: AnyEvent, live: Snapshot, exploration: Exploration, now: number): AnyEvent {
  if (isAfter(event) || !('at' in event)) return event;
  const later = (time: number) => now + time - event.at;
  if (event.type === 'PEER_TRIPPED') return { ...event, at: now, nextProbeAt: later(event.nextProbeAt) };
  if (event.type === 'RESTORE') {
    const { nextProbeAt, lastFailureAt } = event;
    return {
      ...event,
      at: now,
      nextProbeAt: nextProbeAt === null ? null : later(nextProbeAt),
      lastFailureAt: lastFailureAt === null ? null : later(lastFailureAt),
    };
  }
  // Results, permits given back and permit requests naming a window keep their generation relative.
  const named =
    event.type === 'SUCCESS' ||
    event.type === 'FAILURE' ||
    event.type === 'PROBE_RELEASED' ||
    (event.type === 'PROBE' && event.generation !== undefined);
  if (!named) return { ...event, at: now };
  const representative = exploration.adjacency[keyOf(live) as keyof Exploration['adjacency']]?.state;
  if (representative === undefined) throw new Error(`replay reached an unexplored state ${keyOf(live)}`);
  const generation = live.context.generation + (event.generation as number) - representative.context.generation;
  return { ...event, at: now, generation };
}

/**
 * What is wrong with the timestamps of a step of a whole-path replay (the actor's clock started
 * with the breaker): every change is dated when it happened (a timer's change when the timer fired),
 * an open circuit lets probes in at `nextProbeAt` (its timer fires then, or at once if that time
 * had passed when it opened), and a timed-out probe is a failure of that moment.
 */
function timeProblems(before: Snapshot, event: AnyEvent, after: Snapshot, now: number): string[] {
  const problems: string[] = [];
  const b = before.context;
  const a = after.context;
  if (a.changedAt > now) problems.push(`changedAt ${a.changedAt} is in the future`);
  if (a.generation !== b.generation && a.changedAt !== now) {
    problems.push(`${before.value} → ${after.value} at ${now} dated ${a.changedAt}`);
  }
  if (after.value === 'half_open' && a.generation !== b.generation && a.halfOpenAt !== now) {
    problems.push(`a half-open window opened at ${now} dated ${a.halfOpenAt}`);
  }
  if (event.type === AFTER_BACKOFF && b.nextProbeAt !== null && now !== Math.max(b.nextProbeAt, b.changedAt)) {
    problems.push(`open until ${b.nextProbeAt} (since ${b.changedAt}) let probes in at ${now}`);
  }
  const opened = after.value === 'open' && a.generation !== b.generation;
  if (opened && event.type !== 'PEER_TRIPPED' && event.type !== 'RESTORE' && a.nextProbeAt !== now + a.probeDelayMs) {
    problems.push(`opened at ${now} for ${a.probeDelayMs} ms until ${a.nextProbeAt}`);
  }
  if (opened && event.type === AFTER_HALF_OPEN_TIMEOUT && a.lastFailureAt !== now) {
    problems.push(`a probe timed out at ${now}, recorded at ${a.lastFailureAt}`);
  }
  return problems;
}

/** A step, briefly: `+backoff` for a timer, a peer's or a snapshot's nextProbeAt relative to `at`. */
function stepName(event: AnyEvent): string {
  if (isAfter(event)) return event.type.replace(/^xstate\.after\.(\w+)\..*/, '+$1');
  const relativeTime = (time: number | null, at: number) =>
    time === null ? 'null' : time >= at ? `at+${time - at}` : `at-${at - time}`;
  if (event.type === 'PEER_TRIPPED') return `PEER_TRIPPED(nextProbeAt ${relativeTime(event.nextProbeAt, event.at)})`;
  if (event.type === 'RESTORE') {
    return `RESTORE(${event.state}, nextProbeAt ${relativeTime(event.nextProbeAt, event.at)})`;
  }
  return event.type;
}

/** Time problems found on whole-path replays, by configuration: reported by a test of their own. */
const clockProblems = new Map<string, string[]>();
/** Steps whose timestamps were checked, by configuration: without them the clock test has nothing to say. */
const datedSteps = new Map<string, number>();

/**
 * Sends one explored event to a live actor; a delayed one advances the clock by exactly its delay
 * (checking that a millisecond less does not fire it). Returns what went wrong, if anything.
 */
function play(run: Live, explored: AnyEvent, exploration: Exploration, taken?: Set<string>): string | null {
  const before = run.actor.getSnapshot();
  const event = relative(explored, before, exploration, run.clock.now());
  if (taken) for (const t of machine.getTransitionData(before, event as BreakerEvent)) taken.add(transitionId(t));
  if (!isAfter(event)) {
    run.actor.send(event as BreakerEvent);
    return null;
  }
  let delay: number;
  if (event.type === AFTER_BACKOFF && before.value === 'open') delay = before.context.probeDelayMs;
  else if (event.type === AFTER_HALF_OPEN_TIMEOUT && before.value === 'half_open') {
    delay = exploration.options.halfOpenTimeoutMs ?? 30_000;
  } else return `${event.type} explored in ${before.value}`;
  if (delay >= 1) {
    run.clock.increment(delay - 1);
    if (run.actor.getSnapshot() !== before) return `${event.type} fired a millisecond early`;
    run.clock.increment(1);
  } else {
    run.clock.increment(delay);
  }
  return run.actor.getSnapshot() === before ? `${event.type} did not fire after ${delay} ms` : null;
}

type Step = { event: AnyEvent; state: Snapshot };

/**
 * Replays `steps` from `run` (a fresh actor unless given), checking each step's state against the
 * explored one, and on a fresh actor (`clock`: the name to file time problems under) its timestamps.
 * Returns the keys visited and the problems found.
 */
function replay(
  exploration: Exploration,
  steps: Step[],
  taken?: Set<string>,
  run = live(exploration.options),
  clock?: string,
) {
  const visited: string[] = [keyOf(run.actor.getSnapshot())];
  const problems: string[] = [];
  for (const [i, { event, state }] of steps.entries()) {
    const before = run.actor.getSnapshot();
    const problem = play(run, event, exploration, taken);
    const after = run.actor.getSnapshot();
    const actual = keyOf(after);
    if (problem !== null || actual !== keyOf(state)) {
      problems.push(`step ${i} ${JSON.stringify(event)}: ${problem ?? `reached ${actual}, explored ${keyOf(state)}`}`);
      break;
    }
    if (clock !== undefined) {
      datedSteps.set(clock, (datedSteps.get(clock) ?? 0) + 1);
      const found = timeProblems(before, event, after, run.clock.now());
      if (found.length > 0) {
        const list = clockProblems.get(clock) ?? [];
        const path = steps.slice(0, i + 1).map((s) => stepName(s.event));
        list.push(`${path.join(' → ')}: ${found.join('; ')}`);
        clockProblems.set(clock, list);
      }
    }
    visited.push(actual);
  }
  return { visited, problems, run };
}

const toSteps = (path: { steps: Array<{ event: unknown; state: unknown }> }): Step[] =>
  // Steps pair each state with the event that led to it; the first is the initial state.
  path.steps.slice(1).map((s) => ({ event: s.event as AnyEvent, state: s.state as Snapshot }));

type Adjacency = Exploration['adjacency'];
const nodeOf = (exploration: Exploration, key: string) => exploration.adjacency[key as keyof Adjacency];

/**
 * From the explored state `key`, on through the timers: the backoff elapses, an idle half-open
 * window restarts, the lease is granted, a probe is admitted and times out (a failed recovery), and
 * the next backoff elapses. Steps the state does not have are skipped.
 */
function throughTimers(exploration: Exploration, key: string): Step[] {
  const plan = [
    AFTER_BACKOFF,
    AFTER_HALF_OPEN_TIMEOUT,
    'LEASE_GRANTED',
    'PROBE',
    AFTER_HALF_OPEN_TIMEOUT,
    AFTER_BACKOFF,
  ];
  const steps: Step[] = [];
  for (const type of plan) {
    const next = Object.values(nodeOf(exploration, key)?.transitions ?? {}).find((t) => t.event.type === type);
    if (next === undefined) continue;
    steps.push({ event: next.event, state: next.state });
    key = keyOf(next.state);
  }
  return steps;
}

/**
 * The explored events of a state, less those leading where an earlier one already leads (the same
 * target by another peer's `nextProbeAt`, another restored figure…), so simple paths are distinct
 * sequences of states. Events depend only on the state's key (results relative to its generation),
 * so the choice is made on the explored representative and applied by position.
 */
function distinctTargets(exploration: Exploration): (snapshot: Snapshot) => AnyEvent[] {
  const eventsOf = eventsFor(exploration.options);
  const chosen = new Map<string, Set<number>>();
  for (const key of exploration.keys) {
    const node = nodeOf(exploration, key);
    if (node === undefined) continue;
    const targets = new Set<string>();
    const positions = new Set<number>();
    eventsOf(node.state).forEach((event, i) => {
      const target = keyOf(node.transitions[JSON.stringify(event) as keyof typeof node.transitions]?.state as Snapshot);
      if (!targets.has(target)) positions.add(i);
      targets.add(target);
    });
    chosen.set(key, positions);
  }
  return (snapshot) => eventsOf(snapshot).filter((_, i) => chosen.get(keyOf(snapshot))?.has(i));
}

const grid = breakerGrid();

describe('replaying explored paths on live actors with a SimulatedClock', () => {
  const statechartTransitions = allTransitionIds();
  const taken = new Set<string>();
  let totalStates = 0;
  let totalEdges = 0;
  /** Configurations whose case above ran to the end: the coverage tests below read what they left. */
  const replayed = new Set<string>();

  it.each(grid.map(({ name, options }) => [name, options] as const))(
    '%s: every shortest path and every edge replays, 100% state and edge coverage',
    (name, options) => {
      const exploration = explore(options);
      const shortest = getShortestPaths(machine, traversalOptions(options));
      expect(shortest.length).toBe(exploration.keys.length);
      const problems: string[] = [];

      // Every shortest path, on a fresh actor; the actor it leaves is the live source of that state's edges.
      const reached = new Map<string, { steps: Step[]; persisted: unknown }>();
      const coveredStates = new Set<string>();
      for (const path of shortest) {
        const steps = toSteps(path);
        const { visited, problems: found, run } = replay(exploration, steps, undefined, undefined, name);
        problems.push(...found);
        for (const key of visited) coveredStates.add(key);
        reached.set(keyOf(path.state as Snapshot), { steps, persisted: run.actor.getPersistedSnapshot() });
        run.actor.stop();
      }

      // Every edge: a delayed one replays its whole path (the timer must be the actor's own); any
      // other is sent to an actor restored from the replayed source snapshot, kept for the next edge
      // of the same source while it stays in that state.
      const coveredEdges = new Set<string>();
      let restored: { key: string; run: Live } | undefined;
      for (const edge of exploration.edges) {
        const source = reached.get(edge.fromKey);
        if (source === undefined) {
          problems.push(`no replayed path to ${edge.fromKey}`);
          continue;
        }
        let run: Live;
        const whole = isAfter(edge.event);
        if (whole) {
          run = live(options);
          problems.push(...replay(exploration, source.steps, undefined, run).problems);
        } else if (restored?.key === edge.fromKey) {
          run = restored.run;
        } else {
          restored?.run.actor.stop();
          const clock = new SimulatedClock();
          const snapshot = source.persisted as Snapshot;
          run = { clock, actor: createActor(machine, { snapshot, clock, input: { agentId: 'explored' } }) };
          run.actor.start();
          restored = { key: edge.fromKey, run };
        }
        const generation = run.actor.getSnapshot().context.generation;
        const step = [{ event: edge.event, state: edge.to }];
        const found = replay(exploration, step, taken, run, whole ? name : undefined).problems;
        problems.push(...found.map((p) => `${edge.fromKey} ${p}`));
        const after = run.actor.getSnapshot();
        if (run === restored?.run && (keyOf(after) !== edge.fromKey || after.context.generation !== generation)) {
          restored = undefined;
        }
        if (run !== restored?.run) run.actor.stop();
        if (found.length === 0) coveredEdges.add(`${edge.fromKey} ${JSON.stringify(edge.event)}`);
      }
      restored?.run.actor.stop();

      // Every entry into open or half-open that carries a time (a peer's nextProbeAt, a restored
      // snapshot), replayed whole on a fresh actor and on through the timers, so its timestamps are
      // checked against the clock: once per target state and time (what follows depends on nothing else).
      const timedEntries = new Set<string>();
      for (const edge of exploration.edges) {
        const timed = edge.event.type === 'PEER_TRIPPED' || edge.event.type === 'RESTORE';
        if (!timed || edge.fromKey === edge.toKey || (edge.to.value !== 'open' && edge.to.value !== 'half_open'))
          continue;
        const entry = `${edge.toKey} ${stepName(edge.event)}`;
        if (timedEntries.has(entry)) continue;
        timedEntries.add(entry);
        const steps = [...(reached.get(edge.fromKey)?.steps ?? []), { event: edge.event, state: edge.to }];
        const { problems: found, run } = replay(
          exploration,
          [...steps, ...throughTimers(exploration, edge.toKey)],
          undefined,
          undefined,
          name,
        );
        run.actor.stop();
        problems.push(...found.map((p) => `through the timers after ${edge.fromKey} ${p}`));
      }

      expect(problems.slice(0, 10), `${problems.length} replay problems`).toEqual([]);
      expect(coveredStates.size / exploration.keys.length).toBe(1);
      expect(coveredEdges.size / exploration.edges.length).toBe(1);
      totalStates += coveredStates.size;
      totalEdges += coveredEdges.size;
      replayed.add(name);
    },
  );

  it('every simple path of small configurations replays', () => {
    // Simple paths over distinct targets: with every peer's nextProbeAt and restored figure as a path
    // of its own, a 26-state configuration has over a million (every edge is replayed above).
    const small: BreakerOptions[] = [
      { failureThreshold: 2, halfOpenMaxCalls: 2, backoff: { initialMs: 1000, multiplier: 2, maxMs: 1000 } },
      { failureThreshold: 1, halfOpenMaxCalls: 2, backoff: { initialMs: 1000, multiplier: 2, maxMs: 1000 } },
      {
        trip: { kind: 'rate', window: 'count', size: 2, minimumCalls: 2, failureRate: 0.5 },
        halfOpenMaxCalls: 2,
        backoff: { initialMs: 500, multiplier: 3, maxMs: 1500 },
      },
    ];
    let replayed = 0;
    for (const [i, options] of small.entries()) {
      const exploration = explore(options);
      const paths = getSimplePaths(machine, {
        ...traversalOptions(options),
        events: distinctTargets(exploration) as (s: Snapshot) => BreakerEvent[],
      });
      for (const path of paths) {
        const { problems, run } = replay(exploration, toSteps(path), undefined, undefined, `simple paths ${i}`);
        run.actor.stop();
        expect(problems).toEqual([]);
        replayed++;
      }
    }
    console.log(`replayed ${replayed} simple paths`);
    expect(replayed).toBeGreaterThanOrEqual(4500);
  });

  it('covers every transition the statechart defines, and reports the coverage', () => {
    // Run without the cases above (a filter), there is nothing to check: fail rather than pass.
    expect([...replayed]).toEqual(grid.map(({ name }) => name));
    expect(totalStates).toBeGreaterThan(0);
    expect(totalEdges).toBeGreaterThan(0);
    const missing = [...statechartTransitions].filter((id) => !taken.has(id));
    console.log(
      `replay coverage: ${totalStates} states and ${totalEdges} edges replayed (100%); ` +
        `${taken.size}/${statechartTransitions.size} statechart transitions taken`,
    );
    expect(missing).toEqual([]);
    // 13 before the lease, peers and restores (issue 8); 23 before PROBE_RELEASED.
    expect(statechartTransitions.size).toBeGreaterThanOrEqual(24);
  });

  it('dates every change by the simulated clock on whole-path replays', () => {
    // Every configuration's whole-path replays checked some timestamps (none when run alone).
    expect(grid.map(({ name }) => name).filter((name) => (datedSteps.get(name) ?? 0) === 0)).toEqual([]);
    const found = [...clockProblems].flatMap(([name, list]) => list.map((p) => `${name}: ${p}`));
    expect(found.slice(0, 5), `${found.length} time problems`).toEqual([]);
  });
});
