import type { Peers } from "../db/friendships";

const KEY = "peers";

interface Stored {
  friends: string[];
  /** Absent in a copy stored before `listed` existed: such a copy is read again. */
  listed?: string[];
  blocked: string[];
  at: number;
}

/**
 * A user's peers (who lists them, whom they list) and blocks, kept in their
 * object: in memory, and in its storage so that a send after hibernation or
 * a restart needs no D1 query.
 * The routes that change a friendship or a block (and the imports) drop it
 * before they answer (`invalidate`); a copy older than `ttlMs` is read
 * again anyway, as a safety net. A load that overlapped an invalidation is
 * not trusted: it is repeated, so nobody acts on a list read before a
 * friendship or block changed.
 */
export class FriendCache {
  #cached: { ids: Peers; at: number } | undefined;
  #loading: Promise<Peers> | undefined;
  #gen = 0;

  constructor(
    private readonly load: () => Promise<Peers>,
    private readonly ttlMs: number,
    private readonly kv: SyncKvStorage
  ) {}

  /** The peers if cached (here or in storage) and fresh, without waiting. */
  peek(): Peers | undefined {
    if (!this.#cached) {
      const s = this.kv.get<Stored>(KEY);
      if (s?.listed) this.#cached = { ids: { friends: new Set(s.friends), listed: new Set(s.listed), blocked: new Set(s.blocked) }, at: s.at };
    }
    return this.#cached && Date.now() - this.#cached.at < this.ttlMs ? this.#cached.ids : undefined;
  }

  async get(): Promise<Peers> {
    for (;;) {
      const fresh = this.peek();
      if (fresh) return fresh;
      const gen = this.#gen;
      if (!this.#loading) {
        const at = Date.now();
        this.#loading = this.load()
          .then((ids) => {
            if (gen === this.#gen) {
              this.#cached = { ids, at };
              this.kv.put(KEY, { friends: [...ids.friends], listed: [...ids.listed], blocked: [...ids.blocked], at } satisfies Stored);
            }
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
    this.kv.delete(KEY);
  }
}
