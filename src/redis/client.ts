/**
 * What the adapter needs of an ioredis client, written structurally so `breakerbox/redis` never
 * imports ioredis at run time (it is an optional peer) and works with any client of that shape.
 */
export interface RedisClient {
  /** ioredis' connection status: `'wait' | 'connecting' | 'connect' | 'ready' | 'close' | 'reconnecting' | 'end'`. */
  readonly status: string;
  /** A new connection with the same options: the adapter's subscriber. */
  duplicate(): RedisClient;
  connect(): Promise<void>;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  hgetall(key: string): Promise<Record<string, string>>;
  subscribe(...channels: string[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's own listener type, so any emitter fits
  on(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  off(event: string, listener: (...args: any[]) => void): unknown;
}
