/**
 * The supervisor's observables. Each starts with the current value where it has one, emits only
 * on change, is shared, and completes on `stop()`. Per-call streams (`decisions$`) are computed
 * only while someone subscribes: the router checks `observed` first.
 */
import { defer, distinctUntilChanged, filter, map, type Observable, Subject, shareReplay, startWith } from 'rxjs';
import type { BreakerState } from '../../machines/circuitBreaker.js';
import type { Transition } from '../breaker/breaker.js';
import type { FailureRecord, HealthStatus, RoutingDecision } from './supervisorTypes.js';

export class SupervisorStreams {
  readonly transitions = new Subject<Transition>();
  readonly failures = new Subject<FailureRecord>();
  readonly decisions = new Subject<RoutingDecision>();
  /** Something in the set of agents or their states changed. */
  readonly changes = new Subject<void>();

  readonly transitions$ = this.transitions.asObservable();
  readonly failures$ = this.failures.asObservable();
  readonly decisions$ = this.decisions.asObservable();
  readonly health$: Observable<HealthStatus>;
  readonly states$: Observable<ReadonlyMap<string, BreakerState>>;

  constructor(
    private readonly health: () => HealthStatus,
    private readonly states: () => ReadonlyMap<string, BreakerState>,
    private readonly stateOf: (agentId: string) => BreakerState | undefined,
  ) {
    this.health$ = this.changes.pipe(
      startWith(undefined),
      map(() => this.health()),
      distinctUntilChanged(sameHealth),
      shareReplay({ bufferSize: 1, refCount: true }),
    );
    this.states$ = this.changes.pipe(
      startWith(undefined),
      map(() => this.states()),
      distinctUntilChanged(sameStates),
      shareReplay({ bufferSize: 1, refCount: true }),
    );
  }

  agentState$(agentId: string): Observable<BreakerState> {
    return defer(() => {
      const current = this.stateOf(agentId);
      const changes = this.transitions.pipe(
        filter((t) => t.agentId === agentId),
        map((t) => t.to),
      );
      return current === undefined ? changes : changes.pipe(startWith(current));
    }).pipe(distinctUntilChanged());
  }

  complete(): void {
    this.transitions.complete();
    this.failures.complete();
    this.decisions.complete();
    this.changes.complete();
  }
}

function sameHealth(a: HealthStatus, b: HealthStatus): boolean {
  return (
    a.totalAgents === b.totalAgents &&
    a.healthyAgents === b.healthyAgents &&
    a.openCircuits === b.openCircuits &&
    a.halfOpenCircuits === b.halfOpenCircuits &&
    a.isolatedCircuits === b.isolatedCircuits
  );
}

function sameStates(a: ReadonlyMap<string, BreakerState>, b: ReadonlyMap<string, BreakerState>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, state] of a) if (b.get(id) !== state) return false;
  return true;
}
