/**
 * Event-loop delay while something runs (perf_hooks' histogram, 1 ms resolution): how late the
 * loop is anyway, from blocking work or from the OS giving the CPU to other processes. Read next to
 * timer lateness, it separates the library's share from the machine's.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export function startLoopDelay() {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  return () => {
    histogram.disable();
    return { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 };
  };
}

/** The loop's delay while the process does nothing for `ms`: this machine's floor right now. */
export async function idleLoopDelay(ms) {
  const stop = startLoopDelay();
  await sleep(ms);
  return stop();
}
