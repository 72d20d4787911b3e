/**
 * Exhaustive exploration of the breaker statechart (issue 4, part 1): every reachable state of the
 * machine, for the default options and a grid, explored with `xstate/graph`, with the invariants
 * asserted on every state and every edge. Counts are printed and bounded from below, so a refactor
 * that silently shrinks the explored space fails.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { BreakerOptions } from '../machines/breakerOptions.js';
import {
  AFTER_BACKOFF,
  AFTER_HALF_OPEN_TIMEOUT,
  type AnyEvent,
  breakerGrid,
  type Edge,
  type Exploration,
  expectedConsecutiveStates,
  explore,
  isAfter,
  keyOf,
  machine,
  type Snapshot,
} from './support/exploreBreaker.js';

/** The policy as the README documents its defaults, resolved here rather than by the machine. */
function documentedPolicy(options: BreakerOptions) {
  const backoff = { initialMs: 1000, multiplier: 1.5, maxMs: 60_000, ...options.backoff };
  return {
    trip: options.trip ?? { kind: 'consecutive' as const, threshold: options.failureThreshold ?? 5 },
    halfOpenMaxCalls: options.halfOpenMaxCalls ?? 3,
    backoff,
  };
}

type Policy = ReturnType<typeof documentedPolicy>;

/** Whether the trip policy says this failure (after `failures` in a row) opens a closed circuit. */
function policyTrips(policy: Policy, failures: number, event: AnyEvent): boolean {
  if (event.type !== 'FAILURE' || event.ejectionAllowed === false) return false;
  const trip = policy.trip;
  if (trip.kind === 'consecutive') return failures + 1 >= trip.threshold;
  const calls = event.windowCalls ?? 0;
  // The failed share reaches the rate: 55 failures of 100 calls is a 0.55 share.
  return calls >= trip.minimumCalls && (event.windowFailures ?? 0) / calls >= trip.failureRate;
}

const isResult = (event: AnyEvent): event is Extract<AnyEvent, { type: 'SUCCESS' | 'FAILURE' }> =>
  event.type === 'SUCCESS' || event.type === 'FAILURE';

function stateProblems(s: Snapshot, policy: Policy): string[] {
  const c = s.context;
  const problems: string[] = [];
  const { initialMs, maxMs } = policy.backoff;
  if (c.probesAdmitted > policy.halfOpenMaxCalls) problems.push(`more than halfOpenMaxCalls probes admitted`);
  if (c.probeSuccesses > c.probesAdmitted) problems.push('more probe successes than probes');
  if (s.value !== 'half_open' && (c.probesAdmitted !== 0 || c.probeSuccesses !== 0)) {
    problems.push('probe permits outside half-open');
  }
  if (c.backoffMs < initialMs || c.backoffMs > maxMs) problems.push(`backoff ${c.backoffMs} outside [initial, max]`);
  if (c.probeDelayMs < 0 || c.probeDelayMs > maxMs) problems.push(`open period ${c.probeDelayMs} above maxMs`);
  if (s.value === 'closed' && c.backoffMs !== initialMs) problems.push('closed without the initial backoff');
  return problems;
}

