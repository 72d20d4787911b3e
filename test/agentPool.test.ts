/**
 * The supervisor's agent pool (src/pool/agentPool.ts) with the agent's routable rule
 * (src/pool/agent.ts): the id map, the ordered and routable lists, the counts per state and the
 * version, kept in step by add, delete, stateChanged and refreshRoutable.
 *
 * Agents get a minimal fake breaker: the pool and the agent read only `breaker.state`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BreakerState } from '../machines/circuitBreaker.js';
import type { Breaker } from '../src/breaker/breaker.js';
import { Agent, type RunFunction } from '../src/pool/agent.js';
import { AgentPool } from '../src/pool/agentPool.js';

const STATES: readonly BreakerState[] = ['closed', 'open', 'half_open', 'isolated'];
const run: RunFunction = () => 'done';

interface FakeBreaker {
  state: BreakerState;
}

function makeAgent(
  id: string,
  seq: number,
  options: { state?: BreakerState; priority?: number; run?: RunFunction | undefined } = {},
): Agent {
  const breaker: FakeBreaker = { state: options.state ?? 'closed' };
  const fn = 'run' in options ? options.run : run;
  return new Agent(id, fn, options.priority ?? seq, 1, seq, breaker as unknown as Breaker);
}

/** Sets the fake breaker's state and tells the pool, as the supervisor's onTransition does. */
function transition(pool: AgentPool, agent: Agent, to: BreakerState): void {
  const breaker = agent.breaker as unknown as FakeBreaker;
  const from = breaker.state;
  breaker.state = to;
  pool.stateChanged(agent, from, to);
}

const ids = (agents: readonly Agent[]): string[] => agents.map((a) => a.id);

/** The same agent objects in the same order (a stale agent may share a member's id). */
function expectSameAgents(actual: readonly Agent[], expected: readonly Agent[]): void {
  expect(ids(actual)).toEqual(ids(expected));
  actual.forEach((agent, i) => {
    expect(agent).toBe(expected[i]);
  });
}

/** A pool where agent `a` was added, removed and added again: `old` is the stale object. */
function poolWithStaleAgent() {
  const pool = new AgentPool();
  const old = makeAgent('a', 0);
  pool.add(old);
  pool.delete(old);
  const fresh = makeAgent('a', 1);
  pool.add(fresh);
  return { pool, old, fresh, version: pool.version };
}

describe('Agent.routable', () => {
  it('is true when closed or half-open, not draining, with a run function', () => {
    for (const state of STATES) {
      expect(makeAgent('a', 0, { state }).routable, state).toBe(state === 'closed' || state === 'half_open');
    }
  });

  it('is false while draining', () => {
    const agent = makeAgent('a', 0);
    agent.draining = true;
    expect(agent.routable).toBe(false);
    agent.draining = false;
    expect(agent.routable).toBe(true);
  });

  it('is false without a run function (agents registered by routeTask)', () => {
    expect(makeAgent('a', 0, { run: undefined }).routable).toBe(false);
    expect(makeAgent('a', 0, { run: undefined, state: 'half_open' }).routable).toBe(false);
  });

  it('follows the breaker state as it changes', () => {
    const agent = makeAgent('a', 0);
    const breaker = agent.breaker as unknown as FakeBreaker;
    breaker.state = 'open';
    expect(agent.routable).toBe(false);
    breaker.state = 'half_open';
    expect(agent.routable).toBe(true);
  });
});

