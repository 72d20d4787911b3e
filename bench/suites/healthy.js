/**
 * Section 1, healthy call: the floor (a raw await), the peers, the standalone breaker, what any
 * wrapper of route's shape pays before its bookkeeping (lib/floors.js), and the supervisor with 3
 * healthy agents under each policy, with and without a per-attempt timeout.
 */
import { breakerbox } from '../lib/breakerbox.js';
import { thenFloor, timedFloor } from '../lib/floors.js';
import { cockatielBreaker, opossumBreaker } from '../lib/peers.js';
import { noop } from '../lib/work.js';

const { createCircuitBreaker, createSupervisor } = breakerbox;
export const POLICIES = ['priority', 'round-robin', 'least-outstanding'];
export const ATTEMPT_TIMEOUT_MS = 10_000;

export function threeAgents() {
  return ['a', 'b', 'c'].map((id) => ({ id, run: noop }));
}

export async function setup() {
  const cockatiel = cockatielBreaker();
  const opossumNoTimeout = opossumBreaker(noop, { timeout: false });
  const opossumDefault = opossumBreaker(noop);
  const breaker = createCircuitBreaker({ id: 'bench' });
  const supervisors = new Map();

  const cases = [
    { id: 'raw', name: 'raw await of an async no-op', fn: () => noop() },
    { id: 'cockatiel', name: 'cockatiel execute (ConsecutiveBreaker 5)', fn: () => cockatiel.execute(noop) },
    { id: 'opossum', name: 'opossum fire (timeout: false)', fn: () => opossumNoTimeout.fire() },
    { id: 'opossum-timeout', name: 'opossum fire (default 10 s timeout)', fn: () => opossumDefault.fire() },
    { id: 'breaker', name: 'createCircuitBreaker().execute', fn: () => breaker.execute(noop) },
    { id: 'floor-then', name: 'floor: a then() with both handlers (lib/floors.js)', fn: thenFloor },
    { id: 'floor-timed', name: 'floor: a then() with handlers made per call', fn: timedFloor },
  ];
  for (const timeout of [false, true]) {
    for (const policy of POLICIES) {
      const routing = timeout ? { policy, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS } : { policy };
      const supervisor = createSupervisor({ agents: threeAgents(), routing });
      const id = `route-${policy}${timeout ? '-timeout' : ''}`;
      supervisors.set(id, supervisor);
      cases.push({
        id,
        name: `supervisor.route, 3 agents, ${policy}${timeout ? `, attemptTimeoutMs ${ATTEMPT_TIMEOUT_MS}` : ''}`,
        fn: () => supervisor.route(1),
      });
    }
  }

  return {
    cases: cases.map((c) => ({ ...c, section: 'healthy' })),
    /** The target holds only if the routed calls still fed the histogram and counters. */
    checks() {
      const out = {};
      for (const [id, supervisor] of supervisors) {
        const stats = supervisor.getStats();
        const histogram = stats.agents.reduce((sum, a) => sum + a.latency.count, 0);
        const successful = stats.agents.reduce((sum, a) => sum + a.successful, 0);
        out[id] = { tasks: stats.tasks.succeeded, histogram, successful, routingEvents: stats.routingEvents };
      }
      return out;
    },
    async teardown() {
      opossumNoTimeout.shutdown();
      opossumDefault.shutdown();
      breaker.stop();
      await Promise.all([...supervisors.values()].map((s) => s.stop({ drainMs: 0 })));
    },
  };
}
