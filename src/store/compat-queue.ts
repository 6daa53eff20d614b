import type { InboxEvent } from "../protocol";

/** DO SQLite steps for the compat queue (steps of the inbox's schema list; append-only). */
export const COMPAT_QUEUE_SCHEMA = `CREATE TABLE compat_queue (seq INTEGER PRIMARY KEY)`;
export const COMPAT_HANDED_SCHEMA = `ALTER TABLE compat_queue ADD COLUMN handed_to TEXT;
   ALTER TABLE compat_queue ADD COLUMN handed_at INTEGER;
   CREATE INDEX compat_queue_handed ON compat_queue (handed_to) WHERE handed_to IS NOT NULL;`;

const ENABLED_KEY = "compat.enabled";

/**
 * The seed's per-user offline list, over the inbox. A row is an event no
 * compat socket has confirmed receiving yet (the seed's protocol has no
 * acks: a socket confirms by sending a later frame, see `CONFIRM_AFTER_MS`). A row
 * handed to a socket (live, or by `pull`) names that device; it is deleted
 * when the device confirms it, and offered again by `pull` once that device
 * has no open socket (it closed, or the object restarted and dropped it). So
 * a dying socket loses nothing; at worst a message is handed twice. Only
 * users who ever connected through `/ws/compat` keep a queue. Rows name
 * inbox rows, so retention trims them too.
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
   * Starts queuing for this user (their first compat connection): events
   * after what the user's v1 devices acknowledged count as not yet received,
   * so a new user's first `pull` returns everything that waited for them.
   */
  enable(): void {
    if (this.enabled()) return;
    this.sql.exec(
      "INSERT OR IGNORE INTO compat_queue (seq) SELECT seq FROM inbox WHERE seq > (SELECT coalesce(max(acked), 0) FROM devices)"
    );
    this.kv.put(ENABLED_KEY, true);
    this.#enabled = true;
  }

  /** Queues a new event, handed already to `device` (a live push) or to nobody. */
  add(seq: number, device: string | undefined, now: number): void {
    this.sql.exec(
      "INSERT OR IGNORE INTO compat_queue (seq, handed_to, handed_at) VALUES (?, ?, ?)",
      seq,
      device ?? null,
      device === undefined ? null : now
    );
  }

  /**
   * Up to `limit` events for `device` to pull, oldest first: those handed to
   * nobody, or to a device with no open socket (`open`).
   */
  available(device: string, open: readonly string[], limit: number): InboxEvent[] {
    this.sql.exec("DELETE FROM compat_queue WHERE seq NOT IN (SELECT seq FROM inbox)");
    return this.sql
      .exec<{ seq: number; event: string }>(
        `SELECT q.seq, i.event FROM compat_queue q JOIN inbox i ON i.seq = q.seq
         WHERE q.handed_to IS NULL OR (q.handed_to <> ? AND q.handed_to NOT IN (SELECT value FROM json_each(?)))
         ORDER BY q.seq LIMIT ?`,
        device,
        JSON.stringify(open),
        limit
      )
      .toArray()
      .map((r) => ({ ...(JSON.parse(r.event) as Omit<InboxEvent, "seq">), seq: r.seq }) as InboxEvent);
  }

  /** These seqs were just handed to `device`. */
  handed(seqs: readonly number[], device: string, now: number): void {
    if (seqs.length === 0) return;
    this.sql.exec(
      "UPDATE compat_queue SET handed_to = ?, handed_at = ? WHERE seq IN (SELECT value FROM json_each(?))",
      device,
      now,
      JSON.stringify(seqs)
    );
  }

  /** `device` confirmed everything handed to it before `cutoff`. */
  confirm(device: string, cutoff: number): void {
    this.sql.exec("DELETE FROM compat_queue WHERE handed_to = ? AND handed_at < ?", device, cutoff);
  }

  /**
   * `device`'s socket closed: what it did not confirm passes to the
   * longest-open of `others` (compat devices, with when they connected)
   * that was open when it was handed, else is offered again.
   */
  release(device: string, others: readonly { device: string; at: number }[] = []): void {
    this.sql.exec(
      `UPDATE compat_queue SET handed_to = (
         SELECT o.value ->> 'device' FROM json_each(?2) o WHERE o.value ->> 'at' <= compat_queue.handed_at ORDER BY o.value ->> 'at' LIMIT 1
       ) WHERE handed_to = ?1`,
      device,
      JSON.stringify(others)
    );
  }
}
