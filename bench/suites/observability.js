/**
 * Section 6, observability cost: a healthy routed call with nobody watching, with 3 subscribers on
 * `decisions$`, on `transitions$`, on both, with the HTTP handler mounted on a listening server,
 * and with one dashboard (an SSE client) connected while the case runs. Each case has its own
 * supervisor of 3 agents, priority policy.
 */
import { breakerbox } from '../lib/breakerbox.js';
import { closeServer, connectSse, listen } from '../lib/sse.js';
import { threeAgents } from './healthy.js';

const { createSupervisor, createDashboardHandler } = breakerbox;

export async function setup() {
  const supervisors = [];
  const subscriptions = [];
  const make = () => {
    const s = createSupervisor({ agents: threeAgents() });
    supervisors.push(s);
    return s;
  };
  const watch = (stream, count) => {
    for (let i = 0; i < count; i++) subscriptions.push(stream.subscribe(() => {}));
  };

  const quiet = make();
  const decisions = make();
  watch(decisions.decisions$, 3);
  const transitions = make();
  watch(transitions.transitions$, 3);
  const both = make();
  watch(both.decisions$, 3);
  watch(both.transitions$, 3);

  const cases = [
    { id: 'obs-none', name: 'route, 0 subscribers', fn: () => quiet.route(1) },
    { id: 'obs-decisions', name: 'route, 3 subscribers on decisions$', fn: () => decisions.route(1) },
    { id: 'obs-transitions', name: 'route, 3 subscribers on transitions$', fn: () => transitions.route(1) },
    { id: 'obs-both', name: 'route, 3 on decisions$ + 3 on transitions$', fn: () => both.route(1) },
  ];

  let http;
  let skipped;
  if (typeof createDashboardHandler === 'function') {
    const mounted = make();
    const handler = createDashboardHandler(mounted);
    const { server, url } = await listen(handler);
    let client;
    http = { handler, server };
    cases.push(
      { id: 'obs-http', name: 'route, HTTP handler mounted (no client)', fn: () => mounted.route(1) },
      {
        id: 'obs-http-sse',
        name: 'route, HTTP handler + 1 SSE dashboard client',
        fn: () => mounted.route(1),
        before: async () => {
          client = await connectSse(`${url}/api/circuit-breaker/events`);
        },
        after: () => client?.close(),
      },
    );
  } else {
    skipped = 'createDashboardHandler is not exported by dist/: HTTP cases skipped';
  }

  return {
    cases: cases.map((c) => ({ ...c, section: 'observability' })),
    skipped,
    async teardown() {
      for (const s of subscriptions) s.unsubscribe();
      if (http) {
        http.handler.close();
        await closeServer(http.server);
      }
      await Promise.all(supervisors.map((s) => s.stop({ drainMs: 0 })));
    },
  };
}
