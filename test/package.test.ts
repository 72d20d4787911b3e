/**
 * The shape users install: the built `dist/` imported by the package's name, in a plain Node
 * process (self-reference through `exports`), not through vitest's resolver or TypeScript sources.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function runNode(source: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', source], { cwd: root, encoding: 'utf8' });
}

describe('the built package', () => {
  it('is importable by name, with the breaker working against real timers', () => {
    const out = runNode(`
      import { createCircuitBreaker, CircuitOpenError, ConfigError } from 'breakerbox';
      const breaker = createCircuitBreaker({ id: 'pkg', failureThreshold: 1 });
      await breaker.execute(async () => 1);
      await breaker.execute(async () => { throw new Error('x'); }).catch(() => {});
      const e = await breaker.execute(async () => 1).catch((e) => e);
      breaker.stop();
      let config = false;
      try { createCircuitBreaker({ nope: 1 }); } catch (err) { config = err instanceof ConfigError; }
      console.log(JSON.stringify({ state: breaker.state, open: e instanceof CircuitOpenError, config }));
    `);
    expect(JSON.parse(out)).toEqual({ state: 'open', open: true, config: true });
  });

  it('exposes breakerbox/testing and breakerbox/machines', () => {
    const out = runNode(`
      import * as testing from 'breakerbox/testing';
      import { circuitBreakerMachine } from 'breakerbox/machines';
      console.log(JSON.stringify({ testing: Object.keys(testing).sort(), machine: circuitBreakerMachine.id }));
    `);
    const parsed = JSON.parse(out) as { testing: string[]; machine: string };
    expect(parsed.machine).toBe('circuitBreaker');
    expect(parsed.testing).toContain('SimulatedClock');
  });

  it('ships type declarations for every export path', () => {
    const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as {
      exports: Record<string, { types?: string } | string>;
    };
    for (const [path, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      expect(existsSync(`${root}/${target.types}`), `${path} → ${target.types}`).toBe(true);
    }
  });

  it('does not ship the demo (npm start lives in demo/, outside the build)', () => {
    const [pack] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
    ) as [{ files: { path: string }[] }];
    const demo = pack.files.map((f) => f.path).filter((p) => /(^|\/)demo\//.test(p));
    // A dist/src/demo left over from a build before the move would ship: delete it.
    expect(demo).toEqual([]);
  });
});
