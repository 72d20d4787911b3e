/** A routing policy picks one agent among candidates; `skip` rules out those it may not take. */
import type { Agent } from '../pool/agent.js';

export interface RoutingPolicy {
  readonly name: 'priority' | 'round-robin' | 'least-outstanding';
  /**
   * The agent for the next attempt, or undefined. `candidates` is in priority order; `skip`
   * (absent on the fast path) says which may not be chosen (tried, open, draining…).
   */
  pick(candidates: readonly Agent[], skip: ((agent: Agent) => boolean) | undefined): Agent | undefined;
}
