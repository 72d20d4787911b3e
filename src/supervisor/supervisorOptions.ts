/** Validation of `createSupervisor` options, agent specs and route options. */
import { validateBreakerOptions, validateClock } from '../breaker/validateBreakerOptions.js';
import { ConfigError } from '../common/errors.js';
import {
  checkFunction,
  checkId,
  checkKnownKeys,
  checkNumber,
  checkObject,
  checkOneOf,
  checkPlainObject,
  MAX_TIMER_MS,
  optional,
} from '../common/validate.js';
import { validateInspectorOptions } from '../inspection/inspectorRelay.js';
import { validateSnapshot } from './snapshot.js';
import type { AgentSpec, RouteOptions, StopOptions, SupervisorOptions } from './supervisorTypes.js';

const SUPERVISOR_KEYS = [
  'agents',
  'breaker',
  'routing',
  'failureLogSize',
  'clock',
  'shardSize',
  'eagerActors',
  'inspect',
  'onError',
  'restore',
  'sync',
] as const;
const ROUTING_KEYS = [
  'policy',
  'maxAttempts',
  'attemptTimeoutMs',
  'retryBudget',
  'maxEjectionPercent',
  'panicThreshold',
  'isFailure',
] as const;
const AGENT_KEYS = ['id', 'run', 'priority', 'weight', 'breaker'] as const;
const ROUTE_KEYS = ['taskId', 'agents', 'signal', 'timeoutMs'] as const;

export function validateSupervisorOptions(options: unknown): asserts options is SupervisorOptions {
  checkPlainObject(options, 'options');
  checkKnownKeys(options, '', SUPERVISOR_KEYS);
  optional(options.breaker, (breaker) => validateBreakerDefaults(breaker, 'breaker'));
  optional(options.clock, (clock) => validateClock(clock, 'clock'));
  optional(options.failureLogSize, (v) => checkNumber(v, 'failureLogSize', { min: 1, max: 1_000_000, integer: true }));
  optional(options.shardSize, (v) => checkNumber(v, 'shardSize', { min: 1, max: 100_000, integer: true }));
  optional(options.eagerActors, (v) => {
    if (typeof v !== 'boolean') throw new ConfigError('eagerActors', v, 'a boolean');
  });
  optional(options.onError, (v) => checkFunction(v, 'onError'));
  optional(options.restore, (v) => validateSnapshot(v));
  optional(options.sync, (sync) => {
    checkObject(sync, 'sync');
    checkFunction(sync.attach, 'sync.attach');
    checkFunction(sync.publish, 'sync.publish');
    checkFunction(sync.detach, 'sync.detach');
    if (sync.probeLease !== undefined && (typeof sync.probeLease !== 'object' || sync.probeLease === null)) {
      throw new ConfigError('sync.probeLease', sync.probeLease, 'an XState actor logic');
    }
  });
  optional(options.inspect, (v) => {
    if (typeof v !== 'boolean') validateInspectorOptions(v);
  });
  optional(options.routing, (routing) => {
    checkPlainObject(routing, 'routing');
    checkKnownKeys(routing, 'routing', ROUTING_KEYS);
    optional(routing.policy, (v) => checkOneOf(v, 'routing.policy', ['priority', 'round-robin', 'least-outstanding']));
    optional(routing.maxAttempts, (v) => checkNumber(v, 'routing.maxAttempts', { min: 1, max: 1000, integer: true }));
    optional(routing.attemptTimeoutMs, (v) =>
      checkNumber(v, 'routing.attemptTimeoutMs', { min: 0, minExclusive: true, max: MAX_TIMER_MS }),
    );
    optional(routing.maxEjectionPercent, (v) => checkNumber(v, 'routing.maxEjectionPercent', { min: 0, max: 100 }));
    optional(routing.panicThreshold, (v) => checkNumber(v, 'routing.panicThreshold', { min: 0, max: 100 }));
    optional(routing.isFailure, (v) => checkFunction(v, 'routing.isFailure'));
    optional(routing.retryBudget, (budget) => {
      checkPlainObject(budget, 'routing.retryBudget');
      checkKnownKeys(budget, 'routing.retryBudget', ['ratio', 'minRetriesPerSecond', 'windowMs']);
      checkNumber(budget.ratio, 'routing.retryBudget.ratio', { min: 0 });
      optional(budget.minRetriesPerSecond, (v) =>
        checkNumber(v, 'routing.retryBudget.minRetriesPerSecond', { min: 0 }),
      );
      optional(budget.windowMs, (v) => checkNumber(v, 'routing.retryBudget.windowMs', { min: 1000 }));
    });
  });
  optional(options.agents, (agents) => {
    if (!Array.isArray(agents)) throw new ConfigError('agents', agents, 'an array of agent specs');
    const seen = new Set<string>();
    // A for loop, not forEach: forEach skips the holes of a sparse array.
    for (let i = 0; i < agents.length; i++) {
      const agent: unknown = agents[i];
      validateAgentSpec(agent, `agents[${i}]`);
      if (seen.has(agent.id)) throw new ConfigError(`agents[${i}].id`, agent.id, 'an id not used by another agent');
      seen.add(agent.id);
    }
  });
}

