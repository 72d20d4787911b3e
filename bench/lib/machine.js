/** Where and when a run happened: Node, V8, CPU, cores, the commit and whether the tree was dirty. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

function git(args) {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/**
 * A fingerprint of the built JavaScript measured (dist/src and dist/machines): two runs with the
 * same fingerprint measured the same code, whatever the commit says about a shared working tree.
 */
export function distFingerprint(root = 'dist') {
  const hash = createHash('sha256');
  for (const dir of ['src', 'machines']) {
    const files = readdirSync(join(root, dir), { recursive: true })
      .filter((f) => String(f).endsWith('.js'))
      .sort();
    for (const f of files) hash.update(String(f)).update(readFileSync(join(root, dir, String(f))));
  }
  return hash.digest('hex').slice(0, 12);
}

/** 1, 5 and 15 minute load averages: above the core count, other processes competed for the CPU. */
export function loadAverage() {
  return os.loadavg().map((v) => Number(v.toFixed(2)));
}

export function describeMachine() {
  const cpus = os.cpus();
  const status = git(['status', '--porcelain', '--', 'src', 'machines']);
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    commit: git(['rev-parse', '--short', 'HEAD']),
    dist: distFingerprint(),
    /** src/ or machines/ had uncommitted changes: the numbers describe the working tree, not the commit. */
    dirty: status === null ? null : status.length > 0,
    gcExposed: typeof globalThis.gc === 'function',
    loadAverage: loadAverage(),
  };
}