function edgeProblems({ from, event, to, fromKey, toKey }: Edge, policy: Policy): string[] {
  const problems: string[] = [];
  const f = from.context;
  const t = to.context;
  const unchanged = fromKey === toKey && f.generation === t.generation;
  const M = policy.halfOpenMaxCalls;
  const { initialMs, multiplier, maxMs } = policy.backoff;

  // A result of an older generation never changes the state.
  if (isResult(event) && event.generation !== f.generation && !unchanged) problems.push('a late result changed state');

  // Open and isolated admit no call, and nothing but RESET, ISOLATE (from open) and time moves them.
  if ((from.value === 'open' || from.value === 'isolated') && event.type !== 'RESET') {
    if (event.type === 'PROBE' && !unchanged) problems.push(`${from.value} admitted a probe`);
    if (isResult(event) && !unchanged) problems.push(`${from.value} changed on a result`);
  }
  // Isolated leaves only by RESET (and a second ISOLATE keeps its generation).
  if (from.value === 'isolated' && event.type !== 'RESET' && !unchanged)
    problems.push(`isolated left by ${event.type}`);

  // Half-open hands out one permit per request while the budget lasts.
  if (from.value === 'half_open' && event.type === 'PROBE') {
    if (to.value !== 'half_open' || t.probesAdmitted !== Math.min(f.probesAdmitted + 1, M)) {
      problems.push(`PROBE gave ${t.probesAdmitted} permits after ${f.probesAdmitted}`);
    }
  }

  // Closed → open exactly when the trip policy says so (current generation only).
  if (from.value === 'closed' && event.type !== 'RESET' && event.type !== 'ISOLATE') {
    const trips = isResult(event) && event.generation === f.generation && policyTrips(policy, f.failureCount, event);
    if (trips !== (to.value === 'open')) problems.push(`closed ${trips ? 'did not trip' : 'tripped'} on ${event.type}`);
    if (to.value !== 'closed' && to.value !== 'open') problems.push(`closed → ${to.value} on ${event.type}`);
  }

  // Half-open → closed only after halfOpenMaxCalls successes in the current window, and always then.
  if (from.value === 'half_open' && event.type !== 'RESET') {
    const closes =
      event.type === 'SUCCESS' &&
      event.generation === f.generation &&
      f.probesAdmitted > f.probeSuccesses &&
      f.probeSuccesses + 1 === M;
    if (closes !== (to.value === 'closed')) problems.push(`half-open ${closes ? 'did not close' : 'closed'}`);
  }

  // Backoff: never decreases while failures continue, grows after a failed recovery, resets on close.
  if (to.value === 'closed' && t.backoffMs !== initialMs) problems.push('closed without resetting the backoff');
  if (to.value !== 'closed' && event.type !== 'RESET' && t.backoffMs < f.backoffMs) problems.push('backoff decreased');
  if (from.value === 'half_open' && to.value === 'open' && t.backoffMs !== Math.min(f.backoffMs * multiplier, maxMs)) {
    problems.push(`failed recovery set backoff ${t.backoffMs} after ${f.backoffMs}`);
  }

  // Manual commands.
  if (event.type === 'RESET' && (to.value !== 'closed' || t.failureCount !== 0 || t.backoffMs !== initialMs)) {
    problems.push('RESET did not give a fresh closed circuit');
  }
  if (event.type === 'ISOLATE' && to.value !== 'isolated') problems.push('ISOLATE did not isolate');

  // Time: the backoff opens the half-open window; its timeout reopens (probe stuck) or restarts it.
  if (event.type === AFTER_BACKOFF && (to.value !== 'half_open' || t.probesAdmitted !== 0)) {
    problems.push('backoff elapsed without a fresh half-open window');
  }
  if (event.type === AFTER_HALF_OPEN_TIMEOUT) {
    const stuck = f.probesAdmitted > f.probeSuccesses;
    if (stuck && to.value !== 'open') problems.push('a stuck probe did not reopen');
    if (!stuck && (to.value !== 'half_open' || t.probesAdmitted !== 0 || t.backoffMs !== f.backoffMs)) {
      problems.push('an idle half-open window did not restart');
    }
  }

  // Every state change, and every new half-open window, starts a new generation.
  const newWindow = from.value === 'half_open' && isAfter(event);
  if ((from.value !== to.value || newWindow) && t.generation !== f.generation + 1)
    problems.push('generation not bumped');
  return problems;
}

function check(exploration: Exploration): string[] {
  const policy = documentedPolicy(exploration.options);
  const byKey = exploration.adjacency;
  const failures: string[] = [];
  for (const key of exploration.keys) {
    const state = byKey[key as keyof typeof byKey]?.state as Snapshot;
    for (const p of stateProblems(state, policy)) failures.push(`${key}: ${p}`);
  }
  for (const edge of exploration.edges) {
    for (const p of edgeProblems(edge, policy)) {
      failures.push(`${edge.fromKey} --${JSON.stringify(edge.event)}--> ${edge.toKey}: ${p}`);
    }
  }
  return failures;
}

