/**
 * Backoff arithmetic for the open state: pure functions of the policy and a pseudo-random state
 * kept in the machine's context, so the machine stays deterministic and replayable.
 */
import type { BackoffOptions } from './breakerOptions.js';

type Backoff = Required<BackoffOptions>;

/** The backoff after one more failed recovery: ×multiplier, capped at maxMs. */
export function growBackoff(currentMs: number, backoff: Backoff): number {
  return Math.min(currentMs * backoff.multiplier, backoff.maxMs);
}

/** The jitter's starting state for one agent: `jitterSeed` mixed with an FNV-1a hash of its id. */
export function seedFor(jitterSeed: number, agentId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < agentId.length; i++) {
    hash ^= agentId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash ^ jitterSeed) | 0;
}

/** mulberry32: one step of a small, fast, well-distributed 32-bit generator. */
export function nextRandom(state: number): { value: number; state: number } {
  const s = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(s ^ (s >>> 15), 1 | s);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return { value: ((t ^ (t >>> 14)) >>> 0) / 4294967296, state: s };
}

/** A seeded `() => number` in [0, 1) on the same generator: for demos, tests and benchmarks. */
export function seededRandom(seed: number): () => number {
  let state = seed | 0;
  return () => {
    const step = nextRandom(state);
    state = step.state;
    return step.value;
  };
}

/**
 * The actual open period for a backoff level, after jitter (AWS "Exponential Backoff and Jitter"):
 * - none: exactly `backoffMs`;
 * - full: uniform in [0, backoffMs];
 * - equal: uniform in [backoffMs/2, backoffMs];
 * - decorrelated: uniform in [initialMs, previousDelay × 3], capped at maxMs.
 */
export function jitteredDelay(
  backoffMs: number,
  previousDelayMs: number,
  backoff: Backoff,
  rngState: number,
): { delayMs: number; rngState: number } {
  if (backoff.jitter === 'none') return { delayMs: backoffMs, rngState };
  const { value, state } = nextRandom(rngState);
  let delayMs: number;
  switch (backoff.jitter) {
    case 'full':
      delayMs = value * backoffMs;
      break;
    case 'equal':
      delayMs = backoffMs / 2 + (value * backoffMs) / 2;
      break;
    case 'decorrelated': {
      const upper = Math.max(backoff.initialMs, previousDelayMs * 3);
      delayMs = Math.min(backoff.maxMs, backoff.initialMs + value * (upper - backoff.initialMs));
      break;
    }
  }
  return { delayMs: Math.round(delayMs), rngState: state };
}
