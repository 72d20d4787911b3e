/**
 * A seeded fault injector for chaos tests: agents that fail in every way users' agents do.
 *
 * Every agent gets a profile drawn from the seed (healthy, or one fault kind with its own rate,
 * period, recovery time…) and its own pseudo-random sequence, so a run repeats exactly for a seed.
 * Every result is derived from the task (`resultFor`), so a history checker can tell a right value
 * from a wrong one (another task's, an abandoned attempt's). Time comes from the clock given (a
 * `SimulatedClock` in tests): slow calls and latency spikes are timers on it, never real sleeps.
 */
import { seededRandom } from '../../machines/backoff.js';
import type { AgentSpec, CallContext, Clock } from '../../src/index.js';

export type FaultKind =
  /** Throws synchronously from `run` (an Error, sometimes a string). */
  | 'throwSync'
  /** Returns a promise rejected with an Error (sometimes one with a 1 MB message). */
  | 'rejectError'
  /** Rejects with a non-Error: `undefined`, `null`, a string, a frozen object, a number, a symbol, a hostile proxy. */
  | 'rejectNonError'
  /** Never fails, but returns a plain value or a hand-made thenable instead of a promise. */
  | 'nonPromise'
  /** Sometimes never settles (half of these agents honour their abort signal, half ignore it). */
  | 'hang'
  /** Latency spikes: usually a few ms, sometimes far past any attempt timeout. */
  | 'slow'
  /** Fails in bursts: alternating healthy and failing periods of the clock. */
  | 'flap'
  /** Fails until a point in time, then is healthy for good. */
  | 'recover';

export const FAULT_KINDS: readonly FaultKind[] = [
  'throwSync',
  'rejectError',
  'rejectNonError',
  'nonPromise',
  'hang',
  'slow',
  'flap',
  'recover',
];

/** A task of a chaos run: `salt` makes each result unguessable from `n` alone. */
export interface ChaosTask {
  n: number;
  salt: number;
}

/** What every agent returns for a task: derived from the task, naming who ran which attempt. */
export interface ChaosResult {
  n: number;
  digest: number;
  agentId: string;
  attempt: number;
}

export interface AgentProfile {
  id: string;
  kind: FaultKind | 'healthy';
  /** Share of calls that misbehave (for kinds that misbehave per call). */
  rate: number;
  /** Reads `ctx.signal` and settles (rejects) when it aborts. */
  honoursAbort: boolean;
  /** `flap`: length of a healthy or failing period, ms; `phase` shifts it. */
  period: number;
  phase: number;
  /** `recover`: clock time from which the agent is healthy. */
  recoverAt: number;
}

/** The last attempt an agent started for a task (for the history checker and abort checks). */
export interface CallRecord {
  agentId: string;
  attempt: number;
  ctx: CallContext;
}

/** A small, fast, seedable PRNG (the breakers' own jitter generator) for test plans. */
export const prng: (seed: number) => () => number = seededRandom;

/** Mixes two integers into a seed (for per-agent sequences). */
export function mixSeed(a: number, b: number): number {
  return Math.imul(a ^ Math.imul(b + 0x9e3779b9, 0x85ebca6b), 0xc2b2ae35) >>> 0;
}

export function digest(task: ChaosTask): number {
  return Math.imul(task.n ^ task.salt, 0x9e3779b1) >>> 0;
}

export function resultFor(task: ChaosTask, agentId: string, attempt: number): ChaosResult {
  return { n: task.n, digest: digest(task), agentId, attempt };
}

/** Returns a problem in words, or undefined when `value` is the right result for `task`. */
export function wrongResult(task: ChaosTask, value: unknown, lastCall: CallRecord | undefined): string | undefined {
  const v = value as Partial<ChaosResult> | null;
  if (typeof v !== 'object' || v === null) return `task ${task.n}: not a result: ${String(value)}`;
  if (v.n !== task.n) return `task ${task.n}: got the result of task ${v.n}`;
  if (v.digest !== digest(task)) return `task ${task.n}: wrong digest`;
  if (lastCall === undefined) return `task ${task.n}: resolved though no agent ran it`;
  // Only the task's current attempt may settle it: a late result of an abandoned one is ignored.
  if (v.agentId !== lastCall.agentId || v.attempt !== lastCall.attempt) {
    return `task ${task.n}: settled by ${v.agentId}#${v.attempt}, but its last attempt was ${lastCall.agentId}#${lastCall.attempt}`;
  }
  return undefined;
}

