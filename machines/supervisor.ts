/**
 * The supervisor's root actor: its lifecycle (running → draining → stopped) and the shards that
 * parent the breaker actors. Routing itself never sends an event here: the call path reads the
 * phase and the breakers' snapshots (docs/architecture.md, principle 1).
 */
import { type AnyStateMachine, assign, emit, enqueueActions, setup } from 'xstate';
import type { BreakerActivation } from './breakerShard.js';
import { breakerShardMachine } from './breakerShard.js';
import type { BreakerInput } from './circuitBreaker.js';

export type SupervisorEvent =
  /** Activate an agent's breaker actor in shard `shard` (spawned when first needed). */
  | { type: 'ACTIVATE_BREAKER'; shard: number; agentId: string; input: BreakerInput }
  /** Activate many breakers of one shard in one event (a supervisor created with eager actors). */
  | { type: 'ACTIVATE_BREAKERS'; shard: number; breakers: readonly BreakerActivation[] }
  | { type: 'DEACTIVATE_BREAKER'; shard: number; agentId: string }
  /** A breaker actor failed; reported, never rethrown. */
  | { type: 'BREAKER_ERROR'; agentId: string; error: unknown }
  | { type: 'STOP' }
  | { type: 'DRAINED' };

export type SupervisorEmitted = { type: 'breakerError'; agentId: string; error: unknown };

export interface SupervisorContext {
  /** Shards spawned so far; shard i has id `shard-i`. */
  shardCount: number;
}

export const shardId = (index: number): string => `shard-${index}`;

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    emitted: {} as SupervisorEmitted,
  },
  actors: { breakerShard: breakerShardMachine },
  actions: {
    activateBreaker: enqueueActions(({ enqueue, event, context }) => {
      if (event.type !== 'ACTIVATE_BREAKER' && event.type !== 'ACTIVATE_BREAKERS') return;
      if (event.shard >= context.shardCount) {
        for (let i = context.shardCount; i <= event.shard; i++) enqueue.spawnChild('breakerShard', { id: shardId(i) });
        enqueue.assign({ shardCount: event.shard + 1 });
      }
      enqueue.sendTo(
        shardId(event.shard),
        event.type === 'ACTIVATE_BREAKER'
          ? { type: 'ACTIVATE_BREAKER', agentId: event.agentId, input: event.input }
          : { type: 'ACTIVATE_BREAKERS', breakers: event.breakers },
      );
    }),
    deactivateBreaker: enqueueActions(({ enqueue, event, context }) => {
      if (event.type !== 'DEACTIVATE_BREAKER' || event.shard >= context.shardCount) return;
      enqueue.sendTo(shardId(event.shard), { type: 'DEACTIVATE_BREAKER', agentId: event.agentId });
    }),
    reportBreakerError: emit(({ event }) => ({
      type: 'breakerError' as const,
      agentId: event.type === 'BREAKER_ERROR' ? event.agentId : '',
      error: event.type === 'BREAKER_ERROR' ? event.error : undefined,
    })),
    /**
     * Stops every shard, and with them every breaker actor and its timers. Last spawned first:
     * each stop copies the parent's children object minus the stopped child, and removing the
     * newest key keeps that copy cheap (removing the oldest turns it into a slow dictionary copy,
     * ~1 s for 10,000 breakers). Each shard is told to stop its breakers the same way first.
     */
    stopShards: enqueueActions(({ enqueue, context }) => {
      for (let i = context.shardCount - 1; i >= 0; i--) {
        enqueue.sendTo(shardId(i), { type: 'STOP_BREAKERS' });
        enqueue.stopChild(shardId(i));
      }
    }),
    forgetShards: assign({ shardCount: 0 }),
  },
}).createMachine({
  id: 'supervisor',
  context: { shardCount: 0 },
  initial: 'running',
  on: {
    BREAKER_ERROR: { actions: 'reportBreakerError' },
  },
  states: {
    running: {
      on: {
        ACTIVATE_BREAKER: { actions: 'activateBreaker' },
        ACTIVATE_BREAKERS: { actions: 'activateBreaker' },
        DEACTIVATE_BREAKER: { actions: 'deactivateBreaker' },
        STOP: 'draining',
      },
    },
    /** No new tasks; in-flight ones finish. Breakers keep working for them. */
    draining: {
      on: {
        ACTIVATE_BREAKER: { actions: 'activateBreaker' },
        ACTIVATE_BREAKERS: { actions: 'activateBreaker' },
        DEACTIVATE_BREAKER: { actions: 'deactivateBreaker' },
        DRAINED: 'stopped',
      },
    },
    stopped: {
      type: 'final',
      entry: ['stopShards', 'forgetShards'],
    },
  },
});

/**
 * The breaker chart a root machine's shards spawn: `localBreakerMachine` by default, the full
 * chart with the adapter's probe lease when one was provided. Undefined for another machine.
 */
export function breakerMachineOf(root: unknown): AnyStateMachine | undefined {
  const actorsOf = (machine: unknown) =>
    (machine as { implementations?: { actors?: Record<string, unknown> } } | undefined)?.implementations?.actors;
  const breaker = actorsOf(actorsOf(root)?.breakerShard)?.circuitBreaker as AnyStateMachine | undefined;
  return typeof breaker?.toJSON === 'function' ? breaker : undefined;
}
