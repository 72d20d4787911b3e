/**
 * The demo's terminal output. On a TTY: a live table (agent, state, successes, failures,
 * rejections, next probe in) redrawn in place, with the latest events under it. Otherwise (a pipe,
 * a CI log): one plain line per event, and a status line every few seconds.
 */
import type { Subscription } from 'rxjs';
import { retryAfterMs } from '../src/http/wire.js';
import type { BreakerState, Supervisor } from '../src/index.js';

const COLORS: Record<BreakerState, string> = {
  closed: '\x1b[32m',
  open: '\x1b[31m',
  half_open: '\x1b[33m',
  isolated: '\x1b[90m',
};
const RESET = '\x1b[0m';
const BOLD = '\x1b[1m';
const DIM = '\x1b[2m';
const REDRAW_MS = 250;
const STATUS_EVERY_MS = 5000;
const RECENT_EVENTS = 8;

/** Text from agents goes to a terminal: no control characters (no escape sequences smuggled in). */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

export interface TerminalViewOptions {
  out: NodeJS.WriteStream;
  /** Redraw a table in place (a TTY), or print lines. */
  live: boolean;
  header: string[];
}

export class TerminalView {
  private readonly startedAt = performance.now();
  private readonly recent: string[] = [];
  private subscription: Subscription | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private drawnLines = 0;
  private lastStatusAt = this.startedAt;

  constructor(
    private readonly supervisor: Supervisor,
    private readonly options: TerminalViewOptions,
  ) {}

  start(): void {
    const { out, live, header } = this.options;
    if (live) out.write('\x1b[?25l');
    else for (const line of header) out.write(`${line}\n`);
    this.subscription = this.supervisor.transitions$.subscribe((t) => {
      this.event(`transition ${t.agentId} ${t.from} → ${t.to} (${t.reason})`);
    });
    this.timer = setInterval(() => (live ? this.draw() : this.status()), live ? REDRAW_MS : 500);
    if (live) this.draw();
  }

  /** One event: a line of its own, or the table's recent list. */
  event(text: string): void {
    const line = `${this.elapsed()} ${printable(text)}`;
    if (this.options.live) {
      this.recent.push(line);
      if (this.recent.length > RECENT_EVENTS) this.recent.shift();
    } else {
      this.options.out.write(`${line}\n`);
    }
  }

  /** Stops redrawing; prints the last table (live) and `summary`. */
  stop(summary: string[]): void {
    this.subscription?.unsubscribe();
    if (this.timer !== undefined) clearInterval(this.timer);
    const { out, live } = this.options;
    if (live) {
      this.draw();
      out.write('\x1b[?25h');
    }
    for (const line of summary) out.write(`${printable(line)}\n`);
  }

  private elapsed(): string {
    return `${((performance.now() - this.startedAt) / 1000).toFixed(1).padStart(5)}s`;
  }

  private status(): void {
    const now = performance.now();
    if (now - this.lastStatusAt < STATUS_EVERY_MS) return;
    this.lastStatusAt = now;
    const h = this.supervisor.getHealthStatus();
    const { tasks } = this.supervisor.getStats();
    this.event(
      `status ${h.totalAgents} agents: ${h.healthyAgents} closed, ${h.openCircuits} open, ${h.halfOpenCircuits} half-open · tasks ${tasks.succeeded} ok, ${tasks.failed} failed, ${tasks.rejected} rejected`,
    );
  }

  private draw(): void {
    const { out, header } = this.options;
    const width = Math.max(40, (out.columns ?? 100) - 1);
    const stats = this.supervisor.getStats();
    const rows = stats.agents.map((a) => {
      const retry = a.state === 'open' ? retryAfterMs(this.supervisor, a.agentId) : null;
      return [
        printable(a.agentId),
        a.state,
        String(a.successful),
        String(a.failed + a.timeout),
        String(a.notPermitted),
        String(a.inFlight),
        retry === null ? '' : `${(retry / 1000).toFixed(1)} s`,
      ];
    });
    const titles = ['agent', 'state', 'successes', 'failures', 'rejections', 'in flight', 'next probe in'];
    const widths = titles.map((t, i) => Math.max(t.length, ...rows.map((r) => (r[i] as string).length)));
    const format = (cells: string[], state?: BreakerState) =>
      cells
        .map((cell, i) => {
          const padded = i >= 2 ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number);
          return i === 1 && state ? `${COLORS[state]}${padded}${RESET}` : padded;
        })
        .join('  ');
    const h = this.supervisor.getHealthStatus();
    const lines = [
      ...header,
      '',
      `${BOLD}${format(titles)}${RESET}`,
      ...rows.map((r, i) => format(r, stats.agents[i]?.state)),
      '',
      `${this.elapsed()}  tasks ${stats.tasks.succeeded} ok · ${stats.tasks.failed} failed · ${stats.tasks.rejected} rejected · ${stats.failovers} failovers · ${h.openCircuits} open, ${h.halfOpenCircuits} half-open`,
      `${DIM}recent events:${RESET}`,
      ...this.recent,
    ];
    // Cut long lines so each is one terminal row and the cursor arithmetic holds.
    const text = lines.map((line) => clip(line, width)).join('\n');
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F\x1b[J` : '';
    out.write(`${up}${text}\n`);
    this.drawnLines = lines.length;
  }
}

/** Cuts a line to `width` visible characters, keeping its escape sequences. */
function clip(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i);
      if (end !== -1) {
        out += line.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    if (visible >= width) continue;
    out += line[i];
    visible++;
  }
  return out + (visible >= width ? RESET : '');
}
