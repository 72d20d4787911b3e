import type { RoutingPolicyName } from '../supervisor/supervisorTypes.js';
import { leastOutstandingPolicy } from './leastOutstanding.js';
import type { RoutingPolicy } from './policy.js';
import { priorityPolicy } from './priority.js';
import { roundRobinPolicy } from './roundRobin.js';

export type { RoutingPolicy };

export function createRoutingPolicy(name: RoutingPolicyName): RoutingPolicy {
  switch (name) {
    case 'priority':
      return priorityPolicy();
    case 'round-robin':
      return roundRobinPolicy();
    case 'least-outstanding':
      return leastOutstandingPolicy();
  }
}
