/** What the demo needs from its agents, real processes or simulated: specs to route to, and levers. */
import type { AgentSpec } from '../src/index.js';
import type { AgentMode } from './profiles.js';

export interface AgentFleet {
  readonly ids: readonly string[];
  /** The supervisor's agent specs (their `run` calls the agent). */
  specs(): AgentSpec[];
  /** Kills an agent (its calls then fail: connection refused). Resolves with a description. */
  kill(id: string): Promise<string>;
  /** Starts a killed agent again, on the same port. */
  restart(id: string): Promise<string>;
  setMode(id: string, mode: AgentMode): void;
  /** Stops every agent; resolves when none is left. */
  stop(): Promise<void>;
}

/** A failed call's reason from a `fetch` error: `connection refused`, not `fetch failed`. */
export function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'connection reset';
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
