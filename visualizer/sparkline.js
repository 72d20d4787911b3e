/** A request-rate sparkline: calls per second between frames, the last `size` points. */
import { s } from './dom.js';

const WIDTH = 120;
const HEIGHT = 24;

export class RateHistory {
  constructor(size = 60) {
    this.size = size;
    // A full-width baseline from the start.
    this.points = new Array(size).fill(0);
    this.last = undefined;
  }

  /** Records the cumulative call count `calls` seen at `at` (ms). */
  record(calls, at) {
    if (this.last !== undefined && at > this.last.at) {
      const rate = Math.max(0, ((calls - this.last.calls) * 1000) / (at - this.last.at));
      this.points.push(rate);
      if (this.points.length > this.size) this.points.shift();
    }
    this.last = { calls, at };
  }

  /** Milliseconds since the last record, or Infinity. */
  sinceLast(now) {
    return this.last === undefined ? Number.POSITIVE_INFINITY : now - this.last.at;
  }

  /** The latest rate, calls per second. */
  get rate() {
    return this.points.length === 0 ? 0 : this.points[this.points.length - 1];
  }
}

/** An `<svg>` with one polyline; `draw(history)` redraws it. */
export function createSparkline() {
  const line = s('polyline', { fill: 'none', 'stroke-width': '1.5', class: 'spark-line' });
  const svg = s(
    'svg',
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'spark', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
    line,
  );
  return {
    element: svg,
    draw(history) {
      const points = history.points;
      if (points.length < 2) {
        line.setAttribute('points', '');
        return;
      }
      const max = Math.max(1, ...points);
      const step = WIDTH / (history.size - 1);
      const offset = WIDTH - step * (points.length - 1);
      const coords = points.map(
        (rate, i) => `${(offset + i * step).toFixed(1)},${(HEIGHT - 1 - (rate / max) * (HEIGHT - 2)).toFixed(1)}`,
      );
      line.setAttribute('points', coords.join(' '));
    },
  };
}
