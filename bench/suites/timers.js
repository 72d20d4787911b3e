/**
 * Section 5, timers: N circuits of one supervisor opened together (each agent fails once, threshold
 * 1), then every open → half_open observed on `transitions$` with the real clock.
 *
 * - lateness: observed time − the `nextProbeAt` the machine scheduled (its context), in ms;
 * - busiest 100 ms: the most first probes in any 100 ms window, as a share of N, counted on each
 *   circuit's own delay (`nextProbeAt` − its open time), i.e. as if all N had opened in the same
 *   instant. Opening N circuits takes the library seconds of CPU, and that spread must not pass for
 *   jitter; nor must lateness on a loaded machine, which smears the observed times (the share on
 *   observed delays is recorded too, `observedShare`).
 *
 * The opener works in slices of ~1 ms and yields to the event loop between slices, as failures
 * arriving on sockets would, so timers due during the opening phase are not held back by one long
 * synchronous loop of the harness's own making (at most one slice, ≤ ~1 ms plus one open).
 *
 * The supervisor's `stop()` afterwards (N active actors, each half-open with a pending timer) is
 * timed in every scenario.
 *
 * Event-loop delay is recorded during each scenario and for 1 s of idling before them: on a shared
 * machine, that floor says how much lateness the OS scheduler alone adds.
 *
 * Scenarios: `none` (no jitter, the default 1 s backoff); `full` (`backoff.jitter: 'full'` set on
 * the supervisor, as a user would write it; each breaker draws from its own sequence, seeded from
 * `jitterSeed` and its agent id); `full-5s` (the same with a 5 s initial backoff: over 1 s, ten
 * 100 ms windows hold every probe, so one holds ≥ 10% whatever the draw).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { breakerbox } from '../lib/breakerbox.js';
import { idleLoopDelay, startLoopDelay } from '../lib/loopDelay.js';
import { busiestWindow, percentile } from '../lib/stats.js';
import { failSync, swallow } from '../lib/work.js';

const { createSupervisor } = breakerbox;
export const WINDOW_MS = 100;
const SLICE_MS = 1;

const SCENARIOS = {
  none: { jitter: 'none', initialMs: 1000, label: 'no jitter, 1 s backoff' },
  full: { jitter: 'full', initialMs: 1000, label: "jitter 'full', 1 s backoff" },
  'full-5s': { jitter: 'full', initialMs: 5000, label: "jitter 'full', 5 s backoff" },
};

/** Opens `n` circuits, observes their first half-open, then times `stop()` with every actor active. */
export async function scenario(name, n, log) {
  const { jitter, initialMs, label } = SCENARIOS[name];
  const index = new Map();
  const agents = Array.from({ length: n }, (_, i) => {
    const id = `agent-${i}`;
    index.set(id, i);
    return { id, run: failSync };
  });
  const supervisor = createSupervisor({
    agents,
    routing: { maxAttempts: 1 },
    breaker: { failureThreshold: 1, backoff: { initialMs, maxMs: Math.max(60_000, initialMs), jitter } },
  });
  const openedAt = new Float64Array(n);
  const scheduledAt = new Float64Array(n);
  const halfOpenAt = new Float64Array(n).fill(Number.NaN);
  let seen = 0;
  let allSeen;
  const done = new Promise((resolve) => {
    allSeen = resolve;
  });
  const subscription = supervisor.transitions$.subscribe((t) => {
    if (t.from !== 'open' || t.to !== 'half_open') return;
    const i = index.get(t.agentId);
    if (!Number.isNaN(halfOpenAt[i])) return;
    halfOpenAt[i] = Date.now();
    if (++seen === n) allSeen();
  });

  const stopLoopDelay = startLoopDelay();
  const started = performance.now();
  let busyMs = 0;
  for (let i = 0; i < n; ) {
    const slice = performance.now();
    do {
      const id = `agent-${i}`;
      supervisor.route(0, { agents: [id] }).catch(swallow);
      const context = supervisor.getAgent(id).breaker.actor.getSnapshot().context;
      openedAt[i] = context.changedAt;
      scheduledAt[i] = context.nextProbeAt;
      i++;
    } while (i < n && performance.now() - slice < SLICE_MS);
    busyMs += performance.now() - slice;
    await yieldToLoop();
  }
  const openingMs = performance.now() - started;
  const openCount = supervisor.getHealthStatus().openCircuits + supervisor.getHealthStatus().halfOpenCircuits;
  if (openCount + seen < n) throw new Error(`timers: only ${openCount + seen} of ${n} circuits opened`);

  const timeoutMs = initialMs + openingMs + 10_000;
  const timer = setTimeout(allSeen, timeoutMs);
  await done;
  clearTimeout(timer);
  const loopDelayMs = stopLoopDelay();
  subscription.unsubscribe();
  const stopping = performance.now();
  await supervisor.stop({ drainMs: 0 });
  const stopMs = performance.now() - stopping;

  const lateness = [];
  const delays = [];
  const scheduledDelays = [];
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(halfOpenAt[i])) continue;
    lateness.push(halfOpenAt[i] - scheduledAt[i]);
    delays.push(halfOpenAt[i] - openedAt[i]);
    scheduledDelays.push(scheduledAt[i] - openedAt[i]);
  }
  const scheduled = busiestWindow(scheduledDelays, WINDOW_MS);
  const observed = busiestWindow(delays, WINDOW_MS);
  const result = {
    scenario: name,
    label,
    circuits: n,
    observed: lateness.length,
    openingMs,
    /** Wall time inside the opener's slices per circuit: what opening one circuit costs the loop. */
    openingBusyMsPerCircuit: busyMs / n,
    latenessMs: { p50: percentile(lateness, 0.5), p99: percentile(lateness, 0.99), max: Math.max(...lateness) },
    /** On the delays the machine scheduled (the target: jitter's own spread), and as observed. */
    busiestWindow: { share: scheduled / n, observedShare: observed / n },
    loopDelayMs,
    /** `supervisor.stop()` with N active breaker actors, each half-open with a pending timer. */
    stopMs,
  };
  log(
    `  ${label}: opened ${n} in ${openingMs.toFixed(0)} ms; lateness p99 ${result.latenessMs.p99} ms; ` +
      `busiest ${WINDOW_MS} ms: ${(result.busiestWindow.share * 100).toFixed(1)}%` +
      `; stop() ${stopMs.toFixed(0)} ms`,
  );
  return result;
}

export async function run({ budget, log }) {
  const idle = await idleLoopDelay(1000);
  log(`  idle event-loop delay (1 s, nothing running): p99 ${idle.p99.toFixed(1)} ms, max ${idle.max.toFixed(1)} ms`);
  const scenarios = [];
  for (const name of budget.timerScenarios) {
    scenarios.push(await scenario(name, budget.timerCircuits, log));
  }
  return { idleLoopDelayMs: idle, scenarios };
}
