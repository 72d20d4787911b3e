/**
 * `--in-process`: the same fleet and scenario with simulated agents: a timer for the latency, a
 * seeded draw for failures, `connection refused` while "killed". No child process, no socket.
 */

import type { AgentSpec, CallContext } from '../src/index.js';
import type { AgentFleet } from './fleet.js';
import { type AgentMode, type AgentProfile, drawOutcome, fleetProfile, seededRandom } from './profiles.js';

interface SimulatedAgent {
  id: string;
  profile: AgentProfile;
  alive: boolean;
  random: () => number;
  startedAt: number;
}

/** Resolves after `ms`, or rejects when `signal` aborts first. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class SimulatedFleet implements AgentFleet {
  private readonly agents = new Map<string, SimulatedAgent>();

  constructor(count: number, seed: number, flapPeriodMs: number) {
    for (let i = 0; i < count; i++) {
      const id = `agent-${i + 1}`;
      this.agents.set(id, {
        id,
        profile: fleetProfile(i, flapPeriodMs),
        alive: true,
        random: seededRandom(seed * 1000 + i),
        startedAt: performance.now(),
      });
    }
  }

  get ids(): string[] {
    return [...this.agents.keys()];
  }

  specs(): AgentSpec[] {
    return [...this.agents.values()].map((agent) => ({
      id: agent.id,
      run: async (task: unknown, ctx: CallContext) => {
        if (!agent.alive) throw new Error('connection refused');
        const outcome = drawOutcome(agent.profile, agent.random, performance.now() - agent.startedAt);
        await delay(outcome.delayMs, ctx.signal);
        if (!agent.alive) throw new Error('connection reset');
        if (outcome.failure !== null) throw new Error(outcome.failure);
        return { agent_id: agent.id, task_id: ctx.taskId, task, result: 'done' };
      },
    }));
  }

  async kill(id: string): Promise<string> {
    this.get(id).alive = false;
    return `${id} killed (simulated)`;
  }

  async restart(id: string): Promise<string> {
    const agent = this.get(id);
    agent.alive = true;
    agent.startedAt = performance.now();
    return `${id} restarted (simulated)`;
  }

  setMode(id: string, mode: AgentMode): void {
    const agent = this.get(id);
    agent.profile = { ...agent.profile, mode };
  }

  async stop(): Promise<void> {}

  private get(id: string): SimulatedAgent {
    const agent = this.agents.get(id);
    if (agent === undefined) throw new Error(`no agent ${id}`);
    return agent;
  }
}
