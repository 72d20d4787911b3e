/** Command-line flags of `npm run bench`: `--quick`, `--only=healthy,scale`, `--out=path`. */

export const SECTIONS = ['healthy', 'failover', 'rejection', 'observability', 'scale', 'eager', 'timers'];

export function parseArgs(argv) {
  const flags = { quick: false, only: SECTIONS, out: 'bench/results/latest.json', clock: 'cpu' };
  for (const arg of argv) {
    if (arg === '--quick') flags.quick = true;
    else if (arg.startsWith('--only=')) flags.only = arg.slice('--only='.length).split(',').filter(Boolean);
    else if (arg.startsWith('--out=')) flags.out = arg.slice('--out='.length);
    else if (arg === '--clock=cpu' || arg === '--clock=wall') flags.clock = arg.slice('--clock='.length);
    else if (arg === '--help' || arg === '-h') flags.help = true;
    else
      throw new Error(
        `Unknown flag ${arg} (known: --quick, --only=${SECTIONS.join(',')}, --clock=cpu|wall, --out=path)`,
      );
  }
  for (const name of flags.only) {
    if (!SECTIONS.includes(name)) throw new Error(`Unknown section ${name} (known: ${SECTIONS.join(', ')})`);
  }
  return flags;
}

/** How hard each part works: the full run takes ~2 minutes on 2 cores, `--quick` under a minute. */
export function budget(quick) {
  return quick
    ? {
        rounds: 5,
        minCpuMs: 20,
        warmupMs: 20,
        scaleSizes: [10, 1000, 10000, 100000],
        scaleReps: 1,
        openAt: 10000,
        timerCircuits: 1000,
        timerScenarios: ['none', 'full'],
      }
    : {
        rounds: 15,
        minCpuMs: 100,
        warmupMs: 100,
        scaleSizes: [10, 1000, 10000, 100000],
        scaleReps: 3,
        openAt: 100000,
        timerCircuits: 10000,
        timerScenarios: ['none', 'full', 'full-5s'],
      };
}
