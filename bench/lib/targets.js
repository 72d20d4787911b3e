/**
 * The bench's targets, each a ratio or a bound computed from this run's figures only.
 * A target whose inputs were not measured (a section skipped) is reported as `n/a`, never PASS.
 * A ratio of micro-benchmarks is computed within each round (the cases measured close together in
 * time) and the median of those per-round ratios is the figure.
 */
import { POLICIES } from '../suites/healthy.js';
import { pairedRatio } from './stats.js';

function target(id, text, value, limit, show, extra = {}) {
  const measured = value !== null && value !== undefined && !Number.isNaN(value);
  return {
    id,
    text,
    value: measured ? value : null,
    limit,
    show,
    verdict: measured ? (value <= limit ? 'PASS' : 'MISS') : 'n/a',
    ...extra,
  };
}

export function evaluateTargets({ micro, checks, scale, eager, timers, fullSizes }) {
  const out = [];
  for (const policy of POLICIES) {
    const check = checks?.[`route-${policy}`];
    const recorded = check ? check.histogram > 0 && check.successful > 0 : undefined;
    const t = target(
      `healthy-${policy}`,
      `healthy route, ${policy}: (route − raw) / (cockatiel − raw) ≤ 0.5`,
      pairedRatio(micro, ['raw', 'cockatiel', `route-${policy}`], (raw, c, route) => (route - raw) / (c - raw)),
      0.5,
      'ratio',
      { recorded },
    );
    if (recorded === false) {
      t.verdict = 'MISS';
      t.note = 'latency histogram / counters not recorded';
    }
    out.push(t);
  }
  for (const policy of POLICIES) {
    out.push(
      target(
        `deadline-${policy}`,
        `deadline overhead, ${policy}: (route with attemptTimeoutMs − raw) / (route − raw) ≤ 1.5`,
        pairedRatio(
          micro,
          ['raw', `route-${policy}`, `route-${policy}-timeout`],
          (raw, route, timed) => (timed - raw) / (route - raw),
        ),
        1.5,
        'ratio',
      ),
    );
  }
  out.push(
    target(
      'failover-open',
      'failover past an open agent / healthy route ≤ 1.1',
      pairedRatio(micro, ['failover-open', 'route-priority'], (a, b) => a / b),
      1.1,
      'ratio',
    ),
    target(
      'reject-all-open',
      "all-open rejection / cockatiel's open rejection ≤ 0.07",
      pairedRatio(micro, ['reject-all-open', 'reject-cockatiel'], (a, b) => a / b),
      0.07,
      'ratio',
    ),
  );

  const size = (n) => scale?.rows.find((r) => r.agents === n);
  out.push(
    target('ready-10k', '10,000 agents ready ≤ 100 ms', size(10_000)?.readyMs, 100, 'ms'),
    target('heap-10k', '10,000 agents ≤ 1 KiB heap each', size(10_000)?.heapPerAgent, 1024, 'bytes'),
    target('ready-100k', '100,000 agents ready ≤ 1 s', size(100_000)?.readyMs, 1000, 'ms'),
    target(
      'ready-linear',
      'linear: ready(100k) / ready(10k) ≤ 15 (1.5 × linear)',
      size(100_000) && size(10_000) ? size(100_000).readyMs / size(10_000).readyMs : null,
      15,
      'ratio',
    ),
    target(
      'heap-linear',
      'linear: heap/agent at 100k / at 10k ≤ 1.5',
      size(100_000) && size(10_000) ? size(100_000).heapPerAgent / size(10_000).heapPerAgent : null,
      1.5,
      'ratio',
    ),
    target(
      'route-scale',
      'route 10,000 agents 50% open / 10 agents ≤ 1.2',
      pairedRatio(scale?.pair, ['scale-10k-half', 'scale-10'], (a, b) => a / b),
      1.2,
      'ratio',
    ),
  );

  for (const name of ['none', 'full']) {
    const t = timers?.scenarios.find((r) => r.scenario === name);
    out.push(
      target(
        `lateness-${name}`,
        `lateness p99 ≤ 5 ms, ${(t?.circuits ?? 10_000).toLocaleString('en-US')} open circuits, ${t?.label ?? name}`,
        t?.latenessMs.p99,
        5,
        'ms',
        t && t.circuits < fullSizes.timerCircuits ? { note: 'quick: fewer circuits' } : {},
      ),
    );
  }
  const full = timers?.scenarios.find((r) => r.scenario === 'full');
  const full5s = timers?.scenarios.find((r) => r.scenario === 'full-5s');
  out.push(
    target(
      'jitter-window',
      "jitter 'full', 1 s backoff: busiest 100 ms ≤ 5% of first probes",
      full?.busiestWindow.share,
      0.05,
      'share',
      // Ten 100 ms windows cover the 1 s a full jitter draws from: one holds ≥ 10%, whatever the draw.
      { note: 'floor 10% at 1 s' },
    ),
    target(
      'jitter-window-5s',
      "jitter 'full', 5 s backoff: busiest 100 ms ≤ 5% of first probes",
      full5s?.busiestWindow.share,
      0.05,
      'share',
    ),
    target('eager-10k', 'every actor active: 10,000 agents ready ≤ 1 s', eager?.readyMs, 1000, 'ms'),
  );
  return out;
}

/**
 * The floors under the healthy-route target, as the same ratio: what a `then` wrapper costs over
 * a raw await with shared handlers, and with handlers made per call (lib/floors.js). Not targets.
 */
export function healthyFloors(micro) {
  const share = (id) => pairedRatio(micro, ['raw', 'cockatiel', id], (raw, c, x) => (x - raw) / (c - raw));
  return [
    { id: 'floor-then', text: 'a then() with both handlers', value: share('floor-then') },
    { id: 'floor-timed', text: 'handlers made per call', value: share('floor-timed') },
  ].filter((f) => f.value !== null);
}
