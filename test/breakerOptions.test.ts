import { describe, expect, it } from 'vitest';
import { ConfigError, createCircuitBreaker } from '../src/index.js';

const cases: Array<[string, unknown, string]> = [
  ['an unknown key', { failureTreshold: 3 }, 'failureTreshold'],
  ['a non-object', 42, 'options'],
  ['a negative threshold', { failureThreshold: -1 }, 'failureThreshold'],
  ['a fractional threshold', { failureThreshold: 2.5 }, 'failureThreshold'],
  ['NaN', { failureThreshold: Number.NaN }, 'failureThreshold'],
  ['Infinity backoff', { backoff: { initialMs: Number.POSITIVE_INFINITY } }, 'backoff.initialMs'],
  ['a string number', { halfOpenMaxCalls: '3' }, 'halfOpenMaxCalls'],
  ['halfOpenMaxCalls < 1', { halfOpenMaxCalls: 0 }, 'halfOpenMaxCalls'],
  ['multiplier < 1', { backoff: { multiplier: 0.5 } }, 'backoff.multiplier'],
  ['maxMs below initialMs', { backoff: { initialMs: 5000, maxMs: 1000 } }, 'backoff.maxMs'],
  ['an unknown jitter', { backoff: { jitter: 'random' } }, 'backoff.jitter'],
  ['an unknown backoff key', { backoff: { initial: 1 } }, 'backoff.initial'],
  ['an empty id', { id: '' }, 'id'],
  ['a zero slowCallMs', { slowCallMs: 0 }, 'slowCallMs'],
  ['a zero halfOpenTimeoutMs', { halfOpenTimeoutMs: 0 }, 'halfOpenTimeoutMs'],
  ['an unknown trip kind', { trip: { kind: 'sometimes' } }, 'trip.kind'],
  ['a consecutive trip without threshold', { trip: { kind: 'consecutive' } }, 'trip.threshold'],
  [
    'a rate above 1',
    { trip: { kind: 'rate', window: 'count', size: 10, minimumCalls: 5, failureRate: 1.5 } },
    'trip.failureRate',
  ],
  [
    'minimumCalls above size',
    { trip: { kind: 'rate', window: 'count', size: 10, minimumCalls: 20, failureRate: 0.5 } },
    'trip.minimumCalls',
  ],
  [
    'an unknown window',
    { trip: { kind: 'rate', window: 'sliding', size: 10, minimumCalls: 5, failureRate: 0.5 } },
    'trip.window',
  ],
  ['a clock without now', { clock: { setTimeout, clearTimeout } }, 'clock.now'],
];

describe('createCircuitBreaker validates its options', () => {
  it.each(cases)('%s → ConfigError naming the field', (_name, options, field) => {
    let error: unknown;
    try {
      createCircuitBreaker(options as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
    expect((error as ConfigError).message).toContain(field);
  });

  it('names the value in the message', () => {
    expect(() => createCircuitBreaker({ backoff: { multiplier: 0.5 } })).toThrow(
      'Invalid option backoff.multiplier: expected a finite number ≥ 1, got 0.5',
    );
  });
});
