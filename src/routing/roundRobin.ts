/** Each task starts one place further along the candidates than the last. */
import type { Agent } from '../agent.js';
import type { RoutingPolicy } from './policy.js';

export function roundRobinPolicy(): RoutingPolicy {
  let cursor = 0;
  return {
    name: 'round-robin',
    pick(candidates, skip) {
      const n = candidates.length;
      for (let i = 0; i < n; i++) {
        const agent = candidates[(cursor + i) % n] as Agent;
        if (skip === undefined || !skip(agent)) {
          cursor = (cursor + i + 1) % n;
          return agent;
        }
      }
      return undefined;
    },
  };
}
