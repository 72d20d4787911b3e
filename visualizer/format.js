/** Small formatters shared by the views. */

/** `closed` → `closed`, `half_open` → `half-open`. */
export function stateLabel(state) {
  return String(state).replace('_', '-');
}

/** 1234 → `1,234`. */
export function count(n) {
  return Number(n).toLocaleString('en-US');
}

/** 0.1234 → `12.3%`. */
export function percent(rate) {
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;
}

/** Milliseconds → `1.2 s` / `45 s` / `2 min`. */
export function duration(ms) {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** ISO-8601 → `12:34:56.789` (local time), or the text as it came when it does not parse. */
export function clockTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
