/** `npm start` flags, parsed and validated (a wrong one is a `ConfigError` naming the flag). */
import { parseArgs } from 'node:util';
import { checkNumber } from '../src/common/validate.js';
import { ConfigError } from '../src/index.js';

export interface DemoOptions {
  /** Simulated agents in this process instead of agent processes. */
  inProcess: boolean;
  /** Dashboard port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Seconds to run, the scenario scaled to fit; 0 runs until Ctrl-C, the scenario repeating every minute. */
  durationSeconds: number;
  agents: number;
  /** Tasks routed per second. */
  rate: number;
  seed: number;
  help: boolean;
}

export const USAGE = `Usage: npm start -- [options]

Runs a real agent network on 127.0.0.1 with the Breakerbox supervisor routing tasks to it, a
scripted outage scenario (an agent process killed and restarted, one slow, one flapping) and the
live dashboard.

Options:
  --in-process     simulated agents in this process (no child processes)
  --port <n>       dashboard port on 127.0.0.1, 0 = any free port   (default 4400)
  --duration <s>   run this many seconds, the scenario scaled to fit; 0 = until Ctrl-C,
                   the scenario repeating every minute               (default 0)
  --agents <n>     number of agents, 2-50                            (default 6)
  --rate <n>       tasks per second, 1-2000                          (default 30)
  --seed <n>       seed of every random draw (latency, failures, jitter) (default 1)
  -h, --help       this text

Environment:
  BREAKERBOX_INSPECT=1    wire the Stately inspector (prints the URL to open)
  BREAKERBOX_TOKEN=<tok>  enable POST /api/agents/:id/isolate and /reset with this bearer token`;

/** Parses `argv` (without node and the script). Throws `ConfigError` for a bad flag. */
export function parseDemoOptions(argv: readonly string[]): DemoOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'in-process': { type: 'boolean' },
        port: { type: 'string' },
        duration: { type: 'string' },
        agents: { type: 'string' },
        rate: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new ConfigError('argv', argv.join(' '), `known flags (${(error as Error).message})`);
  }
  const number = (flag: string, fallback: number): number => {
    const raw = values[flag];
    if (raw === undefined) return fallback;
    const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (Number.isNaN(value)) throw new ConfigError(`--${flag}`, raw, 'a number');
    return value;
  };
  const options: DemoOptions = {
    inProcess: values['in-process'] === true,
    port: number('port', 4400),
    durationSeconds: number('duration', 0),
    agents: number('agents', 6),
    rate: number('rate', 30),
    seed: number('seed', 1),
    help: values.help === true,
  };
  checkNumber(options.port, '--port', { min: 0, max: 65_535, integer: true });
  checkNumber(options.durationSeconds, '--duration', { min: 0, max: 86_400 });
  if (options.durationSeconds > 0 && options.durationSeconds < 3) {
    throw new ConfigError('--duration', options.durationSeconds, '0 (until Ctrl-C) or at least 3 seconds');
  }
  checkNumber(options.agents, '--agents', { min: 2, max: 50, integer: true });
  checkNumber(options.rate, '--rate', { min: 1, max: 2000 });
  checkNumber(options.seed, '--seed', { min: 0, max: 2 ** 32 - 1, integer: true });
  return options;
}
