/**
 * Finagle's retry budget: retries may not exceed `ratio` × the tasks of the last `windowMs`, plus
 * `minRetriesPerSecond` × the window. Counted in one-second buckets of the supervisor's clock.
 */
import type { Clock } from '../../machines/breakerOptions.js';
import type { RetryBudgetOptions } from '../supervisor/supervisorTypes.js';

export class RetryBudget {
  private readonly buckets: number;
  private readonly second: Float64Array;
  private readonly tasks: Float64Array;
  private readonly retries: Float64Array;
  private readonly ratio: number;
  private readonly floor: number;

  constructor(
    options: RetryBudgetOptions,
    private readonly clock: Clock,
  ) {
    const windowMs = options.windowMs ?? 10_000;
    this.buckets = Math.max(1, Math.ceil(windowMs / 1000));
    this.second = new Float64Array(this.buckets).fill(-1);
    this.tasks = new Float64Array(this.buckets);
    this.retries = new Float64Array(this.buckets);
    this.ratio = options.ratio;
    this.floor = (options.minRetriesPerSecond ?? 10) * this.buckets;
  }

  /** A task arrived. */
  deposit(): void {
    (this.tasks[this.bucket()] as number)++;
  }

  /** Takes one retry from the budget; false when spent. */
  tryWithdraw(): boolean {
    const now = this.bucket();
    let tasks = 0;
    let retries = 0;
    const current = Math.floor(this.clock.now() / 1000);
    for (let i = 0; i < this.buckets; i++) {
      if (current - (this.second[i] as number) < this.buckets) {
        tasks += this.tasks[i] as number;
        retries += this.retries[i] as number;
      }
    }
    if (retries >= this.ratio * tasks + this.floor) return false;
    (this.retries[now] as number)++;
    return true;
  }

  private bucket(): number {
    const second = Math.floor(this.clock.now() / 1000);
    const index = second % this.buckets;
    if (this.second[index] !== second) {
      this.second[index] = second;
      this.tasks[index] = 0;
      this.retries[index] = 0;
    }
    return index;
  }
}
