/**
 * rejectLater (src/common/rejectLater.ts): a promise that rejects with the given reason one
 * microtask after it is returned, so the caller's handler is already attached; one shared executor
 * for every promise, which must still reject each with its own reason.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rejectLater } from '../src/common/rejectLater.js';

/** Lets every queued microtask and a timer turn run. */
const macrotask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe('rejectLater', () => {
  it('rejects with exactly the given reason, whatever it is', async () => {
    const error = new Error('boom');
    await expect(rejectLater(error)).rejects.toBe(error);
    const object = { code: 42 };
    await expect(rejectLater(object)).rejects.toBe(object);
    await expect(rejectLater('text')).rejects.toBe('text');
    await expect(rejectLater(undefined)).rejects.toBeUndefined();
    await expect(rejectLater(null)).rejects.toBeNull();
  });

  it('reaches a handler attached by await, .catch or .then', async () => {
    const error = new Error('boom');
    let caught: unknown;
    try {
      await rejectLater(error);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(error);
    expect(await rejectLater(1).catch((e: unknown) => ['caught', e])).toEqual(['caught', 1]);
    expect(
      await rejectLater(2).then(
        () => 'fulfilled',
        (e: unknown) => ['rejected', e],
      ),
    ).toEqual(['rejected', 2]);
  });

  it('never fulfils', async () => {
    let fulfilled = false;
    const settled = rejectLater('no').then(
      () => {
        fulfilled = true;
      },
      () => {},
    );
    await settled;
    expect(fulfilled).toBe(false);
  });

  it('is still pending when returned and rejects one microtask later', async () => {
    const log: string[] = [];
    const promise = rejectLater('late');
    promise.catch(() => log.push('rejected'));
    // A chain started after the call: its first step runs before the handler, its second after.
    Promise.resolve()
      .then(() => log.push('tick 1'))
      .then(() => log.push('tick 2'));
    expect(log).toEqual([]);
    await macrotask();
    expect(log).toEqual(['tick 1', 'rejected', 'tick 2']);

    // Promise.reject, for contrast, reaches the handler first.
    const eager: string[] = [];
    Promise.reject('now').catch(() => eager.push('rejected'));
    Promise.resolve()
      .then(() => eager.push('tick 1'))
      .then(() => eager.push('tick 2'));
    await macrotask();
    expect(eager).toEqual(['rejected', 'tick 1', 'tick 2']);
  });

  it('rejects many concurrent promises each with its own reason', async () => {
    const n = 1000;
    const results: unknown[] = new Array(n).fill('pending');
    const reasons = Array.from({ length: n }, (_, i) => new Error(`reason ${i}`));
    for (let i = 0; i < n; i++) {
      rejectLater(reasons[i]).then(
        () => {
          results[i] = 'fulfilled';
        },
        (e: unknown) => {
          results[i] = e;
        },
      );
    }
    await macrotask();
    results.forEach((result, i) => {
      expect(result, `promise ${i}`).toBe(reasons[i]);
    });
  });

  it('keeps reasons apart when calls interleave with other promises and awaits', async () => {
    const results: unknown[] = [];
    const reasons: unknown[] = [];
    const call = (reason: unknown): void => {
      const at = results.push('pending') - 1;
      rejectLater(reason).then(
        () => {
          results[at] = 'fulfilled';
        },
        (e: unknown) => {
          results[at] = e;
        },
      );
      reasons.push(reason);
    };
    for (let i = 0; i < 50; i++) {
      call(i);
      // Some calls come after the earlier ones settled, some from inside a microtask.
      if (i % 3 === 0) await Promise.resolve();
      if (i % 7 === 0) await Promise.resolve().then(() => call(`inner ${i}`));
    }
    await macrotask(); // not Promise.all: a promise left pending must fail the test, not hang it
    expect(results).toEqual(reasons);
  });

  describe('unhandled', () => {
    // Vitest's own listener stands aside while another one is attached (it then assumes user code
    // handles the event); the listener is removed after each test.
    let listener: NodeJS.UnhandledRejectionListener | undefined;
    const reported: { reason: unknown; promise: Promise<unknown> }[] = [];

    beforeEach(() => {
      reported.length = 0;
      listener = (reason, promise) => {
        reported.push({ reason, promise });
      };
      process.on('unhandledRejection', listener);
    });

    afterEach(() => {
      if (listener !== undefined) process.off('unhandledRejection', listener);
      listener = undefined;
    });

    it('a promise nobody handles is reported as an unhandled rejection, with its reason', async () => {
      const reason = new Error('nobody listens');
      const promise = rejectLater(reason);
      for (let i = 0; i < 5 && reported.length === 0; i++) await macrotask();

      expect(reported).toHaveLength(1);
      expect(reported[0]?.reason).toBe(reason);
      expect(reported[0]?.promise).toBe(promise);
    });

    it('a handled one is not reported, even with the handler attached a microtask late', async () => {
      await rejectLater('handled').catch(() => {});
      const promise = rejectLater('handled later in the same turn');
      await Promise.resolve();
      promise.catch(() => {});
      for (let i = 0; i < 3; i++) await macrotask();

      expect(reported).toEqual([]);
    });
  });
});
