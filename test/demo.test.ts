/**
 * `npm start -- --duration 8`, for real: agent processes on 127.0.0.1, the scripted outage, the
 * dashboard. It must exit 0, serve the API while running, show the killed agent's circuit open and
 * close again, and leave no agent process behind. Real time by nature (a real network of
 * processes); nothing asserts a wall-clock threshold.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isRunning, runDemo } from './demoHarness.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('npm start', () => {
  it('runs the scenario for --duration 8, serves the API, recovers the killed agent, leaves no process', async () => {
    const child = spawn('npm', ['start', '--silent', '--', '--duration', '8', '--port', '0'], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const demo = runDemo(child);
    const url = await demo.dashboardUrl;

    const health = await fetch(`${url}api/circuit-breaker/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ total_agents: 6 });
    const metrics = await (await fetch(`${url}metrics`)).text();
    expect(metrics).toContain('breakerbox_circuitbreaker_state{name="agent-2",state="closed"}');
    expect((await fetch(url)).headers.get('content-type')).toBe('text/html; charset=utf-8');

    const { code, lines } = await demo.exited;
    expect(code, lines.join('\n')).toBe(0);
    const killed = lines.findIndex((l) => /scenario agent-2 process killed \(pid \d+\)/.test(l));
    const opened = lines.findIndex((l) => l.includes('transition agent-2 closed → open'));
    const restarted = lines.findIndex((l) => /scenario agent-2 process restarted/.test(l));
    const closed = lines.findLastIndex((l) => l.includes('transition agent-2 half_open → closed'));
    expect(killed, lines.join('\n')).toBeGreaterThan(-1);
    expect(opened).toBeGreaterThan(killed);
    expect(restarted).toBeGreaterThan(opened);
    expect(closed).toBeGreaterThan(restarted);
    expect(lines).toContain('agent processes left: none');

    // Every agent process that ever ran (six, plus the restarted one) is gone.
    const pids = demo.agentPids();
    expect(pids.length).toBe(7);
    for (const pid of pids) expect(isRunning(pid), `pid ${pid}`).toBe(false);
  });
});
