/**
 * Every attempt deadline of a supervisor in one min-heap, with one clock timer armed for the
 * earliest: no `setTimeout` per call (docs/architecture.md, principle 2), and the simulated clock
 * drives it. The timer holds the process open only while a deadline is pending (a caller awaits
 * that task); once the heap is empty it stays armed but unref'd, so the next task does not pay for
 * a new timer and an idle process exits (principle 12 there).
 */
import type { Clock } from '../../machines/breakerOptions.js';
import { holdProcess } from '../common/clock.js';

export interface Deadline {
  /** Clock time at which `expire` runs. */
  deadlineAt: number;
  /** Position in the heap; -1 when not scheduled. */
  heapIndex: number;
  expire(): void;
}

export class DeadlineQueue {
  private readonly heap: Deadline[] = [];
  private timer: unknown;
  private armedFor = Number.POSITIVE_INFINITY;

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.heap.length;
  }

  schedule(entry: Deadline, at: number): void {
    entry.deadlineAt = at;
    entry.heapIndex = this.heap.length;
    this.heap.push(entry);
    this.up(entry.heapIndex);
    if (at < this.armedFor) this.arm();
    else if (this.heap.length === 1) holdProcess(this.timer, true);
  }

  cancel(entry: Deadline): void {
    const i = entry.heapIndex;
    if (i < 0) return;
    entry.heapIndex = -1;
    const last = this.heap.pop() as Deadline;
    if (i < this.heap.length) {
      this.heap[i] = last;
      last.heapIndex = i;
      this.down(i);
      this.up(i);
    }
    // The timer stays armed; it re-arms for the new head when it fires (cheaper than clearing).
    if (this.heap.length === 0) holdProcess(this.timer, false);
  }

  /** Clears the timer and forgets every deadline. */
  clear(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    for (const entry of this.heap) entry.heapIndex = -1;
    this.heap.length = 0;
  }

  private arm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    const head = this.heap[0];
    if (head === undefined) {
      this.timer = undefined;
      this.armedFor = Number.POSITIVE_INFINITY;
      return;
    }
    this.armedFor = head.deadlineAt;
    this.timer = this.clock.setTimeout(this.onTimer, Math.max(0, head.deadlineAt - this.clock.now()));
    holdProcess(this.timer, true);
  }

  private readonly onTimer = (): void => this.fire();

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    for (let head = this.heap[0]; head !== undefined && head.deadlineAt <= now; head = this.heap[0]) {
      this.cancel(head);
      head.expire();
    }
    if (this.heap.length > 0) this.arm();
  }

  private up(i: number): void {
    const heap = this.heap;
    const entry = heap[i] as Deadline;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as Deadline;
      if (p.deadlineAt <= entry.deadlineAt) break;
      heap[i] = p;
      p.heapIndex = i;
      i = parent;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[i] as Deadline;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child =
        right < n && (heap[right] as Deadline).deadlineAt < (heap[left] as Deadline).deadlineAt ? right : left;
      const c = heap[child] as Deadline;
      if (c.deadlineAt >= entry.deadlineAt) break;
      heap[i] = c;
      c.heapIndex = i;
      i = child;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }
}
