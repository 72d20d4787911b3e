/**
 * Section 4, scale: supervisors of 10 … 100,000 agents. For each size: time until ready and heap
 * per agent (median of `scaleReps` fresh supervisors), then the cost of a routed call with every
 * agent closed and with the first half in priority order isolated (`supervisor.isolate`, the worst
 * case for a selector that scans past unroutable agents). The target ratio (10,000 agents half open
 * against a fresh supervisor of 10 healthy agents) is measured again at the end, the two interleaved.
 * For comparison, the heap of 10,000 bare cockatiel breakers.
 */
import { breakerbox } from '../lib/breakerbox.js';
import { settledHeap } from '../lib/heap.js';
import { measureFn, runMicro } from '../lib/micro.js';
import { cockatielBreaker } from '../lib/peers.js';
import { agentSpecs, createMeasured, readyMs } from '../lib/readiness.js';
import { median } from '../lib/stats.js';
import { noop } from '../lib/work.js';

/** A routed call's cost on this supervisor, after a short warm-up pass of the same loop. */
async function routeNs(supervisor, budget) {
  const fn = () => supervisor.route(1);
  await measureFn(fn, budget.warmupMs, budget.clock);
  return measureFn(fn, budget.minCpuMs, budget.clock);
}

function cockatielHeapPerBreaker(n) {
  const held = new Array(n);
  const before = settledHeap();
  for (let i = 0; i < n; i++) held[i] = cockatielBreaker();
  const after = settledHeap();
  held.length = 0;
  return (after - before) / n;
}

export async function run({ budget, log }) {
  const rows = [];
  let large;
  for (const n of budget.scaleSizes) {
    const agents = agentSpecs(n, noop);
    const ready = [];
    const wall = [];
    const cpu = [];
    const heap = [];
    let supervisor;
    for (let rep = 0; rep < budget.scaleReps; rep++) {
      if (supervisor) await supervisor.stop({ drainMs: 0 });
      supervisor = undefined;
      const measured = createMeasured({ agents });
      supervisor = measured.supervisor;
      ready.push(readyMs(measured, budget.clock));
      wall.push(measured.wallMs);
      cpu.push(measured.cpuMs);
      heap.push(measured.heapPerAgent);
    }
    const row = {
      agents: n,
      readyMs: median(ready),
      readyWallMs: median(wall),
      readyCpuMs: median(cpu),
      readyRuns: ready,
      heapPerAgent: median(heap),
    };
    row.routeNs = await routeNs(supervisor, budget);
    if (n <= budget.openAt) {
      const half = Math.floor(n / 2);
      const t0 = performance.now();
      for (let i = 0; i < half; i++) supervisor.isolate(`agent-${i}`);
      row.openHalfMs = performance.now() - t0;
      const health = supervisor.getHealthStatus();
      if (health.isolatedCircuits !== half) throw new Error(`scale: ${health.isolatedCircuits} isolated, not ${half}`);
      row.routeHalfOpenNs = await routeNs(supervisor, budget);
    } else {
      row.routeHalfOpenNs = null;
      row.skipped = `50% open skipped above ${budget.openAt} agents (opening them is slow: see openHalfMs)`;
    }
    log(
      `  ${n} agents: ready ${row.readyWallMs.toFixed(1)} ms wall, ${row.readyCpuMs.toFixed(1)} ms CPU, ` +
        `${row.heapPerAgent.toFixed(0)} B/agent` +
        (row.openHalfMs === undefined ? '' : `, opening half took ${row.openHalfMs.toFixed(0)} ms`),
    );
    rows.push(row);
    if (n === 10_000 && row.routeHalfOpenNs !== null) large = supervisor;
    else await supervisor.stop({ drainMs: 0 });
  }

  let pair = null;
  if (large) {
    const small = breakerbox.createSupervisor({ agents: agentSpecs(10, noop) });
    const results = await runMicro(
      [
        { id: 'scale-10', section: 'scale', name: 'route, 10 agents, 0% open', fn: () => small.route(1) },
        {
          id: 'scale-10k-half',
          section: 'scale',
          name: 'route, 10,000 agents, 50% open',
          fn: () => large.route(1),
        },
      ],
      budget,
    );
    pair = Object.fromEntries(results.map((r) => [r.id, r]));
    await Promise.all([small.stop({ drainMs: 0 }), large.stop({ drainMs: 0 })]);
  }

  const cockatielHeap = cockatielHeapPerBreaker(10_000);
  log(`  10,000 cockatiel breakers: ${cockatielHeap.toFixed(0)} B each`);
  return { rows, pair, cockatielHeapPerBreaker: cockatielHeap };
}
