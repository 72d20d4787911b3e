/**
 * What crosses the `<ns>:events` channel: a trip (with the `nextProbeAt` every instance waits for)
 * or a close, tagged with the sending instance so it ignores its own. Compact JSON, versioned;
 * anything else on the channel is ignored.
 */

export type SyncMessage =
  | { v: 1; k: 'trip'; a: string; n: number; t: number; i: string }
  | { v: 1; k: 'close'; a: string; t: number; i: string };

export function encodeTrip(agentId: string, nextProbeAt: number, at: number, instanceId: string): string {
  return JSON.stringify({ v: 1, k: 'trip', a: agentId, n: nextProbeAt, t: at, i: instanceId });
}

export function encodeClose(agentId: string, at: number, instanceId: string): string {
  return JSON.stringify({ v: 1, k: 'close', a: agentId, t: at, i: instanceId });
}

/** The message, or undefined for anything that is not one of ours. */
export function decodeMessage(raw: string): SyncMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  if (m.v !== 1 || typeof m.a !== 'string' || typeof m.i !== 'string' || !Number.isFinite(m.t)) return undefined;
  if (m.k === 'close') return m as SyncMessage;
  if (m.k === 'trip' && Number.isFinite(m.n)) return m as SyncMessage;
  return undefined;
}
