/**
 * Whether an agent may take a task's next attempt, and if not, why: the one rule that routing,
 * `decisions$`, the rejections an `AllAgentsFailedError` lists and the pool's routable list read.
 */
import type { Agent } from './agent.js';

/** Why an agent was passed over, in the words `decisions$` and `AllAgentsFailedError` use. */
export type Ineligible =
  | 'draining'
  | 'tried'
  | 'half_open: no probe permit'
  | 'circuit open'
  | 'circuit isolated'
  | 'no run function';

/** What a task adds to the rule: agents it ran on or that refused it, its own function, panic. */
export interface TaskEligibility {
  /** Agents this task already ran on. */
  readonly tried: readonly Agent[] | undefined;
  /** Half-open agents that had no probe permit for this attempt. */
  readonly refused: readonly Agent[] | undefined;
  /** The task brings its own function (`routeTask`): agents without `run` may take it. */
  readonly ownFunction: boolean;
  /** Panic routing: open circuits may take it too. */
  readonly panic: boolean;
}

/** The rule for the pool's routable list: no task in view. */
const ANY_TASK: TaskEligibility = { tried: undefined, refused: undefined, ownFunction: false, panic: false };

/**
 * Why `agent` may not take the next attempt of `task`, or undefined when it may. With
 * `retryTried`, an agent the task already ran on may take it again (every candidate was tried:
 * retry one rather than give up, as `maxAttempts` allows).
 */
export function whyNot(agent: Agent, task: TaskEligibility = ANY_TASK, retryTried = false): Ineligible | undefined {
  if (agent.draining) return 'draining';
  if (!retryTried && task.tried?.includes(agent)) return 'tried';
  if (task.refused?.includes(agent)) return 'half_open: no probe permit';
  const state = agent.breaker.state;
  if (state === 'isolated') return 'circuit isolated';
  if (state === 'open' && !task.panic) return 'circuit open';
  if (!task.ownFunction && agent.run === undefined) return 'no run function';
  return undefined;
}
