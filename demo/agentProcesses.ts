/**
 * The demo's agent network: one child process per agent (`agentServer.ts`), each an HTTP server on
 * 127.0.0.1. The supervisor reaches them with `fetch`, passing the attempt's `signal`. No child
 * outlives the demo: they are stopped on shutdown, killed on any exit, and exit on their own when
 * the IPC channel to this process closes.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AgentSpec, CallContext } from '../src/index.js';
import type { ChildMessage, ParentMessage } from './agentServer.js';
import { type AgentFleet, describeFetchError } from './fleet.js';
import { type AgentMode, type AgentProfile, fleetProfile } from './profiles.js';

const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 2000;

/** Under tsx the sources run as `.ts`; compiled, as `.js`. */
const AGENT_SCRIPT = fileURLToPath(
  new URL(`./agentServer${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

class AgentProcess {
  child: ChildProcess | undefined;
  port = 0;
  readonly url: () => string = () => `http://127.0.0.1:${this.port}/task`;

  constructor(
    readonly id: string,
    readonly seed: number,
    public profile: AgentProfile,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    const child = fork(AGENT_SCRIPT, [], {
      // Keep the loader flags tsx needs; drop debugger flags (their port would clash).
      execArgv: process.execArgv.filter((arg) => !arg.startsWith('--inspect')),
      env: {
        ...process.env,
        AGENT_ID: this.id,
        AGENT_PORT: String(this.port),
        AGENT_SEED: String(this.seed),
        AGENT_PROFILE: JSON.stringify(this.profile),
      },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.child = child;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`agent ${this.id} did not start in ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      const onMessage = (message: ChildMessage) => {
        if (message.type === 'listening') {
          this.port = message.port;
          done();
          resolve();
        } else if (message.type === 'failed') {
          done();
          reject(new Error(`agent ${this.id} could not listen: ${message.error}`));
        }
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`agent ${this.id} exited during start (code ${code})`));
      };
      const done = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  get alive(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Sends `signal` and resolves once the process has exited (and was reaped). */
  stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.alive) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  setProfile(profile: AgentProfile): void {
    this.profile = profile;
    if (this.alive && this.child?.connected) this.child.send({ type: 'profile', profile } satisfies ParentMessage);
  }
}

export class ProcessFleet implements AgentFleet {
  private readonly agents = new Map<string, AgentProcess>();
  private readonly killAll = () => {
    for (const agent of this.agents.values()) if (agent.alive) agent.child?.kill('SIGKILL');
  };

  private constructor(count: number, seed: number, flapPeriodMs: number) {
    for (let i = 0; i < count; i++) {
      const id = `agent-${i + 1}`;
      this.agents.set(id, new AgentProcess(id, seed * 1000 + i, fleetProfile(i, flapPeriodMs)));
    }
    // Whatever ends this process, no agent process is left behind.
    process.on('exit', this.killAll);
  }

  /** Forks every agent and waits until each listens. */
  static async start(count: number, seed: number, flapPeriodMs: number): Promise<ProcessFleet> {
    const fleet = new ProcessFleet(count, seed, flapPeriodMs);
    try {
      await Promise.all([...fleet.agents.values()].map((agent) => agent.start()));
    } catch (error) {
      await fleet.stop();
      throw error;
    }
    return fleet;
  }

  get ids(): string[] {
    return [...this.agents.keys()];
  }

  /** `agent-1 pid 123 port 45678` per agent. */
  describe(): string[] {
    return [...this.agents.values()].map((a) => `${a.id} pid ${a.pid} port ${a.port}`);
  }

  specs(): AgentSpec[] {
    return [...this.agents.values()].map((agent) => ({
      id: agent.id,
      run: async (task: unknown, ctx: CallContext) => {
        let response: Response;
        try {
          response = await fetch(agent.url(), {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ task_id: ctx.taskId, task }),
            signal: ctx.signal,
          });
        } catch (error) {
          if (ctx.signal.aborted) throw error;
          throw new Error(describeFetchError(error));
        }
        const body = (await response.json().catch(() => ({}))) as { error?: unknown };
        if (!response.ok) {
          throw new Error(`HTTP ${response.status}${typeof body.error === 'string' ? `: ${body.error}` : ''}`);
        }
        return body;
      },
    }));
  }

  async kill(id: string): Promise<string> {
    const agent = this.get(id);
    const pid = agent.pid;
    await agent.stop('SIGKILL');
    return `${id} process killed (pid ${pid})`;
  }

  async restart(id: string): Promise<string> {
    const agent = this.get(id);
    if (!agent.alive) {
      try {
        await agent.start();
      } catch {
        // The old port was taken meanwhile: any free one will do.
        agent.port = 0;
        await agent.start();
      }
    }
    return `${id} process restarted (pid ${agent.pid}, port ${agent.port})`;
  }

  setMode(id: string, mode: AgentMode): void {
    const agent = this.get(id);
    agent.setProfile({ ...agent.profile, mode });
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.agents.values()].map(async (agent) => {
        const child = agent.child;
        if (child === undefined || !agent.alive) return;
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await agent.stop('SIGTERM');
        clearTimeout(timer);
      }),
    );
    process.off('exit', this.killAll);
  }

  /** Pids of agent processes still running. */
  livePids(): number[] {
    return [...this.agents.values()].filter((a) => a.alive).map((a) => a.pid as number);
  }

  private get(id: string): AgentProcess {
    const agent = this.agents.get(id);
    if (agent === undefined) throw new Error(`no agent ${id}`);
    return agent;
  }
}
