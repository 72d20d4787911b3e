/**
 * Names for profile frames, shared by top.js (CPU) and alloc.js (allocations): a script URL as a
 * path relative to the working directory, and the group a frame counts under.
 */
const root = process.cwd();

/** A frame's URL as a path relative to the working directory ('' for none). */
export function where(url) {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(root) ? path.slice(root.length + 1) : path;
}

/** A URL's group: a package, Node's internals, or the file itself (a dist/ or bench/ file). */
export function groupOf(url) {
  const path = where(url);
  const pkg = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1];
  if (path.startsWith('node:')) return 'node internals';
  return path;
}
