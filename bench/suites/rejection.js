/**
 * Section 3, rejection: nothing may run. Every agent open (`AllAgentsFailedError`), a single open
 * breaker (`CircuitOpenError`), and the peers' open-circuit rejections. Each case ends the rejected
 * promise with the same no-op handler.
 */
import { breakerbox } from '../lib/breakerbox.js';
import { CockatielOpenError, cockatielBreaker, opossumBreaker } from '../lib/peers.js';
import { failAsync, HOUR_MS, noop, STAYS_OPEN, swallow } from '../lib/work.js';

const { AllAgentsFailedError, CircuitOpenError, createCircuitBreaker, createSupervisor } = breakerbox;

async function expectRejection(promise, check, what) {
  const error = await promise.then(
    () => undefined,
    (e) => e,
  );
  if (!check(error)) throw new Error(`rejection setup: ${what} did not reject as expected (got ${error})`);
}

export async function setup() {
  const allOpen = createSupervisor({
    agents: ['a', 'b', 'c'].map((id) => ({ id, run: failAsync })),
    breaker: STAYS_OPEN,
  });
  await allOpen.route(1).catch(swallow); // a, b and c fail once each → all open
  if (allOpen.getHealthStatus().openCircuits !== 3) throw new Error('rejection setup: not every agent opened');
  await expectRejection(allOpen.route(1), (e) => e instanceof AllAgentsFailedError, 'all-open route');

  const breaker = createCircuitBreaker({ id: 'bench-open', ...STAYS_OPEN });
  await breaker.execute(failAsync).catch(swallow);
  await expectRejection(breaker.execute(noop), (e) => e instanceof CircuitOpenError, 'open breaker');

  const cockatiel = cockatielBreaker({ halfOpenAfter: HOUR_MS });
  for (let i = 0; i < 5; i++) await cockatiel.execute(failAsync).catch(swallow);
  await expectRejection(cockatiel.execute(noop), (e) => e instanceof CockatielOpenError, 'cockatiel');

  const opossum = opossumBreaker(noop, { timeout: false, resetTimeout: HOUR_MS });
  opossum.open();
  await expectRejection(opossum.fire(), (e) => e?.code === 'EOPENBREAKER', 'opossum');

  return {
    cases: [
      {
        id: 'reject-all-open',
        name: 'route, every agent open → AllAgentsFailedError',
        fn: () => allOpen.route(1).then(undefined, swallow),
      },
      {
        id: 'reject-breaker',
        name: 'breaker.execute, open → CircuitOpenError',
        fn: () => breaker.execute(noop).then(undefined, swallow),
      },
      {
        id: 'reject-cockatiel',
        name: 'cockatiel execute, open → BrokenCircuitError',
        fn: () => cockatiel.execute(noop).then(undefined, swallow),
      },
      {
        id: 'reject-opossum',
        name: 'opossum fire, open → EOPENBREAKER',
        fn: () => opossum.fire().then(undefined, swallow),
      },
    ].map((c) => ({ ...c, section: 'rejection' })),
    async teardown() {
      opossum.shutdown();
      breaker.stop();
      await allOpen.stop({ drainMs: 0 });
    },
  };
}
