import type { Peers } from "../db/friendships";

/**
 * A user's friends and blocks, cached in their object. A load that
 * overlapped an invalidation is not trusted: it is repeated, so nobody acts
 * on a list read before a friendship or block changed.
 */
export class FriendCache {
  #cached: { ids: Peers; at: number } | undefined;
  #loading: Promise<Peers> | undefined;
  #gen = 0;

  constructor(
    private readonly load: () => Promise<Peers>,
    private readonly ttlMs: number
  ) {}

  /** The peers if cached and fresh, without waiting. */
  peek(): Peers | undefined {
    return this.#cached && Date.now() - this.#cached.at < this.ttlMs ? this.#cached.ids : undefined;
  }

  async get(): Promise<Peers> {
    for (;;) {
      if (this.#cached && Date.now() - this.#cached.at < this.ttlMs) return this.#cached.ids;
      const gen = this.#gen;
      if (!this.#loading) {
        const at = Date.now();
        this.#loading = this.load()
          .then((ids) => {
            if (gen === this.#gen) this.#cached = { ids, at };
            return ids;
          })
          .finally(() => {
            if (gen === this.#gen) this.#loading = undefined;
          });
      }
      const ids = await this.#loading;
      if (gen === this.#gen) return ids;
    }
  }

  invalidate(): void {
    this.#cached = undefined;
    this.#loading = undefined;
    this.#gen++;
  }
}
