/**
 * The members whose user objects have sockets now, as those objects told the
 * group (`attach` on connect) or answered a push: the live fan-out reaches
 * only them. A push answered "no sockets" removes the member, unless they
 * attached again after that push started (a reconnect racing it). Rows are
 * written when a member comes or goes, never per message.
 */
export class GroupOnline {
  #uids: Set<string> | undefined;
  #sorted: string[] | undefined;
  /** When each member last attached (this instance's clock; 0 after a restart). */
  readonly #since = new Map<string, number>();

  constructor(private readonly sql: SqlStorage) {}

  #load(): Set<string> {
    this.#uids ??= new Set(this.sql.exec<{ uid: string }>("SELECT uid FROM online").toArray().map((r) => r.uid));
    return this.#uids;
  }

  /** Online members, in uid order (the fan-out's order). Do not modify. */
  list(): readonly string[] {
    this.#sorted ??= [...this.#load()].sort();
    return this.#sorted;
  }

  has(uid: string): boolean {
    return this.#load().has(uid);
  }

  size(): number {
    return this.#load().size;
  }

  /** `uid`'s object has sockets (as of `now`). */
  add(uid: string, now: number): void {
    this.#since.set(uid, now);
    if (this.#load().has(uid)) return;
    this.sql.exec("INSERT OR IGNORE INTO online (uid) VALUES (?)", uid);
    this.#uids!.add(uid);
    this.#sorted = undefined;
  }

  /** A push that started at `startedAt` found no socket of `uid`: gone, unless they attached since. */
  offline(uid: string, startedAt: number): void {
    if ((this.#since.get(uid) ?? 0) >= startedAt) return;
    this.remove(uid);
  }

  remove(uid: string): void {
    if (!this.#load().delete(uid)) return;
    this.#sorted = undefined;
    this.#since.delete(uid);
    this.sql.exec("DELETE FROM online WHERE uid = ?", uid);
  }
}
