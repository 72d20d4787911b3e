/** Small statistics: median, percentiles (nearest rank) and the busiest fixed-width window. */

export function median(values) {
  return percentile(values, 0.5);
}

/** Nearest-rank percentile of `values` (not modified), `q` in [0, 1]. */
export function percentile(values, q) {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil(q * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** The largest number of `values` inside any half-open window [x, x + width). */
export function busiestWindow(values, width) {
  const sorted = Float64Array.from(values).sort();
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi] - sorted[lo] >= width) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** (max − min) / median of a set of repeated measurements: how much rounds disagreed. */
export function spread(values) {
  if (values.length < 2) return 0;
  return (Math.max(...values) - Math.min(...values)) / median(values);
}

/**
 * The median over rounds of `f(the values of ids in that round)`: the cases of one micro-benchmark
 * round were measured close together in time, so their ratio is steadier than a ratio of medians.
 * Null when a case is missing.
 */
export function pairedRatio(results, ids, f) {
  if (!results || !ids.every((id) => results[id])) return null;
  const n = Math.min(...ids.map((id) => results[id].rounds.length));
  const values = [];
  for (let r = 0; r < n; r++) values.push(f(...ids.map((id) => results[id].rounds[r])));
  return median(values);
}
