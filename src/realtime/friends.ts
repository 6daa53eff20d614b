/**
 * A user's friend list, cached in their object. A load that overlapped an
 * invalidation is not trusted: it is repeated, so nobody acts on a list read
 * before a friendship changed.
 */
export class FriendCache {
  #cached: { ids: ReadonlySet<string>; at: number } | undefined;
  #loading: Promise<ReadonlySet<string>> | undefined;
  #gen = 0;

  constructor(
    private readonly load: () => Promise<string[]>,
    private readonly ttlMs: number
  ) {}

  /** The list if it is cached and fresh, without waiting. */
  peek(): ReadonlySet<string> | undefined {
    return this.#cached && Date.now() - this.#cached.at < this.ttlMs ? this.#cached.ids : undefined;
  }

  async get(): Promise<ReadonlySet<string>> {
    for (;;) {
      if (this.#cached && Date.now() - this.#cached.at < this.ttlMs) return this.#cached.ids;
      const gen = this.#gen;
      if (!this.#loading) {
        const at = Date.now();
        this.#loading = this.load()
          .then((ids) => {
            const set = new Set(ids);
            if (gen === this.#gen) this.#cached = { ids: set, at };
            return set;
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
