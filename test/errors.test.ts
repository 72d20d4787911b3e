/**
 * The errors an outage rejects tasks with (every circuit open, an open breaker, a stopped
 * supervisor) are built without V8's Error constructor, for speed. They must still behave as
 * errors wherever users meet them: `instanceof`, `name`, `code`, `message`, `stack`, `String()`,
 * `util.inspect`, assignment, and the rejection reaching its handler.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  AllAgentsFailedError,
  BreakerboxError,
  CircuitOpenError,
  createCircuitBreaker,
  createSupervisor,
  SupervisorStoppedError,
} from '../src/index.js';

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: Error) => error,
  );
}

async function allOpenRejection() {
  const supervisor = createSupervisor({ agents: [{ id: 'a', run: async () => 'ok' }] });
  supervisor.isolate('a');
  const error = await rejectionOf(supervisor.route('t'));
  await supervisor.stop();
  return error;
}

async function openBreakerRejection() {
  const breaker = createCircuitBreaker({ id: 'b' });
  breaker.isolate();
  const error = await rejectionOf(breaker.execute(async () => 'never'));
  breaker.stop();
  return error;
}

async function stoppedRejection() {
  const supervisor = createSupervisor({ agents: [{ id: 'a', run: async () => 'ok' }] });
  await supervisor.stop();
  return rejectionOf(supervisor.route('t'));
}

const cases = [
  {
    what: 'every circuit open',
    reject: allOpenRejection,
    ErrorClass: AllAgentsFailedError,
    code: 'BREAKERBOX_ALL_AGENTS_FAILED',
    message: 'Task task-1: all agents failed (a: rejected - circuit isolated)',
    fields: ['taskId', 'attempts'],
  },
  {
    what: 'an open breaker',
    reject: openBreakerRejection,
    ErrorClass: CircuitOpenError,
    code: 'BREAKERBOX_CIRCUIT_OPEN',
    message: 'Circuit for b is isolated',
    fields: ['agentId', 'state', 'retryAfterMs'],
  },
  {
    what: 'a stopped supervisor',
    reject: stoppedRejection,
    ErrorClass: SupervisorStoppedError,
    code: 'BREAKERBOX_STOPPED',
    message: 'Task task-1 rejected: the supervisor is stopped',
    fields: ['taskId'],
  },
] as const;

describe.each(cases)(
  'the rejection of $what, built without a stack',
  ({ reject, ErrorClass, code, message, fields }) => {
    it('is an instance of its class, of BreakerboxError and of Error, with its name, code and message', async () => {
      const error = await reject();
      expect(error).toBeInstanceOf(ErrorClass);
      expect(error).toBeInstanceOf(BreakerboxError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(ErrorClass.name);
      expect((error as BreakerboxError).code).toBe(code);
      expect(error.message).toBe(message);
      expect(String(error)).toBe(`${ErrorClass.name}: ${message}`);
    });

    it('prints like an error: a one-line stack, as inspect shows it; its own keys are its fields', async () => {
      const error = await reject();
      expect(error.stack).toBe(`${ErrorClass.name}: ${message}`);
      expect(inspect(error)).toMatch(new RegExp(`^\\[${ErrorClass.name}: `));
      expect(Object.keys(error)).toEqual(fields);
    });

    it('takes an assigned message and stack, as a native error does (strict mode would throw otherwise)', async () => {
      const error = await reject();
      error.message = `wrapped: ${error.message}`;
      error.stack = 'custom stack';
      expect(error.message).toBe(`wrapped: ${message}`);
      expect(error.stack).toBe('custom stack');
      expect(String(error)).toBe(`${ErrorClass.name}: wrapped: ${message}`);
    });
  },
);

describe('errors built with their constructor', () => {
  it('keep a native stack and compute the same message', () => {
    const error = new CircuitOpenError('x', 'open', 250);
    expect(error.message).toBe('Circuit for x is open; retry after 250 ms');
    expect(error.stack?.split('\n').length).toBeGreaterThan(1);
    expect(error.stack).toContain('errors.test.ts');
  });
});
