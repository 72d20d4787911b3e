/**
 * The supervisor's side of the Stately inspector: `createSupervisor` is synchronous but starting
 * the inspector is not, so inspection events wait in a bounded buffer until it is connected.
 */
import type { InspectionEvent } from 'xstate';
import { createInspector, type InspectorOptions } from './inspectorRelay.js';

/** Events kept while the inspector starts: enough for 10,000 actors' registrations. */
const MAX_BUFFERED = 50_000;

export interface Inspection {
  inspect(event: InspectionEvent): void;
  /** Resolves with the inspector's page, or undefined if it could not start. */
  readonly ready: Promise<string | undefined>;
  stop(): Promise<void>;
}

export function startInspection(
  options: InspectorOptions,
  reportError: (error: unknown, where: string) => void,
): Inspection {
  let buffer: InspectionEvent[] | undefined = [];
  let forward: ((event: InspectionEvent) => void) | undefined;
  let stopped = false;
  const started = createInspector(options).then(
    (inspector) => {
      if (stopped) {
        void inspector.stop();
        return undefined;
      }
      forward = inspector.inspect;
      for (const event of buffer ?? []) forward(event);
      buffer = undefined;
      return inspector;
    },
    (error: unknown) => {
      reportError(error, 'inspector');
      buffer = undefined;
      return undefined;
    },
  );
  return {
    inspect(event) {
      if (forward !== undefined) forward(event);
      else if (buffer !== undefined && buffer.length < MAX_BUFFERED) buffer.push(event);
    },
    ready: started.then((inspector) => inspector?.url),
    async stop() {
      stopped = true;
      buffer = undefined;
      forward = undefined;
      const inspector = await started;
      await inspector?.stop();
    },
  };
}
