/**
 * The peers, configured as their docs show: cockatiel 3 (its CommonJS build, through the package's
 * `main`) with a ConsecutiveBreaker(5), and opossum 9 with its timeout off and with its default
 * (10 s, a `setTimeout` per call).
 */
import { createRequire } from 'node:module';
import cockatiel from 'cockatiel';
import CircuitBreaker from 'opossum';

const require = createRequire(import.meta.url);

/** A cockatiel circuit-breaker policy: 5 consecutive failures trip it. */
export function cockatielBreaker({ halfOpenAfter = 10_000, threshold = 5 } = {}) {
  return cockatiel.circuitBreaker(cockatiel.handleAll, {
    halfOpenAfter,
    breaker: new cockatiel.ConsecutiveBreaker(threshold),
  });
}

/** An opossum breaker around `fn`; `timeout: false` or its default (10 s). */
export function opossumBreaker(fn, { timeout, resetTimeout } = {}) {
  const options = {};
  if (timeout !== undefined) options.timeout = timeout;
  if (resetTimeout !== undefined) options.resetTimeout = resetTimeout;
  return new CircuitBreaker(fn, options);
}

/** What an open cockatiel circuit rejects with. */
export const CockatielOpenError = cockatiel.BrokenCircuitError;

/** Installed versions of the peers and of what Breakerbox runs on. */
export const versions = Object.fromEntries(
  ['cockatiel', 'opossum', 'xstate', 'rxjs', 'mitata'].map((name) => [name, require(`${name}/package.json`).version]),
);
