/** Heap readings after a full collection (`node --expose-gc`); without it, heap figures are null. */

export const canMeasureHeap = typeof globalThis.gc === 'function';

/** Live heap in bytes after forcing two full collections (the second catches weak/finalized leftovers). */
export function settledHeap() {
  if (!canMeasureHeap) return Number.NaN;
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}
