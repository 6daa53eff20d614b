/**
 * Coalesces deliveries per target: at most one call in flight per target,
 * and everything queued while it runs goes out together in the next call.
 * Under load a sender with a window of N messages to one peer makes about
 * one cross-object call per round trip instead of N.
 */
export class Courier<T, R> {
  readonly #queues = new Map<string, { items: T[]; waiters: Waiter<R>[] }>();
  readonly #busy = new Set<string>();

  constructor(
    private readonly call: (target: string, items: T[]) => Promise<R[]>,
    private readonly maxBatch = 128
  ) {}

  /** Resolves with this item's result, or rejects with the batch's error. */
  send(target: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let q = this.#queues.get(target);
      if (!q) this.#queues.set(target, (q = { items: [], waiters: [] }));
      q.items.push(item);
      q.waiters.push({ resolve, reject });
      if (!this.#busy.has(target)) void this.#drain(target);
    });
  }

  /** Items waiting for `target` behind the call in flight, in the order they were sent. */
  queued(target: string): readonly T[] {
    return this.#queues.get(target)?.items ?? [];
  }

  async #drain(target: string): Promise<void> {
    this.#busy.add(target);
    try {
      for (;;) {
        const q = this.#queues.get(target);
        if (!q || q.items.length === 0) break;
        const items = q.items.splice(0, this.maxBatch);
        const waiters = q.waiters.splice(0, this.maxBatch);
        if (q.items.length === 0) this.#queues.delete(target);
        try {
          const results = await this.call(target, items);
          waiters.forEach((w, i) => w.resolve(results[i]!));
        } catch (err) {
          for (const w of waiters) w.reject(err);
        }
      }
    } finally {
      this.#busy.delete(target);
    }
  }
}

interface Waiter<R> {
  resolve(r: R): void;
  reject(e: unknown): void;
}
