/**
 * A list of agents kept in priority order, with O(log n) lookup and O(n) memmove insert/remove.
 * State changes are rare next to calls, so the call path gets a plain array to read.
 */
import { type Agent, compareAgents } from './agent.js';

export class SortedAgents {
  readonly items: Agent[] = [];

  get length(): number {
    return this.items.length;
  }

  /** Where `agent` is, or where it would go (as `-(index + 1)`). */
  private search(agent: Agent): number {
    let lo = 0;
    let hi = this.items.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareAgents(this.items[mid] as Agent, agent);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -(lo + 1);
  }

  insert(agent: Agent): void {
    const at = this.search(agent);
    if (at >= 0) return;
    const index = -at - 1;
    if (index === this.items.length) this.items.push(agent);
    else this.items.splice(index, 0, agent);
  }

  remove(agent: Agent): void {
    const at = this.search(agent);
    if (at >= 0) this.items.splice(at, 1);
  }
}
