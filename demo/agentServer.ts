/**
 * One demo agent process: a small node:http server on 127.0.0.1 that answers `POST /task` after
 * its profile's latency, failing as often as its profile says. Forked by `agentProcesses.ts`; it
 * reports its port over IPC, takes profile changes over IPC, and exits when its parent goes away.
 *
 * Environment: AGENT_ID, AGENT_PORT (0 = any), AGENT_SEED, AGENT_PROFILE (JSON).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AgentProfile, drawOutcome, seededRandom } from './profiles.js';

export type ParentMessage = { type: 'profile'; profile: AgentProfile };
export type ChildMessage = { type: 'listening'; port: number } | { type: 'failed'; error: string };

const agentId = process.env.AGENT_ID ?? 'agent';
let profile = JSON.parse(process.env.AGENT_PROFILE ?? '{}') as AgentProfile;
const random = seededRandom(Number(process.env.AGENT_SEED ?? 1));
const startedAt = performance.now();
const MAX_BODY = 4096;

const send = (message: ChildMessage) => process.send?.(message);

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ agent_id: agentId, ok: true }));
    return;
  }
  if (req.method !== 'POST' || req.url !== '/task') {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    return;
  }
  let size = 0;
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    size += chunk.length;
    if (size <= MAX_BODY) body += chunk;
  });
  req.on('end', () => {
    if (size > MAX_BODY) {
      res.writeHead(413, { 'content-type': 'application/json' }).end('{"error":"too large"}');
      return;
    }
    const outcome = drawOutcome(profile, random, performance.now() - startedAt);
    const timer = setTimeout(() => {
      if (outcome.failure !== null) {
        const status = Number(/^HTTP (\d{3})/.exec(outcome.failure)?.[1] ?? 500);
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: outcome.failure }));
        return;
      }
      let taskId: unknown = null;
      try {
        taskId = (JSON.parse(body) as { task_id?: unknown }).task_id ?? null;
      } catch {}
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ agent_id: agentId, task_id: taskId, result: 'done' }));
    }, outcome.delayMs);
    // The caller gave up (its attempt timed out): stop working on it.
    res.on('close', () => clearTimeout(timer));
  });
});

process.on('message', (message: ParentMessage) => {
  if (message?.type === 'profile') profile = message.profile;
});
// The parent is gone (even killed with SIGKILL): never outlive it.
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group; the parent decides when agents stop.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});

server.on('error', (error) => {
  send({ type: 'failed', error: error.message });
  process.exit(1);
});
server.listen(Number(process.env.AGENT_PORT ?? 0), '127.0.0.1', () => {
  send({ type: 'listening', port: (server.address() as AddressInfo).port });
});
