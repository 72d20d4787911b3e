/**
 * The supervisor's agents: a `Map` by id (any string is a valid id, `__proto__` included), every
 * agent in priority order, the routable ones in priority order, and counts per state. The call
 * path reads `routable.items`; state changes (rare) keep the lists in step, so picking an agent
 * never scans past open circuits.
 */
import type { BreakerState } from '../../machines/circuitBreaker.js';
import type { Agent } from './agent.js';
import { SortedAgents } from './sortedAgents.js';

export class AgentPool {
  readonly byId = new Map<string, Agent>();
  readonly ordered = new SortedAgents();
  readonly routable = new SortedAgents();
  readonly counts: Record<BreakerState, number> = { closed: 0, open: 0, half_open: 0, isolated: 0 };
  /** Bumped by every change above (an agent added, removed, draining, or changing state). */
  version = 0;
  private nextSeq = 0;

  get size(): number {
    return this.byId.size;
  }

  /** The sequence number for the next agent added. */
  takeSeq(): number {
    return this.nextSeq++;
  }

  add(agent: Agent): void {
    this.version++;
    this.byId.set(agent.id, agent);
    this.ordered.insert(agent);
    this.counts[agent.breaker.state]++;
    if (agent.routable) this.routable.insert(agent);
  }

  delete(agent: Agent): void {
    if (this.byId.get(agent.id) !== agent) return;
    this.version++;
    this.byId.delete(agent.id);
    this.ordered.remove(agent);
    this.routable.remove(agent);
    this.counts[agent.breaker.state]--;
  }

  /** Keeps the lists and counts in step with a breaker's state change. */
  stateChanged(agent: Agent, from: BreakerState, to: BreakerState): void {
    if (this.byId.get(agent.id) !== agent) return;
    this.counts[from]--;
    this.counts[to]++;
    this.refreshRoutable(agent); // bumps the version
  }

  refreshRoutable(agent: Agent): void {
    this.version++;
    if (agent.routable) this.routable.insert(agent);
    else this.routable.remove(agent);
  }
}
