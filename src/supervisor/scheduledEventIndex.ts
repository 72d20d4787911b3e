/**
 * Makes stopping an actor O(its own delayed events) instead of O(every delayed event of the system).
 *
 * XState 5's scheduler keeps all delayed events of a system in one object, and `cancelAll(actor)`,
 * which runs whenever any actor stops, scans all of them. A breaker holds a delayed event while open
 * or half-open, and with a shared-state adapter every exit from half-open stops its probe-lease
 * actor. So with N open circuits each stop costs O(N): resetting 10,000 half-open circuits took
 * 12.9 s (O(N²)), a mass recovery blocked the event loop the same way, and so did `stop()`. XState has no public hook for the scheduler, so this
 * wraps the system's `schedule` / `cancel` to index events by source, and replaces `cancelAll` with a
 * lookup. If the installed XState's scheduler has another shape, nothing is changed (stops are then
 * correct but slow) and `false` is returned; a test pins that it is installed for our version.
 */
import type { AnyActorRef } from 'xstate';

interface XStateScheduler {
  schedule(source: AnyActorRef, target: AnyActorRef, event: unknown, delay: number, id?: string): void;
  cancel(source: AnyActorRef, id: string): void;
  cancelAll(source: AnyActorRef): void;
}

export function indexScheduledEvents(system: AnyActorRef['system']): boolean {
  const scheduler = (system as unknown as { scheduler?: Partial<XStateScheduler> }).scheduler;
  if (
    typeof scheduler?.schedule !== 'function' ||
    typeof scheduler.cancel !== 'function' ||
    typeof scheduler.cancelAll !== 'function' ||
    scheduler.schedule.length < 4 // (source, target, event, delay, id?)
  ) {
    return false;
  }
  const schedule = scheduler.schedule.bind(scheduler);
  const cancel = scheduler.cancel.bind(scheduler);
  // Ids an actor has scheduled. An event that fires leaves its id here (XState removes it without
  // telling us); cancelling a fired id is a no-op, and an actor's ids are few (`after` ids repeat).
  const idsBySource = new Map<AnyActorRef, Set<string>>();

  scheduler.schedule = (source, target, event, delay, id = Math.random().toString(36).slice(2)) => {
    schedule(source, target, event, delay, id);
    const ids = idsBySource.get(source);
    if (ids === undefined) idsBySource.set(source, new Set([id]));
    else ids.add(id);
  };
  scheduler.cancel = (source, id) => {
    cancel(source, id);
    idsBySource.get(source)?.delete(id);
  };
  scheduler.cancelAll = (source) => {
    const ids = idsBySource.get(source);
    if (ids === undefined) return;
    idsBySource.delete(source);
    for (const id of ids) cancel(source, id);
  };
  return true;
}
