/**
 * A steady loop of one call shape for `node --cpu-prof`, on the built dist/ (see bench/README.md):
 *
 *   node --cpu-prof --cpu-prof-dir=bench/results/profiles --cpu-prof-interval=50 \
 *     bench/profile/loop.js route 10
 *   node bench/profile/top.js bench/results/profiles/<file>.cpuprofile --from=… --to=… --calls=…
 *
 * It warms up for 1 s, then loops for the given seconds and prints the exact top.js arguments that
 * restrict the report to the measured window and turn self time into nanoseconds per call.
 *
 * Shapes: `raw` (await an async no-op), `route` (supervisor.route, 3 healthy agents, priority),
 * `route-timeout` (the same with attemptTimeoutMs), `breaker` (createCircuitBreaker().execute),
 * `cockatiel`, `reject-all-open`, `failover-fail`, `decisions` (3 subscribers on decisions$).
 */
import { breakerbox } from '../lib/breakerbox.js';
import { distFingerprint } from '../lib/machine.js';
import { cockatielBreaker } from '../lib/peers.js';
import { failAsync, noop, STAYS_OPEN, swallow } from '../lib/work.js';
import { ATTEMPT_TIMEOUT_MS, threeAgents } from '../suites/healthy.js';

const { createCircuitBreaker, createSupervisor } = breakerbox;
const [shape = 'route', secondsArg = '10'] = process.argv.slice(2);
const agents = threeAgents;

async function subject() {
  switch (shape) {
    case 'raw':
      return { call: () => noop() };
    case 'route': {
      const s = createSupervisor({ agents: agents() });
      return { call: () => s.route(1), stop: () => s.stop() };
    }
    case 'route-timeout': {
      const s = createSupervisor({ agents: agents(), routing: { attemptTimeoutMs: ATTEMPT_TIMEOUT_MS } });
      return { call: () => s.route(1), stop: () => s.stop() };
    }
    case 'breaker': {
      const b = createCircuitBreaker();
      return { call: () => b.execute(noop), stop: () => b.stop() };
    }
    case 'cockatiel': {
      const c = cockatielBreaker();
      return { call: () => c.execute(noop) };
    }
    case 'reject-all-open': {
      const s = createSupervisor({ agents: agents().map((a) => ({ ...a, run: failAsync })), breaker: STAYS_OPEN });
      await s.route(1).catch(swallow);
      return { call: () => s.route(1).then(undefined, swallow), stop: () => s.stop() };
    }
    case 'failover-fail': {
      const list = agents();
      list[0] = { id: 'a', run: failAsync, breaker: { failureThreshold: 1e9 } };
      const s = createSupervisor({ agents: list });
      return { call: () => s.route(1), stop: () => s.stop() };
    }
    case 'decisions': {
      const s = createSupervisor({ agents: agents() });
      for (let i = 0; i < 3; i++) s.decisions$.subscribe(() => {});
      return { call: () => s.route(1), stop: () => s.stop() };
    }
    default:
      throw new Error(`unknown shape ${shape}`);
  }
}

async function loop(ms) {
  const until = performance.now() + ms;
  let calls = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 1000; i++) await call();
    calls += 1000;
  }
  return calls;
}

const { call, stop } = await subject();
await loop(1000); // warm-up: startup and compilation stay out of the window top.js reads
const from = performance.now();
const calls = await loop(Number(secondsArg) * 1000);
const to = performance.now();
await stop?.();
console.log(
  `${shape} (dist ${distFingerprint()}): ${calls} calls, ${(((to - from) * 1e6) / calls).toFixed(0)} ns/call wall (profiler on)\n` +
    `  node bench/profile/top.js <profile> --from=${Math.ceil(from)} --to=${Math.floor(to)} --calls=${calls}`,
);
