/** Runs the demo as a child process and reads its line-per-event output (stdout is not a TTY). */
import type { ChildProcess } from 'node:child_process';

export interface DemoRun {
  /** The dashboard's URL, once the demo prints it. */
  dashboardUrl: Promise<string>;
  /** Exit code and every line printed (stdout and stderr). */
  exited: Promise<{ code: number | null; lines: string[] }>;
  /** Every agent process's pid the demo reported (started and restarted). */
  agentPids(): number[];
}

export function runDemo(child: ChildProcess): DemoRun {
  const lines: string[] = [];
  let partial = '';
  let resolveUrl!: (url: string) => void;
  let rejectUrl!: (error: Error) => void;
  const dashboardUrl = new Promise<string>((resolve, reject) => {
    resolveUrl = resolve;
    rejectUrl = reject;
  });
  const onData = (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      const match = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(line);
      if (match) resolveUrl(match[1] as string);
    }
  };
  // A run that exits before serving rejects dashboardUrl; a test that never awaits it is fine.
  dashboardUrl.catch(() => {});
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; lines: string[] }>((resolve) => {
    child.once('close', (code) => {
      if (partial !== '') lines.push(partial);
      rejectUrl(new Error(`the demo exited (${code}) before serving:\n${lines.join('\n')}`));
      resolve({ code, lines });
    });
  });
  return {
    dashboardUrl,
    exited,
    agentPids() {
      const pids: number[] = [];
      for (const line of lines) {
        const started = /^agent agent-\d+ pid (\d+) port \d+$/.exec(line);
        const restarted = /process restarted \(pid (\d+),/.exec(line);
        const pid = started?.[1] ?? restarted?.[1];
        if (pid !== undefined) pids.push(Number(pid));
      }
      return pids;
    },
  };
}

/** Whether a process with this pid exists (signal 0 probes without sending anything). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
