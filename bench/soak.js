/**
 * Soak (issue 7): routes 1,000,000 tasks through the built package (`dist/`, imported by name, as
 * users run it) with faulty agents and real timers, and reports heap growth. Target: ≤ 5 MB once
 * warm (bounded logs, no per-task leftovers). Not part of `npm test`: run `npm run soak`.
 *
 * Two supervisors. The main one takes untimed routes to the whole pool (the hot path), timed
 * routes (deadlines, some cut off by latency spikes), caller signals (a share aborted) and
 * `routeTask`; a fifth of its agents fail in assorted ways, so circuits open and recover on real
 * backoffs, while dashboard-style subscribers watch `health$`, `transitions$`, `failures$`. The
 * second has agents that hang (some honour the abort, some never settle) behind an
 * `attemptTimeoutMs`: an untimed task must never reach a hanging agent.
 *
 * Env: SOAK_TASKS (default 1,000,000), SOAK_TARGET_MB (default 5). Exit code 1 when a task is lost
 * or settles twice, or when heap growth exceeds the target.
 */
import { createSupervisor } from 'breakerbox';
import { seededRandom } from 'breakerbox/machines';

const TASKS = Number(process.env.SOAK_TASKS ?? 1_000_000);
const TARGET_MB = Number(process.env.SOAK_TARGET_MB ?? 5);
const WINDOW = 1000;
const WARMUP = Math.min(100_000, Math.floor(TASKS / 10));
const SAMPLE_EVERY = 100_000;
const AGENTS = 100;

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc (npm run soak does)');
  process.exit(2);
}

/** The same seeded generator as the breakers' jitter: the run is the same every time. */
const prng = seededRandom;
const rng = prng(2024);

const FROZEN = Object.freeze({ code: 'E_FROZEN' });
const KINDS = ['throwSync', 'rejectNonError', 'flap', 'spike'];
const agents = Array.from({ length: AGENTS }, (_, i) => {
  const id = `agent-${i}`;
  const kind = i % 5 === 0 ? KINDS[(i / 5) % KINDS.length] : 'healthy';
  let calls = 0;
  return {
    id,
    run: (task) => {
      calls++;
      const value = { n: task.n, by: id };
      switch (kind) {
        case 'throwSync':
          if (calls % 3 === 0) throw new Error(`${id}: sync`);
          break;
        case 'rejectNonError':
          if (calls % 3 === 0) return Promise.reject(calls % 2 ? undefined : FROZEN);
          break;
        case 'flap':
          if (Math.floor(Date.now() / 500) % 2 === 1) return Promise.reject(new Error(`${id}: flapping`));
          break;
        case 'spike':
          // Rare latency spikes, past the timed routes' deadline.
          if (calls % 500 === 0) return new Promise((resolve) => setTimeout(() => resolve(value), 30));
          break;
      }
      return calls % 4 === 0 ? value : Promise.resolve(value);
    },
  };
});
const hangers = Array.from({ length: 10 }, (_, i) => {
  const id = `hanger-${i}`;
  let calls = 0;
  return {
    id,
    run: (task, ctx) => {
      calls++;
      if (calls % 3 === 0) {
        const signal = ctx.signal;
        return new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        );
      }
      if (calls % 3 === 1) return new Promise(() => {});
      return Promise.resolve({ n: task.n, by: id });
    },
  };
});

const supervisor = createSupervisor({
  agents,
  routing: { policy: 'round-robin', maxAttempts: 3 },
  breaker: { failureThreshold: 5, backoff: { initialMs: 200, maxMs: 2000, jitter: 'full' } },
  onError: (error, where) => console.error('contained', where, error),
});
const timed = createSupervisor({
  agents: hangers,
  routing: { policy: 'least-outstanding', maxAttempts: 3, attemptTimeoutMs: 5 },
  breaker: { failureThreshold: 3, backoff: { initialMs: 100, maxMs: 1000 } },
  onError: (error, where) => console.error('contained', where, error),
});
const watchers = [
  supervisor.health$.subscribe(() => {}),
  supervisor.transitions$.subscribe(() => {}),
  supervisor.failures$.subscribe(() => {}),
];

