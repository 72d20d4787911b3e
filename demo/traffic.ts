/** A steady stream of tasks: `rate` a second, routed through the supervisor, outcomes counted. */
import type { Supervisor } from '../src/index.js';

const TICK_MS = 50;

export interface Traffic {
  readonly sent: number;
  /** Stops sending; resolves when every task sent has settled. */
  stop(): Promise<void>;
}

export function startTraffic(supervisor: Supervisor, rate: number): Traffic {
  // Never more in flight than a few seconds' worth: a slow network must not pile up work.
  const maxInFlight = Math.max(10, Math.ceil(rate * 3));
  const pending = new Set<Promise<unknown>>();
  let owed = 0;
  let sent = 0;
  const timer = setInterval(() => {
    owed += (rate * TICK_MS) / 1000;
    while (owed >= 1) {
      owed--;
      if (pending.size >= maxInFlight || supervisor.phase !== 'running') continue;
      sent++;
      const task = supervisor.route({ n: sent }, { taskId: `task-${sent}` }).catch(() => {});
      pending.add(task);
      void task.then(() => pending.delete(task));
    }
  }, TICK_MS);
  return {
    get sent() {
      return sent;
    },
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
    },
  };
}
