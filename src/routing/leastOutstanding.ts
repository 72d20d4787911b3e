/**
 * Power of two choices on in-flight calls (Finagle's default balancer): two candidates drawn at
 * random, the less loaded (in-flight ÷ weight) wins. O(1) per pick at any pool size, and close to
 * the spread of a full scan.
 */
import type { Agent } from '../pool/agent.js';
import type { RoutingPolicy } from './policy.js';

export function leastOutstandingPolicy(random: () => number = Math.random): RoutingPolicy {
  const load = (agent: Agent) => agent.breaker.inFlight / agent.weight;
  return {
    name: 'least-outstanding',
    pick(candidates, skip) {
      const n = candidates.length;
      if (n === 0) return undefined;
      // Two distinct draws: with a small pool, a repeated draw would decide nothing.
      const i = Math.floor(random() * n);
      const a = candidates[i] as Agent;
      const b = candidates[n === 1 ? i : (i + 1 + Math.floor(random() * (n - 1))) % n] as Agent;
      const aOk = skip === undefined || !skip(a);
      const bOk = skip === undefined || !skip(b);
      if (aOk && bOk) return load(b) < load(a) ? b : a;
      if (aOk) return a;
      if (bOk) return b;
      // Both draws ruled out: the least loaded of the rest (a scan, only after failures).
      let best: Agent | undefined;
      for (let i = 0; i < n; i++) {
        const agent = candidates[i] as Agent;
        if (skip?.(agent)) continue;
        if (best === undefined || load(agent) < load(best)) best = agent;
      }
      return best;
    },
  };
}
