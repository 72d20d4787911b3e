/** The recent-failures log: a bounded ring buffer, so a long outage cannot grow memory. */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** Up to `limit` items, newest first. */
  newest(limit: number): T[] {
    const count = Math.min(limit, this.size);
    const out: T[] = new Array(count);
    for (let i = 0; i < count; i++) {
      out[i] = this.items[(this.next - 1 - i + this.capacity) % this.capacity] as T;
    }
    return out;
  }
}
