/**
 * How a demo agent behaves: its latency, its share of failures, and the scenario's modes (slow,
 * flapping). Shared by the agent processes and the in-process simulation, so both tell one story.
 */

export type AgentMode = 'normal' | 'slow' | 'flap';

export interface AgentProfile {
  /** Typical latency, ms. */
  latencyMs: number;
  /** Added uniformly at random, 0…jitterMs. */
  jitterMs: number;
  /** Share of calls that fail (HTTP 503) in normal mode. */
  failureRate: number;
  mode: AgentMode;
  /** Flapping: the length of one healthy + failing cycle, ms. */
  flapPeriodMs: number;
}

/** Latency of a slow agent: well past the demo's attempt timeout. */
export const SLOW_LATENCY_MS = 1500;

/** A varied, mostly healthy fleet: agent i gets profile i mod the list. */
const FLEET: readonly Omit<AgentProfile, 'mode' | 'flapPeriodMs'>[] = [
  { latencyMs: 20, jitterMs: 20, failureRate: 0.0 },
  { latencyMs: 35, jitterMs: 30, failureRate: 0.01 },
  { latencyMs: 15, jitterMs: 10, failureRate: 0.0 },
  { latencyMs: 60, jitterMs: 40, failureRate: 0.02 },
  { latencyMs: 40, jitterMs: 25, failureRate: 0.01 },
  { latencyMs: 25, jitterMs: 50, failureRate: 0.0 },
];

export function fleetProfile(index: number, flapPeriodMs: number): AgentProfile {
  return { ...(FLEET[index % FLEET.length] as (typeof FLEET)[number]), mode: 'normal', flapPeriodMs };
}

/** A seeded PRNG, so `--seed` replays the same draws. */
export { seededRandom } from '../machines/backoff.js';

export interface Outcome {
  delayMs: number;
  /** Why the call fails, or null when it succeeds. */
  failure: string | null;
}

/** What one call does under `profile` at `now` (ms since the agent started). */
export function drawOutcome(profile: AgentProfile, random: () => number, now: number): Outcome {
  const base = profile.mode === 'slow' ? SLOW_LATENCY_MS : profile.latencyMs;
  const delayMs = base + random() * profile.jitterMs;
  if (profile.mode === 'flap') {
    // The first 60% of each cycle fails: long enough to trip, then long enough healthy to recover.
    const phase = (now % profile.flapPeriodMs) / profile.flapPeriodMs;
    if (phase < 0.6) return { delayMs: delayMs / 2, failure: 'HTTP 500: flapping' };
  }
  if (random() < profile.failureRate) return { delayMs, failure: 'HTTP 503: overloaded' };
  return { delayMs, failure: null };
}
