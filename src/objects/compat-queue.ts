import type { InboxEvent } from "../protocol";

/** DO SQLite step for the compat queue (one step of the inbox's schema list). */
export const COMPAT_QUEUE_SCHEMA = `CREATE TABLE compat_queue (seq INTEGER PRIMARY KEY)`;

const ENABLED_KEY = "compat.enabled";

/**
 * The seed's per-user offline list, over the inbox: the seqs of events no
 * compat socket has been handed yet, which `pull` returns and removes. Only
 * users who ever connected through `/ws/compat` keep one, so v1-only users
 * pay nothing. Entries name inbox rows, so retention trims them too.
 */
export class CompatQueue {
  #enabled: boolean | undefined;

  constructor(
    private readonly sql: SqlStorage,
    private readonly kv: SyncKvStorage
  ) {}

  /** Forgets cached state (after the storage was erased). */
  reset(): void {
    this.#enabled = undefined;
  }

  enabled(): boolean {
    this.#enabled ??= this.kv.get<boolean>(ENABLED_KEY) === true;
    return this.#enabled;
  }

  /**
   * Starts queuing for this user (their first compat connection). Everything
   * already in the inbox counts as not handed over: a user's first `pull`
   * returns what arrived while they had never connected.
   */
  enable(): void {
    if (this.enabled()) return;
    this.sql.exec("INSERT OR IGNORE INTO compat_queue (seq) SELECT seq FROM inbox");
    this.kv.put(ENABLED_KEY, true);
    this.#enabled = true;
  }

  add(seq: number): void {
    this.sql.exec("INSERT OR IGNORE INTO compat_queue (seq) VALUES (?)", seq);
  }

  /** Puts seqs `lo`..`hi` back (a socket died before confirming them). */
  requeue(lo: number, hi: number): void {
    this.sql.exec("INSERT OR IGNORE INTO compat_queue (seq) SELECT seq FROM inbox WHERE seq BETWEEN ? AND ?", lo, hi);
  }

  /** Up to `limit` queued events, oldest first; entries whose event retention removed are dropped. */
  peek(limit: number): InboxEvent[] {
    this.sql.exec("DELETE FROM compat_queue WHERE seq NOT IN (SELECT seq FROM inbox)");
    return this.sql
      .exec<{ seq: number; event: string }>(
        "SELECT q.seq, i.event FROM compat_queue q JOIN inbox i ON i.seq = q.seq ORDER BY q.seq LIMIT ?",
        limit
      )
      .toArray()
      .map((r) => ({ ...(JSON.parse(r.event) as Omit<InboxEvent, "seq">), seq: r.seq }) as InboxEvent);
  }

  /** Removes everything up to `seq`: what {@link peek} returned, oldest first. */
  removeThrough(seq: number): void {
    this.sql.exec("DELETE FROM compat_queue WHERE seq <= ?", seq);
  }
}
