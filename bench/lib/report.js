/** The console report: one table per section, then the targets with PASS / MISS. */
import { bytes, ms, ns, pct, ratio, table } from './format.js';
import { pairedRatio } from './stats.js';

export function microTable(micro) {
  const rows = Object.values(micro).map((r) => [
    `${r.section.padEnd(13)} ${r.name}`,
    ns(r.ns),
    pct(r.spread, 0),
    ratio(pairedRatio(micro, [r.id, 'raw'], (a, raw) => a / raw)),
    ns(pairedRatio(micro, [r.id, 'raw'], (a, raw) => a - raw)),
  ]);
  return table(['case (per call, median of rounds)', 'time', 'spread', '× raw', '− raw'], rows);
}

export function scaleTable(scale) {
  const rows = scale.rows.map((r) => [
    r.agents.toLocaleString('en-US'),
    ms(r.readyWallMs),
    ms(r.readyCpuMs),
    r.agents >= 1000 ? `${((r.readyMs * 1000) / r.agents).toFixed(2)} µs` : '—',
    bytes(r.heapPerAgent),
    ns(r.routeNs),
    ns(r.routeHalfOpenNs),
    r.openHalfMs === undefined ? '—' : ms(r.openHalfMs, 0),
  ]);
  let text = table(
    [
      'agents',
      'ready (wall)',
      'ready (CPU)',
      'per agent',
      'heap/agent',
      'route 0% open',
      'route 50% open',
      'opening 50%',
    ],
    rows,
  );
  if (scale.pair) {
    const a = scale.pair['scale-10'];
    const b = scale.pair['scale-10k-half'];
    const r = pairedRatio(scale.pair, [b.id, a.id], (x, y) => x / y);
    text += `\ninterleaved: route 10 agents ${ns(a.ns)} vs 10,000 agents 50% open ${ns(b.ns)} (${ratio(r)})`;
  }
  text += `\n10,000 bare cockatiel breakers: ${bytes(scale.cockatielHeapPerBreaker)} heap each`;
  return text;
}

export function eagerLine(eager) {
  return (
    `${eager.agents.toLocaleString('en-US')} agents, eagerActors: ready ${ms(eager.readyWallMs, 0)} wall, ` +
    `${ms(eager.readyCpuMs, 0)} CPU, ` +
    `${bytes(eager.heapPerAgent)} heap/agent, route ${ns(eager.routeNs)}`
  );
}

export function timersTable(timers) {
  const rows = timers.scenarios.map((t) => [
    t.label,
    t.circuits.toLocaleString('en-US'),
    ms(t.openingMs, 0),
    `${(t.openingBusyMsPerCircuit * 1000).toFixed(0)} µs`,
    ms(t.latenessMs.p50, 0),
    ms(t.latenessMs.p99, 0),
    ms(t.latenessMs.max, 0),
    `${pct(t.busiestWindow.share)} / ${pct(t.busiestWindow.observedShare)}`,
    `${ms(t.loopDelayMs.p99, 0)} / ${ms(t.loopDelayMs.max, 0)}`,
    ms(t.stopMs, 0),
  ]);
  const idle = timers.idleLoopDelayMs;
  return `${table(
    [
      'scenario',
      'circuits',
      'opening',
      'busy/open',
      'late p50',
      'late p99',
      'late max',
      'busiest 100 ms sched/obs',
      'loop delay p99/max',
      'stop()',
    ],
    rows,
  )}\nidle event-loop delay before the scenarios: p99 ${ms(idle.p99)}, max ${ms(idle.max)}`;
}

function showValue(t) {
  if (t.value === null) return '—';
  if (t.show === 'ms') return ms(t.value);
  if (t.show === 'bytes') return bytes(t.value);
  if (t.show === 'share') return pct(t.value);
  return ratio(t.value);
}

function showLimit(t) {
  if (t.show === 'ms') return `≤ ${t.limit} ms`;
  if (t.show === 'bytes') return `≤ ${t.limit} B`;
  if (t.show === 'share') return `≤ ${pct(t.limit, 0)}`;
  return `≤ ${t.limit}×`;
}

export function targetsTable(targets) {
  const rows = targets.map((t) => [t.text + (t.note ? ` (${t.note})` : ''), showValue(t), showLimit(t), t.verdict]);
  return table(['target', 'measured', 'limit', ''], rows);
}

/** The floors under the healthy-route target, on the target's scale (not targets themselves). */
export function floorsLine(floors) {
  const parts = floors.map((f) => `${f.text} ${ratio(f.value)}`);
  return `floors of (route − raw) / (cockatiel − raw), not targets: ${parts.join('; ')}`;
}
