/**
 * Interleaved micro-benchmarks on mitata's measurement loop.
 *
 * Every case is an async function of no arguments; mitata awaits it in batches and reports the
 * mean per call of each batch (GC included, since allocation is part of the cost). A batch is up
 * to ~2 ms of work (64–4,096 calls; 4,096 for any case under ~490 ns), so a clock read is noise
 * and a slow case still gets many batches. A shared machine drifts, so no case is measured in one
 * block: after a warm-up pass over every case (every call site has seen every shape before anything
 * is recorded), `rounds` short passes run every case once each, in a rotated and alternately
 * reversed order (neighbours stay neighbours), and a case's figure is the median of its per-round
 * means. Ratios between cases are taken per round, then the median (`pairedRatio` in lib/stats.js). Time is CPU
 * time by default (lib/clock.js).
 */
import { measure } from 'mitata';
import { CLOCKS } from './clock.js';
import { median, spread } from './stats.js';

const BATCH_NS = 2e6;

/** Calls per batch for a case of about `ns` per call: a power of two in [64, 4096]. */
export function batchFor(ns) {
  if (!(ns > 0)) return 4096;
  return 2 ** Math.min(12, Math.max(6, Math.floor(Math.log2(BATCH_NS / ns))));
}

/** Unmeasured calls between the full GC and a measurement (on the run's clock): time to recompile. */
const REWARM_MS = 50;

/**
 * One mitata measurement of `fn`: mean ns per call over batches, for at least `minMs` of `clock`.
 * It starts on a clean heap, then re-warms: a full GC while no instance of a class is alive lets V8
 * drop the class's maps and deoptimize the code compiled against them ("weak objects"), and a
 * measurement taken straight after it timed the recompilation (bench/README.md, How it measures).
 */
export async function measureFn(fn, minMs, clock = 'cpu', batch = 4096) {
  globalThis.gc?.();
  const now = CLOCKS[clock];
  for (const until = now() + REWARM_MS * 1e6; now() < until; ) {
    for (let i = 0; i < 64; i++) await fn();
  }
  const stats = await measure(fn, { gc: false, min_cpu_time: minMs * 1e6, now: CLOCKS[clock], batch_samples: batch });
  return stats.avg;
}

async function measureOnce(c, minMs, clock, batch) {
  await c.before?.();
  try {
    return await measureFn(c.fn, minMs, clock, batch);
  } finally {
    await c.after?.();
  }
}

function orderFor(cases, round) {
  const n = cases.length;
  const shift = (round * Math.max(1, Math.floor(n / 3))) % n;
  const rotated = cases.slice(shift).concat(cases.slice(0, shift));
  return round % 2 === 1 ? rotated.reverse() : rotated;
}

/**
 * @param cases `{ id, section, name, fn, before?, after? }`
 * @returns per case `{ id, section, name, ns, rounds: number[], spread, batch }`
 */
export async function runMicro(cases, { rounds, minCpuMs, warmupMs, clock, onProgress }) {
  const batch = new Map();
  for (const c of cases) batch.set(c.id, batchFor(await measureOnce(c, warmupMs, clock, 4096)));
  const perRound = new Map(cases.map((c) => [c.id, []]));
  for (let round = 0; round < rounds; round++) {
    for (const c of orderFor(cases, round)) {
      perRound.get(c.id).push(await measureOnce(c, minCpuMs, clock, batch.get(c.id)));
    }
    onProgress?.(round + 1, rounds);
  }
  return cases.map((c) => {
    const values = perRound.get(c.id);
    return {
      id: c.id,
      section: c.section,
      name: c.name,
      ns: median(values),
      rounds: values,
      spread: spread(values),
      batch: batch.get(c.id),
    };
  });
}