/** A 1 MB error message (one string, shared, so memory stays flat). */
export const ONE_MB_MESSAGE = `huge:${'x'.repeat(1024 * 1024)}`;

/** A value no code can inspect: every trap throws (even `instanceof` and `typeof x.message`). */
export function hostileProxy(): object {
  const fail = () => {
    throw new Error('hostile proxy touched');
  };
  return new Proxy({}, { get: fail, getPrototypeOf: fail, has: fail, ownKeys: fail, getOwnPropertyDescriptor: fail });
}

const FROZEN = Object.freeze({ code: 'E_FROZEN', detail: Object.freeze({ nested: true }) });
const NON_ERRORS: readonly (() => unknown)[] = [
  () => undefined,
  () => null,
  () => 'a plain string',
  () => '',
  () => FROZEN,
  () => 42,
  () => Symbol('rejected'),
  () => hostileProxy(),
];

export interface FaultInjectorOptions {
  seed: number;
  agents: number;
  /** Share of agents with a fault, 0..1. */
  faultyShare: number;
  /** The clock slow calls wait on (the same one the supervisor uses). */
  clock: Clock;
  /** Latency of a spike, ms: [min, max). Default [200, 3000). */
  spikeMs?: readonly [number, number];
}

export class FaultInjector {
  readonly profiles: AgentProfile[] = [];
  readonly byId = new Map<string, AgentProfile>();
  /** The last attempt started per task number. */
  readonly lastCall = new Map<number, CallRecord>();
  calls = 0;
  /** Calls that misbehaved, by kind. */
  readonly injected: Record<string, number> = {};
  private readonly rngs = new Map<string, () => number>();
  private readonly clock: Clock;
  private readonly spikeMs: readonly [number, number];

