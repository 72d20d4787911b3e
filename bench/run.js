/**
 * `npm run bench [-- --quick] [-- --only=healthy,scale]`: builds dist/ (the npm script), then runs
 * every section in this one process, prints the tables and the targets, and writes the figures to
 * bench/results/latest.json. See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { budget, parseArgs, SECTIONS } from './lib/args.js';
import { breakerboxPath } from './lib/breakerbox.js';
import { canMeasureHeap } from './lib/heap.js';
import { describeMachine, loadAverage } from './lib/machine.js';
import { runMicro } from './lib/micro.js';
import { versions } from './lib/peers.js';
import { eagerLine, floorsLine, microTable, scaleTable, targetsTable, timersTable } from './lib/report.js';
import { evaluateTargets, healthyFloors } from './lib/targets.js';
import * as eagerSuite from './suites/eager.js';
import * as failoverSuite from './suites/failover.js';
import * as healthySuite from './suites/healthy.js';
import * as observabilitySuite from './suites/observability.js';
import * as rejectionSuite from './suites/rejection.js';
import * as scaleSuite from './suites/scale.js';
import * as timersSuite from './suites/timers.js';

const MICRO_SUITES = {
  healthy: healthySuite,
  failover: failoverSuite,
  rejection: rejectionSuite,
  observability: observabilitySuite,
};

const flags = parseArgs(process.argv.slice(2));
if (flags.help) {
  console.log(`usage: npm run bench -- [--quick] [--only=${SECTIONS.join(',')}] [--clock=cpu|wall] [--out=path]`);
  process.exit(0);
}
const b = { ...budget(flags.quick), clock: flags.clock };
const log = (line) => console.log(line);
const started = performance.now();
const machine = describeMachine();
log(`Breakerbox bench ${flags.quick ? '(quick)' : '(full)'} — ${machine.date}`);
log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}`);
log(
  `breakerbox: ${breakerboxPath} (dist ${machine.dist}, commit ${machine.commit}${machine.dirty ? ', uncommitted changes in src/ or machines/' : ''})`,
);
log(
  `peers: ${Object.entries(versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`,
);
log(`micro-benchmark clock: ${b.clock} time; load average at start ${machine.loadAverage.join(' ')}`);
if (!canMeasureHeap) log('warning: run with node --expose-gc (npm run bench does) — heap figures will be missing');

const result = { machine, quick: flags.quick, budget: b, breakerbox: breakerboxPath, versions, sections: flags.only };
const selected = (name) => flags.only.includes(name);
let sectionStarted = performance.now();
let currentSection;
result.sectionSeconds = {};
/** Prints a section header; records how long the previous section took. */
const section = (title, key) => {
  const now = performance.now();
  if (currentSection) result.sectionSeconds[currentSection] = (now - sectionStarted) / 1000;
  currentSection = key;
  sectionStarted = now;
  log(`\n── ${title} ${'─'.repeat(Math.max(0, 96 - title.length))}`);
};

// Sections 1, 2, 3 and 6: interleaved micro-benchmarks, one process, one run.
const setups = {};
for (const [name, suite] of Object.entries(MICRO_SUITES)) if (selected(name)) setups[name] = await suite.setup();
const cases = Object.values(setups).flatMap((s) => s.cases);
if (cases.length > 0) {
  section(`micro-benchmarks: ${cases.length} cases × ${b.rounds} rounds (sections 1, 2, 3, 6)`, 'micro');
  const micro = await runMicro(cases, { ...b, onProgress: (r, n) => log(`  round ${r}/${n} done`) });
  result.micro = Object.fromEntries(micro.map((r) => [r.id, r]));
  result.checks = setups.healthy?.checks();
  for (const [name, s] of Object.entries(setups)) {
    if (s.skipped) log(`  ${name}: ${s.skipped}`);
    await s.teardown();
  }
  result.skipped = Object.fromEntries(Object.entries(setups).flatMap(([k, s]) => (s.skipped ? [[k, s.skipped]] : [])));
  log('');
  log(microTable(result.micro));
}

if (selected('scale')) {
  section('4. Scale', 'scale');
  result.scale = await scaleSuite.run({ budget: b, log });
  log('');
  log(scaleTable(result.scale));
}
if (selected('eager')) {
  section('Every breaker actor active', 'eager');
  result.eager = await eagerSuite.run({ budget: b, log });
}
if (selected('timers')) {
  section('5. Timers', 'timers');
  result.timers = await timersSuite.run({ budget: b, log });
  log('');
  log(timersTable(result.timers));
}

result.targets = evaluateTargets({ ...result, fullSizes: budget(false) });
result.healthyFloors = result.micro ? healthyFloors(result.micro) : [];
section('Targets', undefined);
if (result.eager) log(eagerLine(result.eager));
log(targetsTable(result.targets));
if (result.healthyFloors.length > 0) log(floorsLine(result.healthyFloors));
const count = (v) => result.targets.filter((t) => t.verdict === v).length;
result.totalSeconds = (performance.now() - started) / 1000;
result.loadAverageAtEnd = loadAverage();
log(
  `\n${count('PASS')} PASS, ${count('MISS')} MISS, ${count('n/a')} n/a — bench ran ${result.totalSeconds.toFixed(1)} s` +
    ` (load average at end ${result.loadAverageAtEnd.join(' ')})\n` +
    `seconds per section: ${Object.entries(result.sectionSeconds)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ')}`,
);

mkdirSync(dirname(flags.out), { recursive: true });
writeFileSync(flags.out, `${JSON.stringify(result, null, 2)}\n`);
log(`figures written to ${flags.out}`);
// Peers' and Node's leftovers (keep-alive sockets, opossum's rolling windows) must not hold the run open.
process.exit(0);
