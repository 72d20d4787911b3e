/**
 * Time until a supervisor is ready (`createSupervisor` returns; it has no asynchronous start) and
 * the live heap it added, per agent. The agent specs are built beforehand and held, so neither the
 * time nor the heap includes them. Both clocks are read: wall time (what a user waits on an idle
 * machine) and this process's CPU time (the same work, without the time other processes took the
 * CPU away on a shared machine; it also counts V8's GC helper threads, so it can exceed wall time).
 */
import { breakerbox } from './breakerbox.js';
import { CLOCKS } from './clock.js';
import { settledHeap } from './heap.js';

export function agentSpecs(n, run) {
  return Array.from({ length: n }, (_, i) => ({ id: `agent-${i}`, run }));
}

/** Creates the supervisor once and measures it; returns the supervisor with the figures. */
export function createMeasured(options) {
  const n = options.agents.length;
  const before = settledHeap();
  const cpu0 = CLOCKS.cpu();
  const wall0 = CLOCKS.wall();
  const supervisor = breakerbox.createSupervisor(options);
  const wallMs = (CLOCKS.wall() - wall0) / 1e6;
  const cpuMs = (CLOCKS.cpu() - cpu0) / 1e6;
  const after = settledHeap();
  return { supervisor, wallMs, cpuMs, heapPerAgent: (after - before) / n };
}

/** The figure targets use: the run's clock (`--clock`, CPU time by default). */
export function readyMs(measured, clock) {
  return clock === 'wall' ? measured.wallMs : measured.cpuMs;
}
