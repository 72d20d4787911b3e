/**
 * Breakerbox as users install it: the built `dist/` through the package's own name (self-reference
 * via `exports`), never the TypeScript sources. Refuses to run against anything else.
 */
import { fileURLToPath } from 'node:url';

const resolved = fileURLToPath(import.meta.resolve('breakerbox'));
if (!/[/\\]dist[/\\]src[/\\]index\.js$/.test(resolved)) {
  throw new Error(`'breakerbox' resolved to ${resolved}, not the built dist/: run npm run build`);
}

export const breakerbox = await import('breakerbox');
export const breakerboxPath = resolved;
