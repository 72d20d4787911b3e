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
  /**
   * Breaker actors living in each shard actor (index = shard). A removed agent's actor frees its
   * place, and the next activation takes a free place before a new shard is spawned, so the shard
   * actors are at most ⌈the most breaker actors ever active at once ÷ shardSize⌉, however many
   * agents come and go (the root never stops a shard before `stop()`).
   */
  private readonly load: number[] = [];
  /** Shards that had room when listed, newest on top; one found full is dropped when met. */
  private readonly withRoom: number[] = [];
  private readonly listed: boolean[] = [];

  constructor(private readonly options: BreakerPlacementOptions) {}

  /** The shard the next actor goes to: one with a free place, or a new one. */
  private shardWithRoom(): number {
    const { shardSize } = this.options;
    const { load, withRoom, listed } = this;
    for (let top = withRoom.at(-1); top !== undefined; top = withRoom.at(-1)) {
      if ((load[top] as number) < shardSize) return top;
      withRoom.pop();
      listed[top] = false;
    }
    const shard = load.length;
    load.push(0);
    withRoom.push(shard);
    listed.push(true);
    return shard;
  }

  activate(breaker: Breaker): AnyActorRef {
    const { pool, root, clock } = this.options;
    const agent = pool.byId.get(breaker.id);
    if (agent === undefined || agent.breaker !== breaker) {
      throw new BreakerboxError(`Agent ${breaker.id} is no longer registered`);
    }
    if (this.options.phase() === 'stopped') throw new BreakerboxError('The supervisor is stopped');
    if (agent.shard < 0) {
      agent.shard = this.shardWithRoom();
      this.load[agent.shard] = (this.load[agent.shard] as number) + 1;
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
      const shard = this.shardWithRoom();
      const batch = pending.slice(i, i + shardSize - (this.load[shard] as number));
      i += batch.length;
      this.load[shard] = (this.load[shard] as number) + batch.length;
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

  /** Stops a removed agent's actor, if it has one, and frees its place in the shard. */
  deactivate(agent: Agent): void {
    const shard = agent.shard;
    if (shard < 0 || this.options.phase() === 'stopped') return;
    agent.shard = -1;
    this.options.root.send({ type: 'DEACTIVATE_BREAKER', shard, agentId: agent.id });
    this.load[shard] = (this.load[shard] as number) - 1;
    if (!this.listed[shard]) {
      this.listed[shard] = true;
      this.withRoom.push(shard);
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
