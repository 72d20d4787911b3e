/** Bearer-token checks for the routes that change state. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Compares `Authorization: Bearer <token>` in constant time (digests hide the length, too). */
export function bearerMatches(req: IncomingMessage, expectedDigest: Buffer): boolean {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return false;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (match === null) return false;
  return timingSafeEqual(digest(match[1] as string), expectedDigest);
}

export function tokenDigest(token: string): Buffer {
  return digest(token);
}
