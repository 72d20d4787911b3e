/**
 * Where a supervisor's breaker actors live, and whom a breaker tells about its changes: the
 * `BreakerHost` of every breaker the supervisor registers.
 *
 * Breakers are virtual until they first need their actor (docs/architecture.md, principle 3); an
 * actor is then spawned under a shard actor of bounded size, children of the root actor, since one
 * XState parent with N children costs O(N²) to build. A state change updates the pool's lists and
 * counts, is published to a sync adapter (unless it came from one) and emitted on the streams.
 */
import type { Actor, AnyActorRef } from 'xstate';
import type { Clock } from '../../machines/breakerOptions.js';
import type { supervisorMachine } from '../../machines/supervisor.js';
import type { Breaker, BreakerHost, Transition } from '../breaker/breaker.js';
import type { BreakerSync } from '../breaker/breakerSync.js';
import { BreakerboxError } from '../common/errors.js';
import type { Agent } from '../pool/agent.js';
import type { AgentPool } from '../pool/agentPool.js';
import type { SupervisorStreams } from './supervisorStreams.js';
import type { SupervisorPhase } from './supervisorTypes.js';

export interface BreakerPlacementOptions {
  readonly root: Actor<typeof supervisorMachine>;
  readonly pool: AgentPool;
  readonly clock: Clock;
  readonly streams: SupervisorStreams;
  readonly sync: BreakerSync | undefined;
  /** Breaker actors per shard actor. */
  readonly shardSize: number;
  /** `routing.maxEjectionPercent`: at most this share of agents open at once. */
  readonly maxEjectionPercent: number;
  readonly phase: () => SupervisorPhase;
  /** Reports a contained error (a throwing adapter, an actor error). */
  readonly reportError: (error: unknown, where: string) => void;
}

export class BreakerPlacement implements BreakerHost {
  /** Breaker actors activated so far: the next one's place in the shards. */
  private activated = 0;

  constructor(private readonly options: BreakerPlacementOptions) {}

  activate(breaker: Breaker): AnyActorRef {
    const { pool, root, shardSize, clock } = this.options;
    const agent = pool.byId.get(breaker.id);
    if (agent === undefined || agent.breaker !== breaker) {
      throw new BreakerboxError(`Agent ${breaker.id} is no longer registered`);
    }
    if (this.options.phase() === 'stopped') throw new BreakerboxError('The supervisor is stopped');
    if (agent.shard < 0) {
      agent.shard = Math.floor(this.activated++ / shardSize);
      root.send({
        type: 'ACTIVATE_BREAKER',
        shard: agent.shard,
        agentId: agent.id,
        input: { agentId: agent.id, options: breaker.options, now: clock.now() },
      });
    } // else spawned by activateAll, which then asks for it here
    const ref = root.system.get(agent.id) as AnyActorRef | undefined;
    if (ref === undefined) throw new BreakerboxError(`The breaker actor of ${agent.id} could not be activated`);
    return ref;
  }

  /**
   * Activates many breaker actors with one event per shard instead of two per breaker (the root's
   * and the shard's): a supervisor created with eager actors, or with inspection on.
   */
  activateAll(agents: readonly Agent[]): void {
    const { root, shardSize, clock } = this.options;
    const pending = agents.filter((agent) => !agent.breaker.isActive);
    const now = clock.now();
    for (let i = 0; i < pending.length; ) {
      const shard = Math.floor(this.activated / shardSize);
      const batch = pending.slice(i, i + shardSize - (this.activated % shardSize));
      i += batch.length;
      this.activated += batch.length;
      for (const agent of batch) agent.shard = shard;
      root.send({
        type: 'ACTIVATE_BREAKERS',
        shard,
        breakers: batch.map(({ id, breaker }) => ({
          agentId: id,
          input: { agentId: id, options: breaker.options, now },
        })),
      });
    }
    for (const agent of pending) agent.breaker.actor; // each breaker subscribes to its spawned actor
  }

  /** Stops a removed agent's actor, if it has one. */
  deactivate(agent: Agent): void {
    if (agent.shard >= 0 && this.options.phase() !== 'stopped') {
      this.options.root.send({ type: 'DEACTIVATE_BREAKER', shard: agent.shard, agentId: agent.id });
    }
  }

  onTransition(transition: Transition, breaker: Breaker, external: boolean): void {
    const { pool, sync, streams } = this.options;
    const agent = pool.byId.get(breaker.id);
    if (agent !== undefined && agent.breaker === breaker) pool.stateChanged(agent, transition.from, transition.to);
    if (sync !== undefined && !external) {
      const nextProbeAt = transition.to === 'open' ? breaker.context.nextProbeAt : null;
      try {
        sync.publish({ ...transition, nextProbeAt });
      } catch (error) {
        this.options.reportError(error, 'sync.publish');
      }
    }
    if (streams.transitions.observed) streams.transitions.next(transition);
    streams.changes.next();
  }

  ejectionAllowed(): boolean {
    const { maxEjectionPercent, pool } = this.options;
    if (maxEjectionPercent >= 100) return true;
    const counts = pool.counts;
    return ((counts.open + counts.half_open + 1) * 100) / pool.size <= maxEjectionPercent;
  }

  onError(error: unknown, breaker: Breaker): void {
    this.options.reportError(error, `breaker ${breaker.id}`);
  }
}
