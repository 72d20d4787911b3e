/**
 * Every breaker actor active (`eagerActors: true`, what inspection forces): 10,000 agents, time
 * until ready, heap per agent, and a healthy routed call for comparison with the virtual default.
 */
import { measureFn } from '../lib/micro.js';
import { agentSpecs, createMeasured, readyMs } from '../lib/readiness.js';
import { noop } from '../lib/work.js';

export const EAGER_AGENTS = 10_000;

export async function run({ budget, log }) {
  const measured = createMeasured({ agents: agentSpecs(EAGER_AGENTS, noop), eagerActors: true });
  const { supervisor, wallMs, cpuMs, heapPerAgent } = measured;
  const fn = () => supervisor.route(1);
  await measureFn(fn, budget.warmupMs, budget.clock);
  const routeNs = await measureFn(fn, budget.minCpuMs, budget.clock);
  await supervisor.stop({ drainMs: 0 });
  log(
    `  ${EAGER_AGENTS} agents, every actor active: ready ${wallMs.toFixed(0)} ms wall, ${cpuMs.toFixed(0)} ms CPU, ` +
      `${heapPerAgent.toFixed(0)} B/agent`,
  );
  return {
    agents: EAGER_AGENTS,
    readyMs: readyMs(measured, budget.clock),
    readyWallMs: wallMs,
    readyCpuMs: cpuMs,
    heapPerAgent,
    routeNs,
  };
}
