/** What a running task needs from the router that started it: the internal surface between the two. */
import type { Clock } from '../../machines/breakerOptions.js';
import type { AttemptRecord } from '../common/errors.js';
import type { Agent } from '../pool/agent.js';
import type { AgentPool } from '../pool/agentPool.js';
import type { TaskEligibility } from '../pool/eligibility.js';
import type { RoutingPolicy } from '../routing/policy.js';
import type { AttemptHost } from '../task/attempt.js';
import type { DeadlineQueue } from '../task/deadlineQueue.js';
import type { RetryBudget } from '../task/retryBudget.js';
import type { RunningTasks } from '../task/runningTasks.js';
import type { TaskRun } from '../task/taskRun.js';
import type { SupervisorStreams } from './supervisorStreams.js';
import type { SupervisorPhase } from './supervisorTypes.js';

export interface SupervisorCore extends AttemptHost {
  readonly clock: Clock;
  readonly pool: AgentPool;
  readonly policy: RoutingPolicy;
  readonly maxAttempts: number;
  readonly panicThreshold: number;
  readonly retryBudget: RetryBudget | undefined;
  readonly deadlines: DeadlineQueue;
  readonly streams: SupervisorStreams;
  readonly phase: SupervisorPhase;
  /** Tasks from route to settlement, for `stop()`'s drain. */
  readonly running: RunningTasks;
  failovers: number;
  routingEvents: number;
  tasksSucceeded: number;
  tasksFailed: number;
  tasksRejected: number;
  /** `routing.isFailure`, contained: a throwing hook counts the error as a failure. */
  countsAsFailure(error: unknown): boolean;
  logFailure(run: TaskRun, agentId: string, reason: string, kind: 'failed' | 'timeout', at: number): void;
  /** Emits a routing decision (only called while `decisions$` is observed). */
  explain(run: TaskRun, chosen: Agent | undefined, candidates: readonly Agent[] | undefined, attempt: number): void;
  /** Adds `rejected` records for candidates that could not take the task (up to `max`). */
  listRejected(
    candidates: readonly Agent[] | undefined,
    task: TaskEligibility | undefined,
    into: AttemptRecord[],
    max: number,
  ): void;
}