export function validateAgentSpec(spec: unknown, field = 'agent'): asserts spec is AgentSpec {
  checkPlainObject(spec, field);
  checkKnownKeys(spec, field, AGENT_KEYS);
  checkId(spec.id, `${field}.id`);
  checkFunction(spec.run, `${field}.run`);
  optional(spec.priority, (v) => checkNumber(v, `${field}.priority`));
  optional(spec.weight, (v) => checkNumber(v, `${field}.weight`, { min: 0, minExclusive: true }));
  optional(spec.breaker, (breaker) => validateBreakerDefaults(breaker, `${field}.breaker`));
}

/** Breaker options inside a supervisor: no clock or id of their own (they would be ignored). */
function validateBreakerDefaults(breaker: unknown, field: string): void {
  validateBreakerOptions(breaker, field);
  for (const key of ['clock', 'id'] as const) {
    if ((breaker as Record<string, unknown>)[key] !== undefined) {
      throw new ConfigError(
        `${field}.${key}`,
        (breaker as Record<string, unknown>)[key],
        `no ${key} here (set the supervisor's ${key === 'clock' ? 'clock' : 'agent ids'})`,
      );
    }
  }
}

export function validateStopOptions(options: unknown): asserts options is StopOptions {
  checkPlainObject(options, 'stop options');
  checkKnownKeys(options, '', ['drainMs']);
  optional(options.drainMs, (v) => checkNumber(v, 'drainMs', { min: 0, max: MAX_TIMER_MS }));
}

export function validateRouteOptions(
  options: unknown,
  isKnown: (id: string) => boolean,
): asserts options is RouteOptions {
  checkPlainObject(options, 'route options');
  checkKnownKeys(options, '', ROUTE_KEYS);
  optional(options.taskId, (v) => checkId(v, 'taskId'));
  optional(options.timeoutMs, (v) => checkNumber(v, 'timeoutMs', { min: 0, minExclusive: true, max: MAX_TIMER_MS }));
  optional(options.signal, (v) => {
    if (!(v instanceof AbortSignal)) throw new ConfigError('signal', v, 'an AbortSignal');
  });
  optional(options.agents, (agents) => validateAgentIds(agents, 'agents', isKnown));
}

export function validateAgentIds(
  agents: unknown,
  field: string,
  isKnown?: (id: string) => boolean,
): asserts agents is string[] {
  if (!Array.isArray(agents) || agents.length === 0)
    throw new ConfigError(field, agents, 'a non-empty array of agent ids');
  // A for loop, not forEach: forEach skips the holes of a sparse array.
  const seen = new Set<string>();
  for (let i = 0; i < agents.length; i++) {
    const id: unknown = agents[i];
    checkId(id, `${field}[${i}]`);
    if (isKnown && !isKnown(id)) throw new ConfigError(`${field}[${i}]`, id, 'the id of a registered agent');
    if (seen.has(id)) throw new ConfigError(`${field}[${i}]`, id, 'an id not already in the list');
    seen.add(id);
  }
}
