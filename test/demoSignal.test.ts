/**
 * Ctrl-C stops the demo gracefully: tasks drain, the dashboard closes, every agent process is
 * stopped and reaped, exit code 0.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isRunning, runDemo } from './demoHarness.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('npm start and Ctrl-C', () => {
  it('stops on Ctrl-C (SIGINT) gracefully, with no agent process left', async () => {
    // One process (node with the tsx loader), so the signal reaches the demo itself.
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/start.ts', '--port', '0', '--agents', '3'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const demo = runDemo(child);
    const url = await demo.dashboardUrl;
    expect((await fetch(`${url}api/circuit-breaker/health`)).status).toBe(200);
    child.kill('SIGINT');
    const { code, lines } = await demo.exited;
    expect(code, lines.join('\n')).toBe(0);
    expect(lines.some((l) => l.includes('stopping (Ctrl-C)'))).toBe(true);
    expect(lines).toContain('agent processes left: none');
    const pids = demo.agentPids();
    expect(pids.length).toBe(3);
    for (const pid of pids) expect(isRunning(pid), `pid ${pid}`).toBe(false);
    await expect(fetch(`${url}api/circuit-breaker/health`)).rejects.toThrow();
  });
});
