/**
 * A history checker (Jepsen's "what goes in must come out"): records every task routed and every
 * settlement of its promise, then counts the lost (never settled), the settled twice, the settled
 * with a wrong value and the rejected with an error the task could not have earned.
 *
 * Also the consistency checks a chaos run applies to a supervisor at any moment.
 */
import {
  AllAgentsFailedError,
  BreakerboxError,
  type HealthStatus,
  type Supervisor,
  SupervisorStoppedError,
  TaskAbortedError,
} from '../../src/index.js';

export interface TaskEntry {
  n: number;
  /** How it was routed (`route`, `route+agents`, `routeTask`, `route+signal`…). */
  via: string;
  settlements: number;
  outcome: 'pending' | 'resolved' | 'rejected';
  /** The rejection's name (the error itself is not kept: a history holds 200,000 tasks). */
  errorName?: string;
  /** The caller aborted its signal while the task was pending: it must reject with `TaskAbortedError`. */
  aborted: boolean;
  /** Routed while, or after, the supervisor was stopping: `SupervisorStoppedError` is expected. */
  afterStop: boolean;
}

export interface HistoryReport {
  tasks: number;
  resolved: number;
  rejected: number;
  lost: number;
  settledTwice: number;
  wrongValues: number;
  unexpectedErrors: number;
  /** Rejections by error name. */
  errors: Record<string, number>;
  /** Routes by `via`. */
  via: Record<string, number>;
  /** The first few problems, in words. */
  problems: string[];
}

/** The figures of a report that must be zero (or empty) after any run: what went wrong, by kind. */
export function historyProblems(report: HistoryReport) {
  return {
    lost: report.lost,
    twice: report.settledTwice,
    wrong: report.wrongValues,
    unexpected: report.unexpectedErrors,
    problems: report.problems,
  };
}

/** `historyProblems()` of a clean history. */
export const CLEAN_HISTORY: Readonly<ReturnType<typeof historyProblems>> = {
  lost: 0,
  twice: 0,
  wrong: 0,
  unexpected: 0,
  problems: [],
};

export interface HistoryChecks {
  /** A problem in words when a resolved value is wrong for its task. */
  value: (entry: TaskEntry, value: unknown) => string | undefined;
  /** Called once per task, at its first settlement (e.g. to drop per-task records). */
  settled?: (entry: TaskEntry) => void;
}

const MAX_PROBLEMS = 20;

export class History {
  readonly entries: TaskEntry[] = [];
  pending = 0;
  private readonly problems: string[] = [];
  private wrong = 0;
  private twice = 0;
  private unexpected = 0;
  private readonly errors: Record<string, number> = {};

  constructor(private readonly checks: HistoryChecks) {}

  /** Records a task and every settlement of its promise. */
  track(n: number, via: string, promise: Promise<unknown>, afterStop = false): TaskEntry {
    const entry: TaskEntry = { n, via, settlements: 0, outcome: 'pending', aborted: false, afterStop };
    this.entries.push(entry);
    this.pending++;
    promise.then(
      (value) => this.settle(entry, 'resolved', value),
      (error) => this.settle(entry, 'rejected', error),
    );
    return entry;
  }

  private settle(entry: TaskEntry, outcome: 'resolved' | 'rejected', result: unknown): void {
    entry.settlements++;
    if (entry.settlements > 1) {
      this.twice++;
      this.problem(`task ${entry.n} settled ${entry.settlements} times`);
      return;
    }
    this.pending--;
    entry.outcome = outcome;
    let why: string | undefined;
    if (outcome === 'resolved') {
      const wrong = this.checks.value(entry, result);
      if (wrong !== undefined) {
        this.wrong++;
        this.problem(wrong);
      }
      if (entry.aborted) why = 'resolved after its caller aborted';
    } else {
      entry.errorName = errorName(result);
      this.errors[entry.errorName] = (this.errors[entry.errorName] ?? 0) + 1;
      why = unexpectedError(entry, result);
    }
    if (why !== undefined) {
      this.unexpected++;
      this.problem(`task ${entry.n} (${entry.via}): ${why}`);
    }
    this.checks.settled?.(entry);
  }

  problem(text: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(text);
  }

