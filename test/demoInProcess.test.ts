/** `npm start -- --in-process`: the same demo with simulated agents, and the flags' validation. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDemoOptions } from '../src/demo/demoOptions.js';
import { ConfigError } from '../src/index.js';
import { runDemo } from './demoHarness.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('npm start -- --in-process', () => {
  it('runs with simulated agents and no child process', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/demo/start.ts', '--in-process', '--duration', '3', '--port', '0', '--rate', '60'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const demo = runDemo(child);
    const url = await demo.dashboardUrl;
    const agents = (await (await fetch(`${url}api/agents`)).json()) as { agent_id: string }[];
    expect(agents.map((a) => a.agent_id)).toEqual(['agent-1', 'agent-2', 'agent-3', 'agent-4', 'agent-5', 'agent-6']);
    const { code, lines } = await demo.exited;
    expect(code, lines.join('\n')).toBe(0);
    expect(lines[0]).toContain('6 agents simulated in this process');
    expect(lines.some((l) => /scenario agent-2 killed \(simulated\)/.test(l))).toBe(true);
    expect(demo.agentPids()).toEqual([]);
    expect(lines.some((l) => /^stopped: \d+ tasks sent, \d+ succeeded/.test(l))).toBe(true);
  });

  it('prints usage and exits 2 for a bad flag', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo/start.ts', '--agents', '1'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { code, lines } = await runDemo(child).exited;
    expect(code).toBe(2);
    expect(lines[0]).toBe('Invalid option --agents: expected an integer ≥ 2 ≤ 50, got 1');
    expect(lines).toContain('Usage: npm start -- [options]');
  });
});

describe('the demo flags', () => {
  it('have defaults', () => {
    expect(parseDemoOptions([])).toEqual({
      inProcess: false,
      port: 4400,
      durationSeconds: 0,
      agents: 6,
      rate: 30,
      seed: 1,
      help: false,
    });
  });

  it('parse and validate', () => {
    expect(
      parseDemoOptions([
        '--in-process',
        '--port',
        '0',
        '--duration',
        '8',
        '--agents',
        '3',
        '--rate',
        '5',
        '--seed',
        '7',
      ]),
    ).toMatchObject({ inProcess: true, port: 0, durationSeconds: 8, agents: 3, rate: 5, seed: 7 });
    for (const argv of [
      ['--port', '70000'],
      ['--port', 'abc'],
      ['--duration', '1'],
      ['--duration', '-5'],
      ['--agents', '2.5'],
      ['--rate', '0'],
      ['--seed', '-1'],
      ['--nope'],
      ['positional'],
    ]) {
      expect(() => parseDemoOptions(argv), argv.join(' ')).toThrow(ConfigError);
    }
  });
});
