/** Each task starts one place further along the candidates than the last. */
import type { Agent } from '../pool/agent.js';
import type { RoutingPolicy } from './policy.js';

export function roundRobinPolicy(): RoutingPolicy {
  // A cursor per candidate list: the pool's lists are long-lived arrays, a task's own `agents`
  // list (or `routeTask`'s) a fresh one. With one shared cursor, a pick from a short list reset
  // the pool's rotation, and mixed traffic sent every pool task to the same few agents.
  const cursors = new WeakMap<readonly Agent[], number>();
  // The list picked from last keeps its cursor here: consecutive picks from the pool's list (the
  // call path) skip the WeakMap's lookup and store. It goes back to the map when another list is
  // picked from.
  let hotList: readonly Agent[] | undefined;
  let hotCursor = 0;
  /**
   * Lists seen for the first time (tasks with their own lists) start at a golden-ratio sequence:
   * they spread over their agents whatever the lists and however they interleave.
   */
  let fresh = 0;
  return {
    name: 'round-robin',
    pick(candidates, skip) {
      const n = candidates.length;
      if (candidates !== hotList) {
        if (hotList !== undefined) cursors.set(hotList, hotCursor);
        hotList = candidates;
        hotCursor = cursors.get(candidates) ?? Math.floor(((fresh++ * 0.6180339887498949) % 1) * n);
      }
      const cursor = hotCursor;
      for (let i = 0; i < n; i++) {
        const agent = candidates[(cursor + i) % n] as Agent;
        if (skip === undefined || !skip(agent)) {
          hotCursor = (cursor + i + 1) % n;
          return agent;
        }
      }
      return undefined;
    },
  };
}
