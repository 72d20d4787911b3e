/**
 * Replay on live actors (issue 4, part 2). `createTestModel` rejects machines with `after`, so the
 * paths `xstate/graph` finds are replayed here on real actors driven by XState's `SimulatedClock`:
 * every shortest path, every explored edge (the shortest path to its source, then its event), and
 * every simple path of small configurations. A delayed event advances the clock by exactly its delay,
 * checking first that one millisecond less does not fire it. Coverage of the explored states and
 * edges, and of the statechart's own transitions, must be 100%.
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
  explore,
  isAfter,
  keyOf,
  machine,
  type Snapshot,
  traversalOptions,
} from './support/exploreBreaker.js';

/** A live breaker actor on a simulated clock. */
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
 * The explored event for the live actor's generation. Explored events carry generations of the
 * state's representative (the first snapshot the exploration reached with that key); a path may
 * reach the key with another generation, so results keep their generation *relative* to the state:
 * current stays current, a late result stays late.
 */
function relative(event: AnyEvent, live: Snapshot, exploration: Exploration): AnyEvent {
  if (event.type !== 'SUCCESS' && event.type !== 'FAILURE') return event;
  const representative = exploration.adjacency[keyOf(live) as keyof Exploration['adjacency']]?.state;
  if (representative === undefined) throw new Error(`replay reached an unexplored state ${keyOf(live)}`);
  return { ...event, generation: live.context.generation + event.generation - representative.context.generation };
}

/**
 * Sends one explored event to a live actor; a delayed one advances the clock by exactly its delay
 * (checking that a millisecond less does not fire it). Returns what went wrong, if anything.
 */
function play(run: Live, explored: AnyEvent, exploration: Exploration, taken?: Set<string>): string | null {
  const before = run.actor.getSnapshot();
  const event = relative(explored, before, exploration);
  if (taken) for (const t of machine.getTransitionData(before, event as BreakerEvent)) taken.add(transitionId(t));
  if (!isAfter(event)) {
    run.actor.send({ ...(event as BreakerEvent), at: run.clock.now() });
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
 * explored one. Returns the keys visited and the problems found.
 */
function replay(exploration: Exploration, steps: Step[], taken?: Set<string>, run = live(exploration.options)) {
  const visited: string[] = [keyOf(run.actor.getSnapshot())];
  const problems: string[] = [];
  for (const [i, { event, state }] of steps.entries()) {
    const problem = play(run, event, exploration, taken);
    const actual = keyOf(run.actor.getSnapshot());
    if (problem !== null || actual !== keyOf(state)) {
      problems.push(`step ${i} ${JSON.stringify(event)}: ${problem ?? `reached ${actual}, explored ${keyOf(state)}`}`);
      break;
    }
    visited.push(actual);
  }
  return { visited, problems, run };
}

const toSteps = (path: { steps: Array<{ event: unknown; state: unknown }> }): Step[] =>
  // Steps pair each state with the event that led to it; the first is the initial state.
  path.steps.slice(1).map((s) => ({ event: s.event as AnyEvent, state: s.state as Snapshot }));

const grid = breakerGrid();

describe('replaying explored paths on live actors with a SimulatedClock', () => {
  const statechartTransitions = allTransitionIds();
  const taken = new Set<string>();
  let totalStates = 0;
  let totalEdges = 0;

  it.each(grid.map(({ name, options }) => [name, options] as const))(
    '%s: every shortest path and every edge replays, 100% state and edge coverage',
    (_name, options) => {
      const exploration = explore(options);
      const shortest = getShortestPaths(machine, traversalOptions(options));
      expect(shortest.length).toBe(exploration.keys.length);
      const problems: string[] = [];

      // Every shortest path, on a fresh actor; the actor it leaves is the live source of that state's edges.
      const reached = new Map<string, { steps: Step[]; persisted: unknown }>();
      const coveredStates = new Set<string>();
      for (const path of shortest) {
        const steps = toSteps(path);
        const { visited, problems: found, run } = replay(exploration, steps);
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
        if (isAfter(edge.event)) {
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
        const found = replay(exploration, [{ event: edge.event, state: edge.to }], taken, run).problems;
        problems.push(...found.map((p) => `${edge.fromKey} ${p}`));
        const after = run.actor.getSnapshot();
        if (run === restored?.run && (keyOf(after) !== edge.fromKey || after.context.generation !== generation)) {
          restored = undefined;
        }
        if (run !== restored?.run) run.actor.stop();
        if (found.length === 0) coveredEdges.add(`${edge.fromKey} ${JSON.stringify(edge.event)}`);
      }
      restored?.run.actor.stop();

      expect(problems.slice(0, 10), `${problems.length} replay problems`).toEqual([]);
      expect(coveredStates.size / exploration.keys.length).toBe(1);
      expect(coveredEdges.size / exploration.edges.length).toBe(1);
      totalStates += coveredStates.size;
      totalEdges += coveredEdges.size;
    },
  );

  it('every simple path of small configurations replays', () => {
    const small: BreakerOptions[] = [
      { failureThreshold: 3, halfOpenMaxCalls: 2, backoff: { initialMs: 1000, multiplier: 2, maxMs: 2000 } },
      { failureThreshold: 2, halfOpenMaxCalls: 2, backoff: { initialMs: 1000, multiplier: 2, maxMs: 1000 } },
      {
        trip: { kind: 'rate', window: 'count', size: 2, minimumCalls: 2, failureRate: 0.5 },
        halfOpenMaxCalls: 2,
        backoff: { initialMs: 500, multiplier: 3, maxMs: 1500 },
      },
    ];
    let replayed = 0;
    for (const options of small) {
      const exploration = explore(options);
      const paths = getSimplePaths(machine, traversalOptions(options));
      for (const path of paths) {
        const { problems, run } = replay(exploration, toSteps(path));
        run.actor.stop();
        expect(problems).toEqual([]);
        replayed++;
      }
    }
    console.log(`replayed ${replayed} simple paths`);
    expect(replayed).toBeGreaterThanOrEqual(1500);
  });

  it('covers every transition the statechart defines, and reports the coverage', () => {
    const missing = [...statechartTransitions].filter((id) => !taken.has(id));
    console.log(
      `replay coverage: ${totalStates} states and ${totalEdges} edges replayed (100%); ` +
        `${taken.size}/${statechartTransitions.size} statechart transitions taken`,
    );
    expect(missing).toEqual([]);
    expect(statechartTransitions.size).toBeGreaterThanOrEqual(13);
  });
});
