/** One agent as the supervisor keeps it: its work function, its place in the order, its breaker. */

import type { Breaker } from '../breaker/breaker.js';
import type { CallContext } from '../task/callContext.js';
import { whyNot } from './eligibility.js';

export type RunFunction = (task: unknown, ctx: CallContext) => unknown;

export class Agent {
  /** Removed: takes no new tasks, finishes those in flight. */
  draining = false;
  /** The shard its breaker actor lives in once active; -1 while virtual. */
  shard = -1;

  constructor(
    readonly id: string,
    /** Undefined for agents registered by `routeTask`, which brings its own task function. */
    readonly run: RunFunction | undefined,
    readonly priority: number,
    readonly weight: number,
    /** Tie-breaker among equal priorities: the order agents were added. */
    readonly seq: number,
    readonly breaker: Breaker,
  ) {}

  /** Takes tasks from the default pool: eligible by the one rule (eligibility.ts) with no task in view. */
  get routable(): boolean {
    return whyNot(this) === undefined;
  }
}

/** Priority order: lower priority first, then the order added. */
export function compareAgents(a: Agent, b: Agent): number {
  return a.priority - b.priority || a.seq - b.seq;
}
