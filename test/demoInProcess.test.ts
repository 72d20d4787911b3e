/** `npm start -- --in-process`: the same demo with simulated agents, and the flags' validation. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { parseDemoOptions } from '../demo/demoOptions.js';
import { printable, TerminalView } from '../demo/terminalView.js';
import { ConfigError, createSupervisor } from '../src/index.js';
import { runDemo } from './demoHarness.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('npm start -- --in-process', () => {
  it('runs with simulated agents and no child process', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'demo/start.ts', '--in-process', '--duration', '3', '--port', '0', '--rate', '60'],
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
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/start.ts', '--agents', '1'], {
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

describe('the terminal view', () => {
  it('redraws the table in place on a TTY, escaping what agents say', async () => {
    const writes: string[] = [];
    const out = { columns: 120, write: (text: string) => writes.push(text) > 0 } as unknown as NodeJS.WriteStream;
    const supervisor = createSupervisor({
      clock: new SimulatedClock(),
      agents: [
        { id: 'agent-1', run: async () => 'ok' },
        { id: 'evil\u001b[2J', run: async () => 'ok' },
      ],
    });
    const view = new TerminalView(supervisor, { out, live: true, header: ['header line'] });
    view.start();
    view.event('scenario something happened');
    view.stop(['bye']);
    await supervisor.stop();
    expect(writes[0]).toBe('\u001b[?25l');
    const first = writes[1] as string;
    expect(first).toContain('header line');
    expect(first).toMatch(/agent\s+state\s+successes\s+failures\s+rejections\s+in flight\s+next probe in/);
    expect(first).toContain('evil?[2J');
    expect(first).not.toContain('evil\u001b');
    const drawn = first.split('\n').length - 1;
    // The second draw moves the cursor back over the first and clears below it.
    expect(writes[2]?.startsWith(`\u001b[${drawn}F\u001b[J`)).toBe(true);
    expect(writes[2]).toContain('scenario something happened');
    expect(writes.slice(3)).toEqual(['\u001b[?25h', 'bye\n']);
  });

  it('prints no control characters', () => {
    expect(printable('a\u001b[31mb\u0007c\nd')).toBe('a?[31mb?c?d');
  });
});
