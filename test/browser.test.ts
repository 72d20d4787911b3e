/**
 * The visualizer in a real headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against a live supervisor with simulated agents on XState's SimulatedClock: an agent fails, its
 * tile turns red with a countdown to the probe, then green after recovery; the statechart follows
 * it; an XSS agent id renders as text. Screenshots go to test-results/browser/.
 *
 * Without Chromium these tests are skipped, loudly; with BREAKERBOX_REQUIRE_BROWSER=1 (set by
 * .ci/run) a missing browser fails the run.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createSupervisor, type DashboardServer, type Supervisor, serveDashboard } from '../src/index.js';

const CHROMIUM = process.env.BREAKERBOX_CHROMIUM ?? '/usr/bin/chromium';
const REQUIRED = process.env.BREAKERBOX_REQUIRE_BROWSER === '1';
const available = existsSync(CHROMIUM);
const SHOTS = fileURLToPath(new URL('../test-results/browser/', import.meta.url));
const XSS_ID = '<img src=x onerror=window.__xss=1>';

if (!available && !REQUIRED) {
  const bar = '!'.repeat(78);
  console.warn(
    `\n${bar}\n!! BROWSER TESTS SKIPPED: no Chromium at ${CHROMIUM}.\n!! Install it with: apt-get update && apt-get install -y chromium\n!! (.ci/run does; BREAKERBOX_REQUIRE_BROWSER=1 turns this skip into a failure)\n${bar}\n`,
  );
}

describe.runIf(!available && REQUIRED)('browser required', () => {
  it('finds Chromium (BREAKERBOX_REQUIRE_BROWSER=1)', () => {
    expect.fail(`BREAKERBOX_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM}`);
  });
});

describe.skipIf(!available)('the visualizer in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  let dashboard: DashboardServer;
  let supervisor: Supervisor;
  const clock = new SimulatedClock();
  const healthy = new Map<string, boolean>([
    ['alpha', true],
    ['beta', true],
    [XSS_ID, true],
  ]);
  const problems: string[] = [];

  beforeAll(async () => {
    supervisor = createSupervisor({
      clock,
      routing: { maxAttempts: 1 },
      agents: [...healthy.keys()].map((id) => ({
        id,
        run: async () => {
          if (!healthy.get(id)) throw new Error(`${id} refused: <b>not bold</b>`);
          return id;
        },
      })),
    });
    // A little traffic so the tiles have counts.
    for (let i = 0; i < 6; i++) await supervisor.route(i);
    dashboard = await serveDashboard(supervisor, { port: 0, frameIntervalMs: 100 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    mkdirSync(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await supervisor?.stop({ drainMs: 0 });
  });

  const tileState = (id: string) =>
    page.evaluate(
      (agent) =>
        Array.from(document.querySelectorAll<HTMLElement>('.tile')).find((t) => t.dataset.agent === agent)?.dataset
          .state,
      id,
    );
  const waitForTile = (id: string, state: string) =>
    page.waitForFunction(
      ([agent, expected]) =>
        Array.from(document.querySelectorAll<HTMLElement>('.tile')).find((t) => t.dataset.agent === agent)?.dataset
          .state === expected,
      [id, state] as const,
      { timeout: 10_000 },
    );

  it('loads the page, goes live and draws a tile per agent', async () => {
    await page.goto(dashboard.url);
    await page.waitForSelector('#connection[data-status="live"]', { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('.tile').length === 3, undefined, { timeout: 10_000 });
    expect(await tileState('alpha')).toBe('closed');
    await page.waitForSelector('.statechart .state[data-state="half_open"]');
    expect(await page.textContent('.statechart .state[data-state="half_open"] text')).toBe('half-open');
    const summary = await page.textContent('#summary');
    expect(summary).toContain('3 agents');
    expect(summary).toContain('0 isolated');
  });

  it('renders an agent id full of HTML as text', async () => {
    const name = await page.evaluate(
      (agent) =>
        Array.from(document.querySelectorAll<HTMLElement>('.tile'))
          .find((t) => t.dataset.agent === agent)
          ?.querySelector('.name')?.textContent,
      XSS_ID,
    );
    expect(name).toBe(XSS_ID);
    expect(await page.evaluate(() => document.querySelectorAll('img').length)).toBe(0);
    expect(await page.evaluate(() => (window as { __xss?: unknown }).__xss)).toBeUndefined();
  });

  it('turns a failing agent red with a countdown to its next probe', async () => {
    healthy.set('beta', false);
    for (let i = 0; i < 5; i++) await supervisor.route(i, { agents: ['beta'], taskId: `fail-${i}` }).catch(() => {});
    expect(supervisor.getAgent('beta')?.state).toBe('open');
    await waitForTile('beta', 'open');
    const countdown = await page.evaluate(
      () =>
        Array.from(document.querySelectorAll<HTMLElement>('.tile'))
          .find((t) => t.dataset.agent === 'beta')
          ?.querySelector('.countdown')?.textContent,
    );
    expect(countdown).toMatch(/^(next probe in \d+\.\d s|probe due)$/);
    // Hystrix's order: the failing agent sorts first.
    await page.waitForFunction(() => document.querySelector<HTMLElement>('.tile')?.dataset.agent === 'beta');
    // The failure timeline shows the reason as text.
    await page.waitForFunction(() => document.querySelector('#failures li .reason')?.textContent?.includes('<b>'));
    expect(await page.evaluate(() => document.querySelectorAll('#failures b').length)).toBe(0);
    // Selected, the statechart highlights its state.
    await page.click('.tile[data-agent="beta"]');
    await page.waitForSelector('.statechart .state[data-state="open"].current');
    await page.waitForSelector('.statechart .edge.last[data-from="closed"][data-to="open"]');
    await page.waitForFunction(() => document.querySelector('#summary')?.textContent?.includes('1 open'));
    await page.screenshot({ path: `${SHOTS}dashboard-open.png`, fullPage: true });
  });

  it('turns it green again after the backoff and three successful probes', async () => {
    clock.increment(1000);
    await waitForTile('beta', 'half_open');
    await page.waitForSelector('.statechart .state[data-state="half_open"].current');
    healthy.set('beta', true);
    for (let i = 0; i < 3; i++) await supervisor.route(i, { agents: ['beta'], taskId: `probe-${i}` });
    expect(supervisor.getAgent('beta')?.state).toBe('closed');
    await waitForTile('beta', 'closed');
    await page.waitForSelector('.statechart .edge.last[data-from="half_open"][data-to="closed"]');
    const log = await page.textContent('#transitions');
    expect(log).toContain('beta');
    expect(log).toContain('probes succeeded');
    await page.screenshot({ path: `${SHOTS}dashboard-recovered.png`, fullPage: true });
    expect(problems).toEqual([]);
  });
});