describe('AgentPool', () => {
  it('starts empty', () => {
    const pool = new AgentPool();
    expect(pool.size).toBe(0);
    expect(pool.version).toBe(0);
    expect(pool.counts).toEqual({ closed: 0, open: 0, half_open: 0, isolated: 0 });
    expect(pool.ordered.items).toEqual([]);
    expect(pool.routable.items).toEqual([]);
  });

  it('takeSeq hands out increasing numbers and changes nothing else', () => {
    const pool = new AgentPool();
    expect([pool.takeSeq(), pool.takeSeq(), pool.takeSeq()]).toEqual([0, 1, 2]);
    expect(pool.version).toBe(0);
  });

  it('add registers the agent by id, in the ordered list, in its state count, and bumps the version', () => {
    const pool = new AgentPool();
    const a = makeAgent('a', 0);
    pool.add(a);
    expect(pool.size).toBe(1);
    expect(pool.byId.get('a')).toBe(a);
    expectSameAgents(pool.ordered.items, [a]);
    expectSameAgents(pool.routable.items, [a]);
    expect(pool.counts).toEqual({ closed: 1, open: 0, half_open: 0, isolated: 0 });
    expect(pool.version).toBe(1);
  });

  it('add lists only routable agents as routable, and counts each state', () => {
    const pool = new AgentPool();
    const closed = makeAgent('closed', 0);
    const open = makeAgent('open', 1, { state: 'open' });
    const halfOpen = makeAgent('half', 2, { state: 'half_open' });
    const isolated = makeAgent('isolated', 3, { state: 'isolated' });
    const noRun = makeAgent('noRun', 4, { run: undefined });
    const draining = makeAgent('draining', 5);
    draining.draining = true;
    for (const agent of [closed, open, halfOpen, isolated, noRun, draining]) pool.add(agent);
    expect(ids(pool.ordered.items)).toEqual(['closed', 'open', 'half', 'isolated', 'noRun', 'draining']);
    expect(ids(pool.routable.items)).toEqual(['closed', 'half']);
    expect(pool.counts).toEqual({ closed: 3, open: 1, half_open: 1, isolated: 1 });
    expect(pool.version).toBe(6);
  });

  it('orders by priority, then by the order added, whatever order they are added in', () => {
    const pool = new AgentPool();
    pool.add(makeAgent('p5', 0, { priority: 5 }));
    pool.add(makeAgent('p1-first', 1, { priority: 1 }));
    pool.add(makeAgent('p3', 2, { priority: 3 }));
    pool.add(makeAgent('p1-second', 3, { priority: 1 }));
    pool.add(makeAgent('p0-open', 4, { priority: 0, state: 'open' }));
    pool.add(makeAgent('neg', 5, { priority: -2 }));
    expect(ids(pool.ordered.items)).toEqual(['neg', 'p0-open', 'p1-first', 'p1-second', 'p3', 'p5']);
    expect(ids(pool.routable.items)).toEqual(['neg', 'p1-first', 'p1-second', 'p3', 'p5']);
  });

  it('accepts any string as an id, __proto__ included', () => {
    const pool = new AgentPool();
    const proto = makeAgent('__proto__', 0);
    const ctor = makeAgent('constructor', 1);
    pool.add(proto);
    pool.add(ctor);
    expect(pool.byId.get('__proto__')).toBe(proto);
    expect(pool.byId.get('constructor')).toBe(ctor);
    expect(pool.size).toBe(2);
  });

  it('delete removes the agent everywhere and bumps the version', () => {
    const pool = new AgentPool();
    const a = makeAgent('a', 0);
    const b = makeAgent('b', 1, { state: 'open' });
    const c = makeAgent('c', 2);
    for (const agent of [a, b, c]) pool.add(agent);
    const before = pool.version;
    pool.delete(a);
    expect(pool.version).toBe(before + 1);
    expect(pool.byId.has('a')).toBe(false);
    expect(ids(pool.ordered.items)).toEqual(['b', 'c']);
    expect(ids(pool.routable.items)).toEqual(['c']);
    expect(pool.counts).toEqual({ closed: 1, open: 1, half_open: 0, isolated: 0 });
    pool.delete(b);
    expect(pool.version).toBe(before + 2);
    expect(ids(pool.ordered.items)).toEqual(['c']);
    expect(pool.counts).toEqual({ closed: 1, open: 0, half_open: 0, isolated: 0 });
    expect(pool.size).toBe(1);
  });

  it('delete ignores an agent not in the pool, or a stale one whose id was reused', () => {
    const { pool, old, fresh, version } = poolWithStaleAgent();
    pool.delete(old); // stale: same id, another object
    pool.delete(makeAgent('never-added', 2));
    expect(pool.version).toBe(version);
    expect(pool.byId.get('a')).toBe(fresh);
    expectSameAgents(pool.ordered.items, [fresh]);
    expectSameAgents(pool.routable.items, [fresh]);
    expect(pool.counts).toEqual({ closed: 1, open: 0, half_open: 0, isolated: 0 });
  });

  it('stateChanged moves the counts and the routable membership, and bumps the version', () => {
    const pool = new AgentPool();
    const a = makeAgent('a', 0);
    const b = makeAgent('b', 1);
    pool.add(a);
    pool.add(b);
    let version = pool.version;

    transition(pool, a, 'open');
    expect(pool.counts).toEqual({ closed: 1, open: 1, half_open: 0, isolated: 0 });
    expect(ids(pool.routable.items)).toEqual(['b']);
    expect(ids(pool.ordered.items)).toEqual(['a', 'b']);
    expect(pool.version).toBe(++version);

    transition(pool, a, 'half_open');
    expect(pool.counts).toEqual({ closed: 1, open: 0, half_open: 1, isolated: 0 });
    expect(ids(pool.routable.items)).toEqual(['a', 'b']); // back in its place, ahead of b
    expect(pool.version).toBe(++version);

    transition(pool, a, 'closed');
    expect(pool.counts).toEqual({ closed: 2, open: 0, half_open: 0, isolated: 0 });
    expect(ids(pool.routable.items)).toEqual(['a', 'b']);
    expect(pool.version).toBe(++version);

    transition(pool, b, 'isolated');
    expect(pool.counts).toEqual({ closed: 1, open: 0, half_open: 0, isolated: 1 });
    expect(ids(pool.routable.items)).toEqual(['a']);
    expect(pool.version).toBe(++version);
  });

  it('stateChanged keeps a draining agent or one without a run function out of the routable list', () => {
    const pool = new AgentPool();
    const draining = makeAgent('draining', 0, { state: 'open' });
    const noRun = makeAgent('noRun', 1, { state: 'open', run: undefined });
    pool.add(draining);
    pool.add(noRun);
    draining.draining = true;
    pool.refreshRoutable(draining);
    transition(pool, draining, 'closed');
    transition(pool, noRun, 'half_open');
    expect(pool.routable.items).toEqual([]);
    expect(pool.counts).toEqual({ closed: 1, open: 0, half_open: 1, isolated: 0 });
  });

  it('stateChanged ignores an agent not in the pool, or a stale one whose id was reused', () => {
    const { pool, old, fresh, version } = poolWithStaleAgent();
    transition(pool, old, 'open');
    transition(pool, makeAgent('never-added', 2), 'open');
    expect(pool.version).toBe(version);
    expect(pool.counts).toEqual({ closed: 1, open: 0, half_open: 0, isolated: 0 });
    expectSameAgents(pool.routable.items, [fresh]);
  });

  it('refreshRoutable takes a draining agent out of the routable list only, and bumps the version', () => {
    const pool = new AgentPool();
    const a = makeAgent('a', 0);
    const b = makeAgent('b', 1);
    pool.add(a);
    pool.add(b);
    const version = pool.version;
    a.draining = true;
    pool.refreshRoutable(a);
    expect(pool.version).toBe(version + 1);
    expect(ids(pool.routable.items)).toEqual(['b']);
    expect(ids(pool.ordered.items)).toEqual(['a', 'b']);
    expect(pool.byId.get('a')).toBe(a);
    expect(pool.counts).toEqual({ closed: 2, open: 0, half_open: 0, isolated: 0 });
    a.draining = false;
    pool.refreshRoutable(a);
    expect(pool.version).toBe(version + 2);
    expect(ids(pool.routable.items)).toEqual(['a', 'b']);
  });

  it('the routable and ordered lists keep their array identity across changes', () => {
    const pool = new AgentPool();
    const routable = pool.routable.items;
    const ordered = pool.ordered.items;
    const a = makeAgent('a', 0);
    pool.add(a);
    pool.add(makeAgent('b', 1));
    transition(pool, a, 'open');
    pool.delete(a);
    expect(pool.routable.items).toBe(routable);
    expect(pool.ordered.items).toBe(ordered);
  });
});

