/**
 * The supervisor's running tasks: how many (what `stop()` drains), and those among them that own
 * their promise (what `stop()` aborts at its deadline). A task is counted from `route()` to its settlement,
 * exactly once, whichever path it takes: a first attempt on the fast path that fails over hands its
 * count to the `TaskRun` that takes over, so a drain can never see zero between the two.
 */
/** A task `stop()` can give up on at its deadline: a `TaskRun`, or a deadline-bound first attempt. */
export interface StoppableTask {
  prev: StoppableTask | undefined;
  next: StoppableTask | undefined;
  /** `stop()` reached its drain deadline with this task still running. */
  abortForStop(): void;
}

export class RunningTasks {
  private count = 0;
  private head: StoppableTask | undefined;
  private onDrained: (() => void) | undefined;

  get size(): number {
    return this.count;
  }

  /** A task started. */
  started(): void {
    this.count++;
  }

  /** A task settled. */
  ended(): void {
    this.count--;
    if (this.count === 0 && this.onDrained !== undefined) this.onDrained();
  }

  /** Runs `fn` once no task is running (now, if none is); `undefined` cancels. */
  whenDrained(fn: (() => void) | undefined): void {
    this.onDrained = fn;
    if (fn !== undefined && this.count === 0) fn();
  }

  /** Lists a task for `abortAll` (a linked list: no Set per task). */
  link(run: StoppableTask): void {
    run.next = this.head;
    if (this.head !== undefined) this.head.prev = run;
    this.head = run;
  }

  /** Idempotent. */
  unlink(run: StoppableTask): void {
    if (run.prev === undefined && this.head !== run) return; // not linked
    if (run.prev !== undefined) run.prev.next = run.next;
    else this.head = run.next;
    if (run.next !== undefined) run.next.prev = run.prev;
    run.prev = undefined;
    run.next = undefined;
  }

  /** `stop()` reached its deadline: every listed task gives up. */
  abortAll(): void {
    for (let run = this.head; run !== undefined; ) {
      const next = run.next;
      run.abortForStop();
      run = next;
    }
  }
}