const outcome = { resolved: 0, wrong: 0, failed: 0, aborted: 0, other: 0, settledTwice: 0 };
let settled = 0;
const ids = agents.map((a) => a.id);

function route(n) {
  const task = { n };
  const r = rng();
  let promise;
  let controller;
  if (r < 0.6) promise = supervisor.route(task);
  else if (r < 0.75) promise = supervisor.route(task, { timeoutMs: 20 });
  else if (r < 0.85) promise = timed.route(task);
  else if (r < 0.95) {
    controller = new AbortController();
    promise = supervisor.route(task, { signal: controller.signal });
  } else promise = supervisor.routeTask(`rt-${n}`, [ids[n % ids.length]], () => ({ n, by: 'rt' }));
  let count = 0;
  const done = promise.then(
    (value) => {
      if (++count > 1) outcome.settledTwice++;
      settled++;
      outcome.resolved++;
      if (value?.n !== n) outcome.wrong++;
    },
    (error) => {
      if (++count > 1) outcome.settledTwice++;
      settled++;
      if (error?.name === 'AllAgentsFailedError') outcome.failed++;
      else if (error?.name === 'TaskAbortedError') outcome.aborted++;
      else outcome.other++;
    },
  );
  // A share of the callers give up: at once (the task is still pending) or a moment later.
  if (controller && n % 10 === 0) controller.abort('caller gave up');
  else if (controller && n % 10 === 5) setImmediate(() => controller.abort('caller gave up'));
  return done;
}

async function heapMb() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const started = performance.now();
let baseline = 0;
const samples = [];
for (let n = 0; n < TASKS; ) {
  const batch = [];
  for (let i = 0; i < WINDOW && n < TASKS; i++) batch.push(route(n++));
  await Promise.all(batch);
  if (n === WARMUP) {
    baseline = await heapMb();
    samples.push({ tasks: n, heapMb: baseline });
  } else if (n > WARMUP && (n % SAMPLE_EVERY === 0 || n === TASKS)) {
    samples.push({ tasks: n, heapMb: await heapMb() });
  }
}
const wallS = (performance.now() - started) / 1000;
const final = await heapMb();
const growth = final - baseline;
const health = supervisor.getHealthStatus();
const stats = supervisor.getStats();
await Promise.all([supervisor.stop({ drainMs: 100 }), timed.stop({ drainMs: 100 })]);
for (const w of watchers) w.unsubscribe();

const lost = TASKS - settled;
console.log(
  `soak: ${TASKS.toLocaleString('en')} tasks over ${AGENTS} + ${hangers.length} agents in ${wallS.toFixed(1)} s`,
);
console.log(`  outcomes: ${JSON.stringify(outcome)}, lost ${lost}`);
console.log(
  `  routing events ${stats.routingEvents.toLocaleString('en')}, failovers ${stats.failovers.toLocaleString('en')}, open now ${health.openCircuits}, failure log ${supervisor.getRecentFailures(1e6).length}`,
);
console.log('  heap after GC (MB):');
for (const s of samples) console.log(`    ${String(s.tasks).padStart(9)} tasks  ${s.heapMb.toFixed(2)}`);
console.log(
  `  heap growth after warm-up (${WARMUP.toLocaleString('en')} tasks): ${growth.toFixed(2)} MB (target ≤ ${TARGET_MB} MB)`,
);
const ok =
  lost === 0 && outcome.settledTwice === 0 && outcome.wrong === 0 && outcome.other === 0 && growth <= TARGET_MB;
console.log(ok ? 'soak: OK' : 'soak: FAILED');
process.exitCode = ok ? 0 : 1;