// --- Model test --------------------------------------------------------------------------------

const IDS = ['a', 'b', 'c', 'd', 'e', 'f'];

type Op =
  | { kind: 'add'; id: number; priority: number; state: BreakerState; hasRun: boolean; draining: boolean }
  | { kind: 'delete'; id: number; stale: boolean }
  | { kind: 'stateChanged'; id: number; to: BreakerState; stale: boolean }
  | { kind: 'draining'; id: number; draining: boolean };

const idArb = fc.nat(IDS.length - 1);
const stateArb = fc.constantFrom(...STATES);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('add' as const),
    id: idArb,
    priority: fc.integer({ min: 0, max: 3 }), // ties, so the order added decides among equals
    state: stateArb,
    hasRun: fc.boolean(),
    draining: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('delete' as const), id: idArb, stale: fc.boolean() }),
  fc.record({ kind: fc.constant('stateChanged' as const), id: idArb, to: stateArb, stale: fc.boolean() }),
  fc.record({ kind: fc.constant('draining' as const), id: idArb, draining: fc.boolean() }),
);

/** The model: the members in a plain array; everything else is computed from it. */
interface ModelAgent {
  agent: Agent;
  priority: number;
  seq: number;
  state: BreakerState;
  hasRun: boolean;
  draining: boolean;
}

