/**
 * A shard: the parent of at most `shardSize` breaker actors. Spawning a child copies the parent's
 * children map, so N children under one parent cost O(N²); bounded shards keep each spawn cheap
 * (docs/architecture.md, principle 3). Breakers are spawned on first need (virtual actors) with
 * `systemId` = the agent's id, so `system.get(agentId)` finds any active breaker.
 */
import { enqueueActions, sendParent, setup } from 'xstate';
import { type BreakerInput, localBreakerMachine } from './circuitBreaker.js';

/**
 * The child id of an agent's breaker actor. Not the raw agent id: XState keeps children in a plain
 * object, where an id such as `__proto__` would not be a key. (`systemId` is the raw id: the system
 * registry is a Map.)
 */
export const breakerActorId = (agentId: string): string => `breaker:${agentId}`;

/** One breaker to spawn: its agent (the actor's `systemId`) and the machine's input. */
export interface BreakerActivation {
  agentId: string;
  input: BreakerInput;
}

export type BreakerShardEvent =
  | { type: 'ACTIVATE_BREAKER'; agentId: string; input: BreakerInput }
  /** Many at once: one event per shard instead of two per breaker (eager actors). */
  | { type: 'ACTIVATE_BREAKERS'; breakers: readonly BreakerActivation[] }
  | { type: 'DEACTIVATE_BREAKER'; agentId: string }
  /** The supervisor stops: stop every breaker, newest first (see the supervisor's `stopShards`). */
  | { type: 'STOP_BREAKERS' };

export const breakerShardMachine = setup({
  types: {
    events: {} as BreakerShardEvent,
  },
  // Without a probe lease by default; a shared-state adapter provides the chart with its lease.
  actors: { circuitBreaker: localBreakerMachine },
  actions: {
    spawnBreaker: enqueueActions(({ enqueue, event, self }) => {
      if (event.type !== 'ACTIVATE_BREAKER' && event.type !== 'ACTIVATE_BREAKERS') return;
      const children = self.getSnapshot().children;
      for (const { agentId, input } of event.type === 'ACTIVATE_BREAKER' ? [event] : event.breakers) {
        const id = breakerActorId(agentId);
        if (Object.hasOwn(children, id)) continue; // already active
        enqueue.spawnChild('circuitBreaker', { id, systemId: agentId, input });
      }
    }),
    stopBreaker: enqueueActions(({ enqueue, event }) => {
      if (event.type === 'DEACTIVATE_BREAKER') enqueue.stopChild(breakerActorId(event.agentId));
    }),
    stopAllBreakers: enqueueActions(({ enqueue, self }) => {
      const ids = Object.keys(self.getSnapshot().children);
      for (let i = ids.length - 1; i >= 0; i--) enqueue.stopChild(ids[i] as string);
    }),
    /** A breaker failed (a bug): tell the supervisor rather than let XState rethrow it in a timer. */
    reportBreakerError: sendParent(({ event }) => ({
      type: 'BREAKER_ERROR' as const,
      agentId: String((event as { type: string }).type).replace('xstate.error.actor.breaker:', ''),
      error: (event as { error?: unknown }).error,
    })),
  },
}).createMachine({
  id: 'breakerShard',
  on: {
    ACTIVATE_BREAKER: { actions: 'spawnBreaker' },
    ACTIVATE_BREAKERS: { actions: 'spawnBreaker' },
    DEACTIVATE_BREAKER: { actions: 'stopBreaker' },
    STOP_BREAKERS: { actions: 'stopAllBreakers' },
    'xstate.error.actor.*': { actions: 'reportBreakerError' },
  },
});
