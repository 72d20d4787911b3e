/**
 * The scripted outage, the original design's story (docs/architecture.md) played for real, on a
 * timeline scaled to the run: one agent process is killed (connection refused → its circuit opens →
 * tasks fail over) and later restarted (half-open probes close it); another turns slow (attempt
 * timeouts); a third flaps.
 */
import type { AgentFleet } from './fleet.js';

export interface ScenarioStep {
  /** When, as a share of the cycle (0…1). */
  at: number;
  agent: string;
  action: 'kill' | 'restart' | 'slow' | 'flap' | 'normal';
  /** What the terminal says. */
  text: string;
}

/** The steps for `ids`: agent 2 is killed, agent 4 slows down, agent 5 flaps (by position, wrapping). */
export function scenarioSteps(ids: readonly string[]): ScenarioStep[] {
  const pick = (i: number) => ids[i % ids.length] as string;
  const killed = pick(1);
  const slow = ids.length > 3 ? pick(3) : pick(2);
  const flapping = ids.length > 4 ? pick(4) : pick(0);
  return [
    { at: 0.1, agent: killed, action: 'kill', text: `kill ${killed}'s process` },
    { at: 0.2, agent: slow, action: 'slow', text: `${slow} turns slow` },
    { at: 0.3, agent: flapping, action: 'flap', text: `${flapping} starts flapping` },
    { at: 0.45, agent: killed, action: 'restart', text: `restart ${killed}'s process` },
    { at: 0.6, agent: slow, action: 'normal', text: `${slow} is fast again` },
    { at: 0.85, agent: flapping, action: 'normal', text: `${flapping} stops flapping` },
  ];
}

export interface RunningScenario {
  stop(): void;
}

/**
 * Plays `steps` over `cycleMs`, once or again and again (`repeat`). `log` gets each step's outcome;
 * a step that throws is logged, never fatal.
 */
export function runScenario(
  fleet: AgentFleet,
  steps: readonly ScenarioStep[],
  cycleMs: number,
  repeat: boolean,
  log: (text: string) => void,
): RunningScenario {
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let stopped = false;

  const perform = async (step: ScenarioStep): Promise<void> => {
    if (stopped) return;
    try {
      switch (step.action) {
        case 'kill':
          log(await fleet.kill(step.agent));
          break;
        case 'restart':
          log(await fleet.restart(step.agent));
          break;
        default:
          fleet.setMode(step.agent, step.action);
          log(step.text);
      }
    } catch (error) {
      log(`${step.text} failed: ${(error as Error).message}`);
    }
  };

  const schedule = (offsetMs: number): void => {
    for (const step of steps) {
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          void perform(step);
        },
        offsetMs + step.at * cycleMs,
      );
      timers.add(timer);
    }
    if (repeat) {
      const next = setTimeout(() => {
        timers.delete(next);
        schedule(0);
      }, offsetMs + cycleMs);
      timers.add(next);
    }
  };
  schedule(0);

  return {
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
