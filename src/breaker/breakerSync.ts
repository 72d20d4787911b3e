/**
 * Breaker state shared between supervisor instances (processes, hosts). The supervisor stays
 * independent of any transport: an adapter (e.g. `breakerbox/redis`) implements `BreakerSync`.
 * What crosses: local trips and closes out, peers' trips and closes in, and the half-open probe
 * lease. What never crosses: the call path. A healthy call touches no adapter.
 */
import type { AnyActorLogic } from 'xstate';
import type { Transition } from './breaker.js';

/** A state change this instance's own outcomes made (peers' changes are not published back). */
export interface SyncTransition extends Transition {
  /** For `open`: when the circuit lets probes in, so every instance probes at the same moment. */
  nextProbeAt: number | null;
}

/** What an adapter may do to its supervisor. */
export interface SyncPeer {
  /** Another instance tripped `agentId`: open it here until `nextProbeAt`. */
  peerTripped(agentId: string, nextProbeAt: number): void;
  /** Another instance's probes closed `agentId`: close it here. */
  peerClosed(agentId: string): void;
  /** The agents this supervisor knows. */
  agentIds(): string[];
  /** Whether this supervisor knows `agentId`, in O(1) (asked for each message). */
  hasAgent(agentId: string): boolean;
  /** Where an adapter reports what went wrong (Redis down…), without throwing. */
  reportError(error: unknown, where: string): void;
}

export interface BreakerSync {
  /**
   * The `probeLease` actor for the breaker machine (`machine.provide({ actors })`): answers
   * LEASE_GRANTED or LEASE_DENIED for each half-open window. Default: always granted.
   */
  readonly probeLease?: AnyActorLogic;
  /** Called once by `createSupervisor`. */
  attach(peer: SyncPeer): void;
  /** Called for every local state change; must not block or throw (errors are contained). */
  publish(transition: SyncTransition): void;
  /**
   * Called when an agent is added after `attach` (`addAgent`, or `routeTask`'s agents created on
   * first use): the cluster may have its circuit open already. Errors are contained.
   */
  agentAdded?(agentId: string): void;
  /** Called by `stop()`. */
  detach(): Promise<void>;
}
