/**
 * What a circuit's life allocates, garbage included, on the built dist/ (see bench/README.md):
 *
 *   node bench/profile/alloc.js [circuits=2000] [--top=20]
 *
 * N agents that fail synchronously (threshold 1, backoff 3 s) are opened one by one through
 * `route(0, { agents: [id] })`, then left to go half-open. Each phase runs under V8's sampling heap
 * profiler with objects collected by minor and major GCs kept (the inspector's
 * `HeapProfiler.startSampling` flags), so the figures are bytes allocated, not bytes retained:
 * what the young generation has to absorb, and what sets how often it is scavenged.
 *
 * Allocations made inside builtins (`new Set`, `Array.prototype.flatMap`…) are charged to the
 * JavaScript frame that called them, so the per-package totals say whose code asked for the bytes.
 * Sampling: one sample per 512 bytes on average; figures are per circuit.
 */
import { Session } from 'node:inspector/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { breakerbox } from '../lib/breakerbox.js';
import { failSync, swallow } from '../lib/work.js';
import { groupOf, where } from './frames.js';

const { createSupervisor } = breakerbox;
const args = process.argv.slice(2);
const circuits = Number(args.find((a) => !a.startsWith('--')) ?? 2000);
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 20);
if (!Number.isInteger(circuits) || circuits < 1 || !Number.isInteger(top) || top < 0) {
  throw new Error('usage: node bench/profile/alloc.js [circuits ≥ 1, default 2000] [--top=n ≥ 0, default 20]');
}
/** Longer than opening takes under the profiler, so no timer falls due while circuits open. */
const BACKOFF_MS = 3000;

/** Bytes per frame and per group; a builtin's bytes go to its nearest JavaScript caller. */
function summarize(profile) {
  const frames = new Map();
  const groups = new Map();
  let total = 0;
  const add = (map, key, bytes) => map.set(key, (map.get(key) ?? 0) + bytes);
  (function walk(node, caller) {
    const { functionName, url, lineNumber } = node.callFrame;
    const owner = url ? node.callFrame : caller;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const name = functionName || '(anonymous)';
      add(
        frames,
        url ? `${name}  ${where(url)}:${lineNumber + 1}` : `${name}  ← ${owner?.functionName || '?'}`,
        node.selfSize,
      );
      add(groups, owner ? groupOf(owner.url) : '(V8 / no caller)', node.selfSize);
    }
    for (const child of node.children) walk(child, owner);
  })(profile.head, undefined);
  return { total, frames, groups };
}

function report(label, { total, frames, groups }) {
  const perCircuit = (bytes) => `${(bytes / circuits).toFixed(0).padStart(7)} B`;
  console.log(`\n${label}: ${perCircuit(total).trim()} allocated per circuit`);
  console.log('  by package or file (builtins charged to their caller)');
  for (const [name, bytes] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 10)) {
    if (bytes < circuits) continue; // under 1 B per circuit
    console.log(`  ${perCircuit(bytes)}  ${((bytes / total) * 100).toFixed(0).padStart(3)}%  ${name}`);
  }
  console.log(`  top ${top} frames by self allocation`);
  for (const [name, bytes] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${perCircuit(bytes)}  ${name}`);
  }
}

const session = new Session();
session.connect();
const sample = async (phase) => {
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMinorGC: true,
    includeObjectsCollectedByMajorGC: true,
  });
  await phase();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  return summarize(profile);
};

const supervisor = createSupervisor({
  agents: Array.from({ length: circuits }, (_, i) => ({ id: `agent-${i}`, run: failSync })),
  routing: { maxAttempts: 1 },
  breaker: { failureThreshold: 1, backoff: { initialMs: BACKOFF_MS } },
});
// Polled rather than followed on transitions$, whose subscription would add its own allocation.
const allHalfOpen = async () => {
  while (supervisor.getHealthStatus().halfOpenCircuits < circuits) await sleep(BACKOFF_MS / 10);
};
const opening = await sample(async () => {
  for (let i = 0; i < circuits; i++) supervisor.route(0, { agents: [`agent-${i}`] }).catch(swallow);
  await sleep(0);
});
const { openCircuits } = supervisor.getHealthStatus();
if (openCircuits !== circuits) throw new Error(`alloc: ${openCircuits} of ${circuits} circuits open after opening`);
const halfOpening = await sample(allHalfOpen);
const { halfOpenCircuits } = supervisor.getHealthStatus();
await supervisor.stop({ drainMs: 0 });
session.disconnect();
if (halfOpenCircuits !== circuits) throw new Error(`alloc: ${halfOpenCircuits} of ${circuits} circuits went half-open`);

console.log(`${circuits} circuits, sampled allocations (garbage included)`);
report('closed → open (route, failure, activation of the breaker actor, transition)', opening);
report('open → half_open (the backoff timer and its transition)', halfOpening);