/** The distinct backoff levels: initialMs × multiplierⁿ below maxMs, then maxMs. */
function backoffLevels(options: BreakerOptions): number {
  const { initialMs, multiplier, maxMs } = documentedPolicy(options).backoff;
  const levels = new Set<number>();
  for (let b = initialMs; !levels.has(b); b = Math.min(b * multiplier, maxMs)) levels.add(b);
  return levels.size;
}

const grid = breakerGrid();
const explored = new Map(grid.map(({ name, options }) => [name, explore(options)]));

describe('exhaustive exploration of the breaker machine', () => {
  it('names its delayed transitions the way xstate/graph explores them', () => {
    const open = machine.getStateNodeById('circuitBreaker.open');
    const halfOpen = machine.getStateNodeById('circuitBreaker.half_open');
    expect(open.after.map((t) => t.eventType)).toEqual([AFTER_BACKOFF]);
    expect(new Set(halfOpen.after.map((t) => t.eventType))).toEqual(new Set([AFTER_HALF_OPEN_TIMEOUT]));
    const edges = explored.get('defaults')?.edges ?? [];
    expect(edges.some((e) => e.event.type === AFTER_BACKOFF && e.to.value === 'half_open')).toBe(true);
    expect(edges.some((e) => e.event.type === AFTER_HALF_OPEN_TIMEOUT && e.to.value === 'open')).toBe(true);
  });

  it.each(grid.map(({ name }) => name))('%s: every invariant holds on every state and edge', (name) => {
    const exploration = explored.get(name) as Exploration;
    const failures = check(exploration);
    expect(failures.slice(0, 10), `${failures.length} violations`).toEqual([]);
    // Every state value is reachable in every configuration.
    const values = new Set(exploration.keys.map((k) => k.split('|')[0]));
    expect(values).toEqual(new Set(['closed', 'open', 'half_open', 'isolated']));
  });

  it('explores the default options completely: 138 states', () => {
    const { keys, edges } = explored.get('defaults') as Exploration;
    console.log(`breaker model check, defaults: ${keys.length} states, ${edges.length} edges`);
    // 6 closed (0…5 failures), and for each of the 12 backoff levels (1 s … 57.7 s, 60 s): open,
    // isolated and 9 half-open windows.
    expect(keys.length).toBe(expectedConsecutiveStates(5, 3, 12));
    expect(keys.length).toBeGreaterThanOrEqual(138);
    expect(edges.length).toBeGreaterThanOrEqual(1362);
  });

  it('the consecutive grid has exactly the states counted by hand', () => {
    for (const { name, options } of grid) {
      if (options.trip !== undefined || options.backoff?.jitter !== undefined) continue;
      const { keys } = explored.get(name) as Exploration;
      const expected = expectedConsecutiveStates(
        options.failureThreshold ?? 5,
        options.halfOpenMaxCalls ?? 3,
        backoffLevels(options),
      );
      expect(keys.length, name).toBe(expected);
    }
  });

  it('prints and bounds the explored space of the whole grid', () => {
    const rows = grid.map(({ name }) => {
      const { keys, edges } = explored.get(name) as Exploration;
      return `${name}: ${keys.length} states, ${edges.length} edges`;
    });
    const states = grid.reduce((n, { name }) => n + (explored.get(name)?.keys.length ?? 0), 0);
    const edges = grid.reduce((n, { name }) => n + (explored.get(name)?.edges.length ?? 0), 0);
    console.log(
      `breaker model check, ${grid.length} configurations:\n  ${rows.join('\n  ')}\n  total: ${states} states, ${edges} edges`,
    );
    expect(grid.length).toBeGreaterThanOrEqual(39);
    // Measured: 1301 states and 27,453 edges over the 39 configurations.
    expect(states).toBeGreaterThanOrEqual(1301);
    expect(edges).toBeGreaterThanOrEqual(27_453);
  });

  it('keys states by value and guard-read context only, so the space is finite', () => {
    // The same abstract state reached by two paths with different generations and times is one state.
    const { keys } = explored.get('defaults') as Exploration;
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys[0]).toBe(keyOf(createActor(machine, { input: { agentId: 'x' } }).getSnapshot()));
  });
});
