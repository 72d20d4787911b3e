/**
 * `npm start`: a real agent network on loopback with the supervisor in front of it.
 *
 * Forks the agent processes (or simulates them with `--in-process`), routes a steady stream of
 * tasks to them, plays the outage scenario, serves the dashboard on 127.0.0.1 and shows a live
 * table in the terminal. Ends after `--duration` seconds, or on Ctrl-C, gracefully: tasks drain,
 * the server closes, every agent process is stopped and reaped.
 */
import { ConfigError, createSupervisor, type SupervisorOptions, serveDashboard } from '../src/index.js';
import { ProcessFleet } from './agentProcesses.js';
import { type DemoOptions, parseDemoOptions, USAGE } from './demoOptions.js';
import type { AgentFleet } from './fleet.js';
import { runScenario, scenarioSteps } from './scenario.js';
import { SimulatedFleet } from './simulatedAgents.js';
import { TerminalView } from './terminalView.js';
import { startTraffic } from './traffic.js';

/** The scenario's cycle when the demo runs until Ctrl-C. */
const ENDLESS_CYCLE_MS = 60_000;
/** An attempt slower than this is cut off (the slow agent's calls take 1.5 s). */
const ATTEMPT_TIMEOUT_MS = 500;

async function main(options: DemoOptions): Promise<number> {
  const out = process.stdout;
  const cycleMs = options.durationSeconds > 0 ? options.durationSeconds * 1000 : ENDLESS_CYCLE_MS;
  // Backoff and flapping scale with the run, so even a short run shows a full recovery.
  const maxBackoffMs = Math.min(60_000, Math.max(1000, cycleMs / 6));
  const flapPeriodMs = Math.max(3000, cycleMs / 10);
  let view: TerminalView | undefined;
  const log = (text: string) => (view ? view.event(text) : out.write(`${text}\n`));

  const fleet: AgentFleet = options.inProcess
    ? new SimulatedFleet(options.agents, options.seed, flapPeriodMs)
    : await ProcessFleet.start(options.agents, options.seed, flapPeriodMs);

  const inspect: SupervisorOptions['inspect'] =
    process.env.BREAKERBOX_INSPECT === '1'
      ? { port: options.port === 0 ? 0 : options.port + 1, onReady: (url) => log(`Stately inspector: open ${url}`) }
      : undefined;
  const supervisor = createSupervisor({
    agents: fleet.specs(),
    routing: { policy: 'round-robin', maxAttempts: 3, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS },
    breaker: {
      backoff: { initialMs: 1000, multiplier: 1.5, maxMs: maxBackoffMs, jitter: 'equal' },
      jitterSeed: options.seed,
    },
    ...(inspect ? { inspect } : {}),
  });

  let dashboard: Awaited<ReturnType<typeof serveDashboard>>;
  try {
    dashboard = await serveDashboard(supervisor, {
      port: options.port,
      ...(process.env.BREAKERBOX_TOKEN ? { token: process.env.BREAKERBOX_TOKEN } : {}),
    });
  } catch (error) {
    await supervisor.stop({ drainMs: 0 });
    await fleet.stop();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(`Port ${options.port} is taken: pass --port <another> (or --port 0 for any free one).\n`);
      return 1;
    }
    throw error;
  }

  const header = [
    `Breakerbox demo — ${options.agents} agents ${options.inProcess ? 'simulated in this process' : 'as processes on 127.0.0.1'}, ${options.rate} tasks/s, seed ${options.seed}`,
    `dashboard: ${dashboard.url}`,
    `api: ${dashboard.url}api/circuit-breaker/health · metrics: ${dashboard.url}metrics`,
    ...(fleet instanceof ProcessFleet ? fleet.describe().map((line) => `agent ${line}`) : []),
    options.durationSeconds > 0 ? `running for ${options.durationSeconds} s (Ctrl-C stops)` : 'Ctrl-C stops',
  ];
  view = new TerminalView(supervisor, { out, live: out.isTTY === true, header });
  view.start();

  const opened = new Map<string, number>();
  const closed = new Map<string, number>();
  const counting = supervisor.transitions$.subscribe((t) => {
    if (t.to === 'open') opened.set(t.agentId, (opened.get(t.agentId) ?? 0) + 1);
    if (t.to === 'closed') closed.set(t.agentId, (closed.get(t.agentId) ?? 0) + 1);
  });
  const traffic = startTraffic(supervisor, options.rate);
  const scenario = runScenario(fleet, scenarioSteps(fleet.ids), cycleMs, options.durationSeconds === 0, (text) =>
    log(`scenario ${text}`),
  );

  const reason = await new Promise<string>((resolve) => {
    const timer = options.durationSeconds > 0 ? setTimeout(() => resolve('duration reached'), cycleMs) : undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (timer) clearTimeout(timer);
      resolve(signal === 'SIGINT' ? 'Ctrl-C' : signal);
      // A second Ctrl-C does not wait.
      process.once('SIGINT', () => {
        process.stderr.write('\nforced exit\n');
        process.exit(130);
      });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });

  log(`stopping (${reason}): draining tasks, closing the dashboard, stopping agents`);
  scenario.stop();
  const trafficDone = traffic.stop();
  await supervisor.stop({ drainMs: 1000 });
  await trafficDone;
  counting.unsubscribe();
  await dashboard.close();
  await fleet.stop();

  const stats = supervisor.getStats();
  const left = fleet instanceof ProcessFleet ? fleet.livePids() : [];
  const circuits = [...opened.keys()].map((id) => `${id} opened ${opened.get(id)}× closed ${closed.get(id) ?? 0}×`);
  view.stop([
    `stopped: ${traffic.sent} tasks sent, ${stats.tasks.succeeded} succeeded, ${stats.tasks.failed} failed, ${stats.tasks.rejected} rejected, ${stats.failovers} failovers`,
    `circuits: ${circuits.length > 0 ? circuits.join('; ') : 'none opened'}`,
    left.length === 0 ? 'agent processes left: none' : `agent processes left: ${left.join(', ')}`,
  ]);
  return left.length === 0 ? 0 : 1;
}

let options: DemoOptions;
try {
  options = parseDemoOptions(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(`${USAGE}\n`);
} else {
  main(options).then(
    (code) => {
      process.exitCode = code;
      // Everything is closed; should a stray handle remain, do not hang the terminal on it.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (error: unknown) => {
      process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
