/**
 * Direct unit tests of `DeadlineQueue` (src/task/deadlineQueue.ts): one min-heap of deadlines, one
 * clock timer armed for the earliest. Driven by XState's `SimulatedClock`, whose `increment` jumps
 * to the new time and fires every timer due by then; the last test uses the default (real) clock
 * only to read whether its timer holds the process open.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { realClock } from '../src/common/clock.js';
import { type Deadline, DeadlineQueue } from '../src/task/deadlineQueue.js';

interface Expiry {
  id: string;
  /** Clock time it expired. */
  at: number;
  /** The deadline it was scheduled for. */
  deadline: number;
}

/** A deadline that records when it expired; `onExpire` runs inside `expire()` (reentrancy tests). */
class Entry implements Deadline {
  deadlineAt = 0;
  heapIndex = -1;
  onExpire: (() => void) | undefined;

  constructor(
    readonly id: string,
    private readonly clock: { now(): number },
    private readonly log: Expiry[],
  ) {}

  expire(): void {
    // A broken queue can loop on an entry for ever: fail rather than hang the run.
    if (this.log.length >= 10_000) throw new Error('runaway: 10,000 expiries');
    this.log.push({ id: this.id, at: this.clock.now(), deadline: this.deadlineAt });
    this.onExpire?.();
  }
}

/** The timers pending on a simulated clock, each due at `start + timeout`. */
function timersOf(clock: SimulatedClock): { start: number; timeout: number }[] {
  return [...(clock as unknown as { timeouts: Map<number, { start: number; timeout: number }> }).timeouts.values()];
}

/** What expired and when, without the deadlines. */
const seen = (log: readonly Expiry[]) => log.map(({ id, at }) => ({ id, at }));

function setup() {
  const clock = new SimulatedClock();
  const queue = new DeadlineQueue(clock);
  const log: Expiry[] = [];
  const entry = (id: string) => new Entry(id, clock, log);
  return { clock, queue, log, entry };
}

