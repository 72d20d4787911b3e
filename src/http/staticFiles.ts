/**
 * The visualizer's files, served from the package's `visualizer/` folder. Only names listed there
 * when the handler is created are served (a fixed allow-list: no path is ever joined from a URL),
 * read once and kept in memory.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

export interface StaticFile {
  body: Buffer;
  type: string;
}

/** The `visualizer/` folder: next to `src/` in the sources, two levels above `dist/src/http/`. */
export function findVisualizerDir(): string {
  const candidates = ['../../visualizer/', '../../../visualizer/'].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  for (const dir of candidates) if (existsSync(`${dir}index.html`)) return dir;
  throw new Error(`visualizer/ not found (looked in ${candidates.join(', ')})`);
}

/** Loads every servable file of `dir` (flat: `name.html|js|css|svg`). */
export function loadStaticFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const match = /^[A-Za-z0-9_-]+\.(html|js|css|svg)$/.exec(name);
    if (match === null) continue;
    files.set(name, { body: readFileSync(`${dir}${name}`), type: TYPES[match[1] as string] as string });
  }
  return files;
}
