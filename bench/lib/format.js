/** Plain-text tables and human units for the console report. */

export function ns(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (value < 1_000) return `${value.toFixed(0)} ns`;
  if (value < 1_000_000) return `${(value / 1_000).toFixed(2)} µs`;
  return `${(value / 1_000_000).toFixed(2)} ms`;
}

export function ms(value, digits = 1) {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : `${value.toFixed(digits)} ms`;
}

export function bytes(value) {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : `${Math.round(value)} B`;
}

export function pct(value, digits = 1) {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : `${(value * 100).toFixed(digits)}%`;
}

export function ratio(value) {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : `${value.toFixed(2)}×`;
}

/** A table: first column left-aligned, the rest right-aligned; `rows` are arrays of strings. */
export function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