  constructor(options: FaultInjectorOptions) {
    this.clock = options.clock;
    this.spikeMs = options.spikeMs ?? [200, 3000];
    const plan = prng(mixSeed(options.seed, 0x5eed));
    // Exactly round(share × agents) faulty agents, at seeded positions, kinds spread evenly.
    const faulty = Math.round(options.faultyShare * options.agents);
    const order = Array.from({ length: options.agents }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(plan() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const kindOf = new Map<number, FaultKind>();
    for (let k = 0; k < faulty; k++) kindOf.set(order[k] as number, FAULT_KINDS[k % FAULT_KINDS.length] as FaultKind);
    for (let i = 0; i < options.agents; i++) {
      const id = `agent-${i}`;
      const profile: AgentProfile = {
        id,
        kind: kindOf.get(i) ?? 'healthy',
        rate: 0.3 + plan() * 0.7,
        honoursAbort: plan() < 0.5,
        period: 200 + Math.floor(plan() * 1800),
        phase: Math.floor(plan() * 2000),
        recoverAt: 500 + Math.floor(plan() * 4500),
      };
      this.profiles.push(profile);
      this.byId.set(id, profile);
      this.rngs.set(id, prng(mixSeed(options.seed, i + 1)));
    }
  }

  /** Agent specs for `createSupervisor` / `addAgent`. */
  specs(): AgentSpec<ChaosTask, ChaosResult>[] {
    return this.profiles.map((profile) => ({
      id: profile.id,
      run: (task: ChaosTask, ctx: CallContext) => this.call(profile.id, task, ctx) as Promise<ChaosResult>,
    }));
  }

  /** Ids of agents that never hang (safe for tasks without a timeout). */
  idsThatSettle(): string[] {
    return this.profiles.filter((p) => p.kind !== 'hang').map((p) => p.id);
  }

  /** One call of agent `agentId` on `task`: what `run` (or a `routeTask` function) does. */
  call(agentId: string, task: ChaosTask, ctx: CallContext): unknown {
    const profile = this.byId.get(agentId);
    if (profile === undefined) throw new Error(`unknown agent ${agentId}`);
    const rng = this.rngs.get(agentId) as () => number;
    this.calls++;
    this.lastCall.set(task.n, { agentId, attempt: ctx.attempt, ctx });
    const value = resultFor(task, agentId, ctx.attempt);
    const misbehaves = rng() < profile.rate;
    switch (profile.kind) {
      case 'throwSync':
        if (!misbehaves) break;
        this.count('throwSync');
        if (rng() < 0.2) throw `${agentId}: thrown string`;
        throw new Error(`${agentId}: sync throw`);
      case 'rejectError':
        if (!misbehaves) break;
        this.count('rejectError');
        return Promise.reject(new Error(rng() < 0.05 ? ONE_MB_MESSAGE : `${agentId}: rejected`));
      case 'rejectNonError': {
        if (!misbehaves) break;
        this.count('rejectNonError');
        const make = NON_ERRORS[Math.floor(rng() * NON_ERRORS.length)] as () => unknown;
        return Promise.reject(make());
      }
      case 'nonPromise':
        this.count('nonPromise');
        if (rng() < 0.5) return value; // a plain value, not a promise
        return handMadeThenable(value, rng() < 0.5 ? undefined : () => this.delay(ctx, profile, 1 + rng() * 20));
      case 'hang':
        if (!misbehaves) break;
        this.count('hang');
        if (profile.honoursAbort) {
          const signal = ctx.signal;
          return new Promise((_resolve, reject) => {
            if (signal.aborted) reject(signal.reason);
            else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          });
        }
        if (rng() < 0.5) return new Promise(() => {});
        // biome-ignore lint/suspicious/noThenProperty: a thenable that never calls back is the fault
        return { then() {} };
      case 'slow': {
        const spike = misbehaves && rng() < 0.5;
        if (spike) this.count('slow');
        const [min, max] = this.spikeMs;
        const ms = spike ? min + rng() * (max - min) : 1 + rng() * 10;
        return this.delay(ctx, profile, ms).then(() => value);
      }
      case 'flap':
        if (Math.floor((this.clock.now() + profile.phase) / profile.period) % 2 === 1) {
          this.count('flap');
          return Promise.reject(new Error(`${agentId}: flapping`));
        }
        break;
      case 'recover':
        if (this.clock.now() < profile.recoverAt) {
          this.count('recover');
          if (rng() < 0.3) throw new Error(`${agentId}: not recovered yet (sync)`);
          return Promise.reject(new Error(`${agentId}: not recovered yet`));
        }
        break;
      case 'healthy':
        break;
    }
    // Healthy behaviour: mostly an async result, sometimes a plain value, sometimes a short delay.
    const r = rng();
    if (r < 0.2) return value;
    if (r < 0.9) return Promise.resolve(value);
    return this.delay(ctx, profile, 1 + rng() * 30).then(() => value);
  }

  /** Waits `ms` on the clock; an agent that honours aborts stops waiting (rejects) on abort. */
  private delay(ctx: CallContext, profile: AgentProfile, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => resolve(), ms);
      if (!profile.honoursAbort) return;
      const signal = ctx.signal;
      const onAbort = () => {
        this.clock.clearTimeout(timer);
        reject(signal.reason);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private count(kind: string): void {
    this.injected[kind] = (this.injected[kind] ?? 0) + 1;
  }
}

/** A thenable that is not a Promise: resolves in a microtask, or after `wait()`. */
function handMadeThenable<T>(value: T, wait: (() => Promise<void>) | undefined): PromiseLike<T> {
  return {
    // biome-ignore lint/suspicious/noThenProperty: a hand-made thenable is the point of this fault
    then(onFulfilled, onRejected) {
      const settled = wait ? wait().then(() => value) : Promise.resolve(value);
      return settled.then(onFulfilled, onRejected);
    },
  };
}