describe('DeadlineQueue on a simulated clock', () => {
  it('expires entries in deadline order, each only once it is due, and only once', () => {
    const { clock, queue, log, entry } = setup();
    const c = entry('c');
    const a = entry('a');
    const b = entry('b');
    queue.schedule(c, 300);
    queue.schedule(a, 100);
    queue.schedule(b, 200);
    expect(queue.size).toBe(3);

    clock.increment(99);
    expect(seen(log)).toEqual([]);
    clock.increment(1);
    expect(seen(log)).toEqual([{ id: 'a', at: 100 }]);
    expect(a.heapIndex).toBe(-1);
    expect(queue.size).toBe(2);

    clock.increment(250); // now 350: b and c are both due, in deadline order
    expect(seen(log)).toEqual([
      { id: 'a', at: 100 },
      { id: 'b', at: 350 },
      { id: 'c', at: 350 },
    ]);
    expect(queue.size).toBe(0);

    clock.increment(10_000);
    expect(log).toHaveLength(3);
  });

  it('sorts many entries scheduled in reverse order', () => {
    const { clock, queue, log, entry } = setup();
    for (let i = 20; i >= 1; i--) queue.schedule(entry(`e${i}`), i * 10);
    clock.increment(1_000);
    expect(log.map((e) => e.id)).toEqual(Array.from({ length: 20 }, (_, i) => `e${i + 1}`));
  });

  it('an entry cancelled before it is due never expires; the others still do', () => {
    const { clock, queue, log, entry } = setup();
    const a = entry('a');
    const b = entry('b');
    const c = entry('c');
    queue.schedule(a, 100);
    queue.schedule(b, 200);
    queue.schedule(c, 300);
    queue.cancel(a); // the head: the armed timer stays, and re-arms for b when it fires
    queue.cancel(c); // the tail
    expect(a.heapIndex).toBe(-1);
    expect(c.heapIndex).toBe(-1);
    expect(queue.size).toBe(1);
    clock.increment(150);
    expect(seen(log)).toEqual([]);
    clock.increment(50);
    expect(seen(log)).toEqual([{ id: 'b', at: 200 }]);
    clock.increment(1_000);
    expect(seen(log)).toEqual([{ id: 'b', at: 200 }]);
  });

  it('cancelling an entry that is not scheduled is a no-op', () => {
    const { clock, queue, log, entry } = setup();
    const a = entry('a');
    const never = entry('never');
    queue.schedule(a, 50);
    queue.cancel(never);
    expect(queue.size).toBe(1);
    expect(a.heapIndex).toBe(0);
    queue.cancel(a);
    queue.cancel(a); // twice: still a no-op
    expect(queue.size).toBe(0);
    const b = entry('b');
    queue.schedule(b, 60);
    queue.cancel(a); // a stale entry must not remove b from slot 0
    expect(queue.size).toBe(1);
    expect(b.heapIndex).toBe(0);
    clock.increment(100);
    expect(seen(log)).toEqual([{ id: 'b', at: 100 }]);
  });

  it('an entry scheduled earlier than the armed one re-arms the timer', () => {
    const { clock, queue, log, entry } = setup();
    queue.schedule(entry('late'), 1_000);
    queue.schedule(entry('early'), 100);
    clock.increment(100);
    expect(seen(log)).toEqual([{ id: 'early', at: 100 }]);
    clock.increment(899);
    expect(log).toHaveLength(1);
    clock.increment(1);
    expect(seen(log)).toEqual([
      { id: 'early', at: 100 },
      { id: 'late', at: 1_000 },
    ]);
  });

  it('an entry due in the past expires at the next tick of the clock', () => {
    const { clock, queue, log, entry } = setup();
    clock.increment(500);
    queue.schedule(entry('past'), 100);
    expect(seen(log)).toEqual([]); // never synchronously inside schedule()
    clock.increment(0);
    expect(seen(log)).toEqual([{ id: 'past', at: 500 }]);
  });

  it('clear() forgets every entry, and no expire follows', () => {
    const { clock, queue, log, entry } = setup();
    const entries = ['a', 'b', 'c'].map(entry);
    entries.forEach((e, i) => {
      queue.schedule(e, 100 * (i + 1));
    });
    queue.clear();
    expect(queue.size).toBe(0);
    for (const e of entries) expect(e.heapIndex).toBe(-1);
    expect(timersOf(clock)).toEqual([]); // its timer is cleared, not left to fire
    clock.increment(10_000);
    expect(seen(log)).toEqual([]);
    // Still usable afterwards.
    queue.schedule(entry('d'), clock.now() + 5);
    clock.increment(5);
    expect(seen(log)).toEqual([{ id: 'd', at: 10_005 }]);
  });

  it('an entry moved into a cancelled slot in the other subtree still expires on time', () => {
    const { clock, queue, log, entry } = setup();
    // Pushed in this order, the heap is [1, 2, 50, 3, 60, 51, 52, 4]: 4 is the last, under 3.
    const byDeadline = new Map<number, Entry>();
    for (const at of [1, 2, 50, 3, 60, 51, 52, 4]) {
      const e = entry(`d${at}`);
      byDeadline.set(at, e);
      queue.schedule(e, at);
    }
    // Cancelling 51 (a child of 50) moves 4 under 50: it must sift up past 50.
    queue.cancel(byDeadline.get(51) as Entry);
    for (const at of [70, 71]) queue.schedule(entry(`d${at}`), at);
    for (let t = 0; t < 80; t++) clock.increment(1);
    expect(seen(log)).toEqual([1, 2, 3, 4, 50, 52, 60, 70, 71].map((at) => ({ id: `d${at}`, at })));
  });

  it('size counts scheduled entries', () => {
    const { queue, entry } = setup();
    expect(queue.size).toBe(0);
    const a = entry('a');
    const b = entry('b');
    queue.schedule(a, 10);
    expect(queue.size).toBe(1);
    queue.schedule(b, 5);
    expect(queue.size).toBe(2);
    queue.cancel(a);
    expect(queue.size).toBe(1);
    queue.clear();
    expect(queue.size).toBe(0);
  });

  describe('reentrancy: expire() that schedules or cancels', () => {
    it('an entry scheduled from expire() for later expires then, not in the same tick', () => {
      const { clock, queue, log, entry } = setup();
      const a = entry('a');
      const b = entry('b');
      a.onExpire = () => queue.schedule(b, clock.now() + 10);
      queue.schedule(a, 100);
      clock.increment(100);
      expect(seen(log)).toEqual([{ id: 'a', at: 100 }]);
      expect(queue.size).toBe(1);
      clock.increment(9);
      expect(log).toHaveLength(1);
      clock.increment(1);
      expect(seen(log)).toEqual([
        { id: 'a', at: 100 },
        { id: 'b', at: 110 },
      ]);
    });

    it('an entry scheduled from expire() as already due expires in the same tick', () => {
      const { clock, queue, log, entry } = setup();
      const a = entry('a');
      const b = entry('b');
      const c = entry('c');
      a.onExpire = () => queue.schedule(b, clock.now());
      queue.schedule(a, 100);
      queue.schedule(c, 500);
      clock.increment(100);
      expect(seen(log)).toEqual([
        { id: 'a', at: 100 },
        { id: 'b', at: 100 },
      ]);
      clock.increment(400);
      expect(log.map((e) => e.id)).toEqual(['a', 'b', 'c']);
    });

    it('an entry re-scheduling itself from expire() expires again later', () => {
      const { clock, queue, log, entry } = setup();
      const a = entry('a');
      let remaining = 2;
      a.onExpire = () => {
        if (remaining-- > 0) queue.schedule(a, clock.now() + 50);
      };
      queue.schedule(a, 50);
      for (let i = 0; i < 5; i++) clock.increment(50);
      expect(seen(log)).toEqual([
        { id: 'a', at: 50 },
        { id: 'a', at: 100 },
        { id: 'a', at: 150 },
      ]);
    });

    it('an entry cancelled from another one’s expire() in the same tick never expires', () => {
      const { clock, queue, log, entry } = setup();
      const a = entry('a');
      const b = entry('b');
      const c = entry('c');
      a.onExpire = () => queue.cancel(b);
      queue.schedule(b, 100);
      queue.schedule(c, 100);
      queue.schedule(a, 99); // the first to expire, and b is due in the same tick
      clock.increment(200);
      expect(log.map((e) => e.id)).toEqual(['a', 'c']);
      expect(b.heapIndex).toBe(-1);
      expect(queue.size).toBe(0);
    });

    it('an entry cancelled from expire() that was due later never expires', () => {
      const { clock, queue, log, entry } = setup();
      const a = entry('a');
      const b = entry('b');
      a.onExpire = () => queue.cancel(b);
      queue.schedule(a, 100);
      queue.schedule(b, 300);
      clock.increment(100);
      clock.increment(1_000);
      expect(log.map((e) => e.id)).toEqual(['a']);
    });

    it('clear() from expire() stops the tick', () => {
      const { clock, queue, log, entry } = setup();
      const a = entry('a');
      a.onExpire = () => queue.clear();
      queue.schedule(a, 10);
      queue.schedule(entry('b'), 20);
      queue.schedule(entry('c'), 30);
      clock.increment(100);
      expect(log.map((e) => e.id)).toEqual(['a']);
      expect(queue.size).toBe(0);
    });
  });

  describe('model: random schedule / cancel / advance against a sorted list', () => {
    type Op =
      | { kind: 'schedule'; id: number; delay: number }
      | { kind: 'cancel'; id: number }
      | { kind: 'advance'; ms: number };

    const ids = 16;
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('schedule' as const),
          id: fc.nat(ids - 1),
          delay: fc.integer({ min: -5, max: 60 }),
        }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), id: fc.nat(ids - 1) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(40) }) },
    );

    /** Ties between equal deadlines may expire in any order: compare by (deadline, id). */
    const canonical = (xs: readonly Expiry[]) =>
      [...xs].sort((x, y) => x.deadline - y.deadline || Number(x.id) - Number(y.id));

    it('expires what the model expires, in deadline order, at the same clock time', () => {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 100 }), (ops) => {
          const clock = new SimulatedClock();
          const queue = new DeadlineQueue(clock);
          const log: Expiry[] = [];
          const entries = Array.from({ length: ids }, (_, i) => new Entry(String(i), clock, log));
          /** The model: what is scheduled, for when. */
          let model: { id: number; at: number }[] = [];

          const run = (op: Op) => {
            switch (op.kind) {
              case 'schedule': {
                const e = entries[op.id] as Entry;
                // One deadline per entry at a time (as an attempt has): re-scheduling cancels first.
                queue.cancel(e);
                model = model.filter((m) => m.id !== op.id);
                const at = clock.now() + op.delay;
                queue.schedule(e, at);
                model.push({ id: op.id, at });
                break;
              }
              case 'cancel':
                queue.cancel(entries[op.id] as Entry);
                model = model.filter((m) => m.id !== op.id);
                break;
              case 'advance': {
                const before = log.length;
                clock.increment(op.ms);
                const now = clock.now();
                const expected: Expiry[] = model
                  .filter((m) => m.at <= now)
                  .map((m) => ({ id: String(m.id), at: now, deadline: m.at }));
                model = model.filter((m) => m.at > now);
                const batch = log.slice(before);
                // In deadline order…
                for (let i = 1; i < batch.length; i++) {
                  expect(batch[i]?.deadline).toBeGreaterThanOrEqual(batch[i - 1]?.deadline as number);
                }
                // …exactly the entries due, each once, at this clock time.
                expect(canonical(batch)).toEqual(canonical(expected));
                break;
              }
            }
            expect(queue.size).toBe(model.length);
            // One timer, armed no later than the earliest deadline (or now, for one already past).
            const timers = timersOf(clock);
            expect(timers.length).toBeLessThanOrEqual(1);
            if (model.length > 0) {
              expect(timers).toHaveLength(1);
              const due = (timers[0]?.start ?? 0) + (timers[0]?.timeout ?? 0);
              expect(due).toBeLessThanOrEqual(Math.max(clock.now(), Math.min(...model.map((m) => m.at))));
            }
          };

          for (const op of ops) run(op);
          run({ kind: 'advance', ms: 1_000 }); // everything left is due
          expect(model).toEqual([]);
          for (const e of entries) expect(e.heapIndex).toBe(-1);
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('DeadlineQueue on the real clock', () => {
  let queue: DeadlineQueue | undefined;
  afterEach(() => queue?.clear());

  const timerOf = (q: DeadlineQueue) => (q as unknown as { timer: NodeJS.Timeout | undefined }).timer;

  it('holds the process while an entry is pending, and not after the last one is cancelled', () => {
    queue = new DeadlineQueue(realClock);
    const noop = (id: string): Deadline & { id: string } => ({ id, deadlineAt: 0, heapIndex: -1, expire() {} });
    const a = noop('a');
    const b = noop('b');
    const c = noop('c');

    queue.schedule(a, Date.now() + 60_000);
    expect(timerOf(queue)?.hasRef()).toBe(true);
    queue.schedule(b, Date.now() + 120_000);
    queue.cancel(a);
    expect(timerOf(queue)?.hasRef()).toBe(true); // b is still pending
    queue.cancel(b);
    const idle = timerOf(queue);
    expect(idle).toBeDefined(); // still armed, to be reused
    expect(idle?.hasRef()).toBe(false);

    // A later deadline than the one still armed reuses the timer: it must hold the process again.
    queue.schedule(c, Date.now() + 180_000);
    expect(timerOf(queue)).toBe(idle);
    expect(timerOf(queue)?.hasRef()).toBe(true);
    queue.cancel(c);
    expect(timerOf(queue)?.hasRef()).toBe(false);
  });
});
