/**
 * Reads a `.cpuprofile` (node --cpu-prof) and prints where the time went: the top frames by self
 * time, and self time grouped by file (Breakerbox's dist/ files, each package, Node internals, GC).
 *
 *   node bench/profile/top.js <file.cpuprofile> [--top=25] [--from=ms] [--to=ms] [--calls=n]
 *
 * `--from`/`--to` keep only samples in that window (ms after the profile started, ≈ the process's
 * `performance.now()`); `--calls` adds each row's self time per call.
 */
import { readFileSync } from 'node:fs';
import { groupOf, where } from './frames.js';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const flag = (name, fallback) => {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3));
};
const top = flag('top', 25);
const fromUs = flag('from', 0) * 1000;
const toUs = flag('to', Number.POSITIVE_INFINITY) * 1000;
const calls = flag('calls', 0);
if (!file)
  throw new Error('usage: node bench/profile/top.js <file.cpuprofile> [--top=25] [--from=ms] [--to=ms] [--calls=n]');
const profile = JSON.parse(readFileSync(file, 'utf8'));

/** A frame's group: a dist/ file, a package, Node's internals or a V8 pseudo-frame. */
function group(frame) {
  if (!frame.url) return frame.functionName.startsWith('(') ? frame.functionName : '(native / builtin)';
  return groupOf(frame.url);
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
let at = 0;
let kept = 0;
for (let i = 0; i < profile.samples.length; i++) {
  at += profile.timeDeltas[i] ?? 0;
  if (at < fromUs || at > toUs) continue;
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  kept++;
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const frames = new Map();
const groups = new Map();
for (const [id, us] of selfUs) {
  const { callFrame } = byId.get(id);
  const name = callFrame.functionName || '(anonymous)';
  const key = `${name}  ${where(callFrame.url)}${callFrame.url ? `:${callFrame.lineNumber + 1}` : ''}`;
  frames.set(key, (frames.get(key) ?? 0) + us);
  const g = group(callFrame);
  groups.set(g, (groups.get(g) ?? 0) + us);
}

const show = (map, n) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(
      ([k, us]) =>
        `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms` +
        `${calls > 0 ? `  ${((us * 1000) / calls).toFixed(1).padStart(7)} ns/call` : ''}  ${k}`,
    )
    .join('\n');

console.log(
  `${file}: ${(total / 1000).toFixed(0)} ms in ${kept} samples` +
    `${calls > 0 ? `, ${calls} calls: ${((total * 1000) / calls).toFixed(0)} ns/call sampled` : ''}\n`,
);
console.log(`top ${top} frames by self time\n${show(frames, top)}\n`);
console.log(`self time by file or package\n${show(groups, 20)}`);
