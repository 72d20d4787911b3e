/**
 * A list of agents kept in priority order, read as a plain array by the call path.
 *
 * Changes are buffered and applied when the list is next read. A few at a time are spliced in
 * (one memmove each); a burst (a mass outage, a reset, isolating half the pool) is merged in one
 * O(n + k log k) pass. Splicing each change at once made a burst O(k·n): isolating 50,000 of
 * 100,000 agents spent 12 s of its 21 s in `splice`, since removals near the front move the whole
 * array (and cost more again while the GC is marking).
 */
import { type Agent, compareAgents } from './agent.js';

/** Up to this many buffered changes are spliced one by one; more are merged in one pass. */
const SPLICE_LIMIT = 8;

export class SortedAgents {
  private readonly list: Agent[] = [];
  /** Buffered changes: for each agent, whether it should be in the list (the last change wins). */
  private readonly pending = new Map<Agent, boolean>();
  private dirty = false;

  /** The agents in priority order. The same array every time (round-robin keys its cursor on it). */
  get items(): Agent[] {
    if (this.dirty) this.apply();
    return this.list;
  }

  get length(): number {
    return this.items.length;
  }

  insert(agent: Agent): void {
    // Agents added in order (the default priority) go straight to the end.
    const list = this.list;
    if (!this.dirty && (list.length === 0 || compareAgents(list[list.length - 1] as Agent, agent) < 0)) {
      list.push(agent);
      return;
    }
    this.buffer(agent, true);
  }

  remove(agent: Agent): void {
    // Most state changes remove an agent that is not listed (it was not routable): nothing to do.
    if (!this.dirty && this.search(agent) < 0) return;
    this.buffer(agent, false);
  }

  private buffer(agent: Agent, member: boolean): void {
    this.pending.set(agent, member);
    this.dirty = true;
    // A list nobody reads for a while (the ordered list is read by stats, not by calls) must not
    // hold removed agents: past the list's own length, a merge costs O(1) per buffered change.
    if (this.pending.size > SPLICE_LIMIT && this.pending.size > this.list.length) this.apply();
  }

  private apply(): void {
    this.dirty = false;
    if (this.pending.size <= SPLICE_LIMIT) {
      for (const [agent, member] of this.pending) {
        const at = this.search(agent);
        if (member && at < 0) this.list.splice(-at - 1, 0, agent);
        else if (!member && at >= 0) this.list.splice(at, 1);
      }
    } else {
      this.merge();
    }
    this.pending.clear();
  }

  /** Rebuilds the list in place: the unchanged agents, then the additions, sorted once. */
  private merge(): void {
    const pending = this.pending;
    const list = this.list;
    let kept = 0;
    for (const agent of list) if (!pending.has(agent)) list[kept++] = agent;
    list.length = kept;
    for (const [agent, member] of pending) if (member) list.push(agent);
    // TimSort finds the kept run already in order and merges the additions into it.
    list.sort(compareAgents);
  }

  /** Where `agent` is, or where it would go (as `-(index + 1)`). */
  private search(agent: Agent): number {
    const list = this.list;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareAgents(list[mid] as Agent, agent);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -(lo + 1);
  }
}
