/**
 * The routable list against a model: after any bursts of inserts and removes (shorter and longer
 * than the splice limit, repeated and contradictory changes to one agent), a read gives the set's
 * members in priority order, in the same array object.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { Breaker } from '../src/breaker/breaker.js';
import { Agent, compareAgents } from '../src/pool/agent.js';
import { SortedAgents } from '../src/pool/sortedAgents.js';

const POOL = 40;
// Priorities 0–4 with ties, so `seq` decides among equals.
const agents = Array.from({ length: POOL }, (_, i) => new Agent(`a${i}`, undefined, (i * 7) % 5, 1, i, {} as Breaker));

type Change = { kind: 'insert' | 'remove'; agent: number };

const changeArb: fc.Arbitrary<Change> = fc.record({
  kind: fc.constantFrom('insert', 'remove'),
  agent: fc.nat(POOL - 1),
});
// Bursts of changes between reads: short ones are spliced in, long ones merged.
const burstsArb = fc.array(fc.array(changeArb, { maxLength: 30, size: 'max' }), { minLength: 1, maxLength: 20 });

describe('SortedAgents', () => {
  it('reads back the members in priority order after any bursts of changes', () => {
    fc.assert(
      fc.property(burstsArb, (bursts) => {
        const list = new SortedAgents();
        const array = list.items;
        const members = new Set<Agent>();
        for (const burst of bursts) {
          for (const { kind, agent: index } of burst) {
            const agent = agents[index] as Agent;
            if (kind === 'insert') {
              list.insert(agent);
              members.add(agent);
            } else {
              list.remove(agent);
              members.delete(agent);
            }
          }
          expect(list.length).toBe(members.size);
          expect(list.items).toEqual([...members].sort(compareAgents));
          expect(list.items).toBe(array);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('merges a burst of changes into a populated list in one pass', () => {
    const list = new SortedAgents();
    for (const agent of agents) list.insert(agent);
    expect(list.items).toHaveLength(POOL);
    const merge = vi.spyOn(list as unknown as { merge(): void }, 'merge');
    // Remove every other agent, re-add one of them, remove one twice: one merge, not splices.
    for (let i = 0; i < POOL; i += 2) list.remove(agents[i] as Agent);
    list.insert(agents[4] as Agent);
    list.remove(agents[1] as Agent);
    list.remove(agents[1] as Agent);
    const expected = agents.filter((_, i) => (i % 2 === 1 && i !== 1) || i === 4).sort(compareAgents);
    expect(merge).not.toHaveBeenCalled(); // nothing applied before the read
    expect(list.items).toEqual(expected);
    expect(merge).toHaveBeenCalledTimes(1);
  });

  it('does not hold agents added and removed while nobody reads it', () => {
    const list = new SortedAgents();
    const pending = () => (list as unknown as { pending: Map<Agent, boolean> }).pending.size;
    list.insert(agents[0] as Agent);
    // Agents that come and go (removeAgent after addAgent, a list read only by stats): the buffer
    // stays bounded instead of keeping every one of them.
    for (let i = 0; i < 1000; i++) {
      const agent = new Agent(`churn-${i}`, undefined, -1, 1, POOL + i, {} as Breaker);
      list.insert(agent);
      list.remove(agent);
      expect(pending()).toBeLessThanOrEqual(9);
    }
    expect(list.items).toEqual([agents[0]]);
  });
});
