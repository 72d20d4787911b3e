/** The README's quick start runs as written, against the built package, in a plain Node process. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(`${root}/README.md`, 'utf8');

/** The fenced `js` blocks that import the package: each must run as a module. */
const examples = [...readme.matchAll(/```js\n([\s\S]*?)```/g)]
  .map((m) => m[1] as string)
  .filter((code) => code.includes("from 'breakerbox"));

describe('README examples', () => {
  it('has a quick start', () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(examples.map((code, i) => [i, code] as const))('example %i runs as written', (_i, code) => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(out.length).toBeGreaterThan(0);
  });
});
