/**
 * The original design's order (docs/architecture.md): the first candidate in priority order that
 * may take the task.
 */
import type { Agent } from '../pool/agent.js';
import type { RoutingPolicy } from './policy.js';

export function priorityPolicy(): RoutingPolicy {
  return {
    name: 'priority',
    pick(candidates, skip) {
      if (skip === undefined) return candidates[0];
      for (let i = 0; i < candidates.length; i++) {
        const agent = candidates[i] as Agent;
        if (!skip(agent)) return agent;
      }
      return undefined;
    },
  };
}
