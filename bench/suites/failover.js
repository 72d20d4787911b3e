/**
 * Section 2, failover: the first-priority agent is open and skipped; or it fails once per task
 * (its threshold is out of reach, so it never trips) and the task goes on to the next agent.
 */
import { breakerbox } from '../lib/breakerbox.js';
import { failAsync, noop, STAYS_OPEN, swallow } from '../lib/work.js';

const { createSupervisor } = breakerbox;

export async function setup() {
  const skip = createSupervisor({
    agents: [
      { id: 'first', run: failAsync },
      { id: 'second', run: noop },
      { id: 'third', run: noop },
    ],
    breaker: STAYS_OPEN,
  });
  await skip.route(1).catch(swallow); // first fails once → open for an hour; second serves
  if (skip.getAgent('first').state !== 'open') throw new Error('failover setup: the first agent did not open');

  const failOnce = createSupervisor({
    agents: [
      { id: 'first', run: failAsync, breaker: { failureThreshold: 1e9 } },
      { id: 'second', run: noop },
      { id: 'third', run: noop },
    ],
  });
  await failOnce.route(1); // activates the first agent's actor before measuring

  return {
    cases: [
      { id: 'failover-open', name: 'route, first agent open (skipped)', fn: () => skip.route(1) },
      { id: 'failover-fail', name: 'route, first agent fails once, second serves', fn: () => failOnce.route(1) },
    ].map((c) => ({ ...c, section: 'failover' })),
    async teardown() {
      await Promise.all([skip.stop({ drainMs: 0 }), failOnce.stop({ drainMs: 0 })]);
    },
  };
}