const modelRoutable = (m: ModelAgent): boolean =>
  (m.state === 'closed' || m.state === 'half_open') && !m.draining && m.hasRun;
const byPriority = (x: ModelAgent, y: ModelAgent): number => x.priority - y.priority || x.seq - y.seq;

describe('AgentPool against a model', () => {
  it('keeps ids, lists, counts and version in step through any sequence of changes', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const pool = new AgentPool();
        const members = new Map<string, ModelAgent>();
        /** Agents once in the pool and since deleted (the supervisor may still hold them). */
        const stale = new Map<string, Agent>();
        let version = 0;
        let seq = 0;

        for (const op of ops) {
          const id = IDS[op.id] as string;
          const member = members.get(id);
          switch (op.kind) {
            case 'add': {
              if (member !== undefined) continue; // the supervisor refuses a used id
              const agentSeq = pool.takeSeq();
              expect(agentSeq).toBe(seq++);
              const agent = makeAgent(id, agentSeq, {
                priority: op.priority,
                state: op.state,
                run: op.hasRun ? run : undefined,
              });
              agent.draining = op.draining;
              pool.add(agent);
              members.set(id, {
                agent,
                priority: op.priority,
                seq: agentSeq,
                state: op.state,
                hasRun: op.hasRun,
                draining: op.draining,
              });
              version++;
              break;
            }
            case 'delete': {
              if (op.stale) {
                const old = stale.get(id);
                if (old !== undefined) pool.delete(old); // a no-op
              } else if (member !== undefined) {
                pool.delete(member.agent);
                members.delete(id);
                stale.set(id, member.agent);
                version++;
              }
              break;
            }
            case 'stateChanged': {
              if (op.stale) {
                const old = stale.get(id);
                if (old !== undefined) transition(pool, old, op.to); // a no-op for the pool
              } else if (member !== undefined) {
                transition(pool, member.agent, op.to);
                member.state = op.to;
                version++;
              }
              break;
            }
            case 'draining': {
              if (member === undefined) continue; // the supervisor drains members only
              member.agent.draining = op.draining;
              member.draining = op.draining;
              pool.refreshRoutable(member.agent);
              version++;
              break;
            }
          }

          const sorted = [...members.values()].sort(byPriority);
          expect(pool.size).toBe(members.size);
          for (const [memberId, m] of members) expect(pool.byId.get(memberId)).toBe(m.agent);
          expectSameAgents(
            pool.ordered.items,
            sorted.map((m) => m.agent),
          );
          expectSameAgents(
            pool.routable.items,
            sorted.filter(modelRoutable).map((m) => m.agent),
          );
          const counts = { closed: 0, open: 0, half_open: 0, isolated: 0 };
          for (const m of members.values()) counts[m.state]++;
          expect(pool.counts).toEqual(counts);
          expect(pool.version).toBe(version);
        }
      }),
      { numRuns: 300 },
    );
  });
});