  /** The figures so far (no side effects: it may be called mid-run). */
  report(): HistoryReport {
    const problems = this.problems.slice();
    const via: Record<string, number> = {};
    let resolved = 0;
    let rejected = 0;
    let lost = 0;
    for (const entry of this.entries) {
      via[entry.via] = (via[entry.via] ?? 0) + 1;
      if (entry.outcome === 'resolved') resolved++;
      else if (entry.outcome === 'rejected') rejected++;
      else {
        lost++;
        if (problems.length < MAX_PROBLEMS) problems.push(`task ${entry.n} (${entry.via}) never settled`);
      }
    }
    return {
      tasks: this.entries.length,
      resolved,
      rejected,
      lost,
      settledTwice: this.twice,
      wrongValues: this.wrong,
      unexpectedErrors: this.unexpected,
      errors: { ...this.errors },
      via,
      problems,
    };
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : `non-Error ${typeof error}`;
}

/** Why a rejection is one the task could not have earned, or undefined when it is fine. */
function unexpectedError(entry: TaskEntry, error: unknown): string | undefined {
  if (!(error instanceof BreakerboxError)) return `rejected with a foreign error: ${String(error)}`;
  if (error instanceof TaskAbortedError) return entry.aborted ? undefined : 'aborted though its caller never aborted';
  if (entry.aborted) return `its caller aborted, but it rejected with ${error.name}`;
  if (error instanceof SupervisorStoppedError) return entry.afterStop ? undefined : 'stopped error without a stop';
  if (error instanceof AllAgentsFailedError) {
    for (const attempt of error.attempts) {
      if (typeof attempt.reason !== 'string' || attempt.reason.length === 0 || attempt.reason.length > 600) {
        return `unreadable attempt reason (${typeof attempt.reason}, ${String(attempt.reason).length} chars)`;
      }
    }
    if (error.message.length > 10_000) return `an error message of ${error.message.length} chars`;
    return undefined;
  }
  return `unexpected ${error.name}: ${error.message}`;
}

/** What the checks read: the members of a supervisor that do not depend on its task type. */
export type Inspectable = Pick<Supervisor, 'getHealthStatus' | 'agentIds' | 'getAgent'>;

/** Problems with the health figures and per-agent figures of `supervisor`, in words. */
export function consistencyProblems(supervisor: Inspectable): string[] {
  const problems: string[] = [];
  const health = supervisor.getHealthStatus();
  problems.push(...healthProblems(health));
  const ids = supervisor.agentIds();
  if (health.totalAgents !== ids.length) problems.push(`totalAgents ${health.totalAgents} ≠ ${ids.length} agents`);
  const counted = { closed: 0, open: 0, half_open: 0, isolated: 0 };
  for (const id of ids) {
    const agent = supervisor.getAgent(id);
    if (agent === undefined) {
      problems.push(`agent ${id} listed but not found`);
      continue;
    }
    counted[agent.state]++;
    if (agent.inFlight < 0) problems.push(`agent ${id} has ${agent.inFlight} in flight`);
  }
  if (counted.closed !== health.healthyAgents) problems.push(`healthy ${health.healthyAgents} ≠ ${counted.closed}`);
  if (counted.open !== health.openCircuits) problems.push(`open ${health.openCircuits} ≠ ${counted.open}`);
  if (counted.half_open !== health.halfOpenCircuits)
    problems.push(`half_open ${health.halfOpenCircuits} ≠ ${counted.half_open}`);
  if (counted.isolated !== health.isolatedCircuits)
    problems.push(`isolated ${health.isolatedCircuits} ≠ ${counted.isolated}`);
  return problems;
}

export function healthProblems(health: HealthStatus): string[] {
  const sum = health.healthyAgents + health.openCircuits + health.halfOpenCircuits + health.isolatedCircuits;
  const problems: string[] = [];
  if (sum !== health.totalAgents) problems.push(`totalAgents ${health.totalAgents} ≠ sum of states ${sum}`);
  for (const [key, value] of Object.entries(health)) {
    if (!Number.isInteger(value) || value < 0) problems.push(`${key} = ${value}`);
  }
  return problems;
}

/** Sum of in-flight attempts over every agent. */
export function totalInFlight(supervisor: Inspectable): number {
  let sum = 0;
  for (const id of supervisor.agentIds()) sum += supervisor.getAgent(id)?.inFlight ?? 0;
  return sum;
}
