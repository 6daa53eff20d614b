import type { NotificationPayload, PushSubscription, SubscriptionInfo } from "../protocol";

/** DDL of a user's push subscriptions and notification outbox (a step of the inbox's schema list). */
export const PUSH_SCHEMA = `CREATE TABLE push_subs (
     id TEXT PRIMARY KEY,
     type TEXT NOT NULL,
     endpoint TEXT,
     p256dh TEXT,
     auth TEXT,
     token TEXT,
     created INTEGER NOT NULL
   );
   CREATE TABLE push_outbox (
     conv TEXT NOT NULL,
     sub TEXT NOT NULL,
     payload TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL,
     created INTEGER NOT NULL,
     PRIMARY KEY (conv, sub)
   );`;

/** Most subscriptions one user keeps; registering another drops the oldest. */
export const MAX_SUBSCRIPTIONS = 10;

export interface StoredSubscription {
  id: string;
  sub: PushSubscription;
}

export interface OutboxRow {
  conv: string;
  sub: string;
  payload: NotificationPayload;
  attempts: number;
  created: number;
}

type SubRow = { id: string; type: string; endpoint: string | null; p256dh: string | null; auth: string | null; token: string | null; created: number };

function toSubscription(r: SubRow): PushSubscription {
  return r.type === "fcm" ? { type: "fcm", token: r.token! } : { type: "webpush", endpoint: r.endpoint!, keys: { p256dh: r.p256dh!, auth: r.auth! } };
}

/**
 * A user's push subscriptions and the notifications waiting for them: one
 * row per (conversation, subscription), so a newer message of the same
 * conversation replaces the waiting one (collapsed, with a count), and a
 * subscription's failure retries only its own rows.
 */
export class PushOutbox {
  #count: number | undefined;

  constructor(private readonly sql: SqlStorage) {}

  reset(): void {
    this.#count = undefined;
  }

  /** How many subscriptions there are (read once, then kept). */
  size(): number {
    this.#count ??= this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM push_subs").one().n;
    return this.#count;
  }

  /** Stores (or refreshes) subscription `id`; true when it is new. Drops the oldest beyond {@link MAX_SUBSCRIPTIONS}. */
  put(id: string, s: PushSubscription, now: number): boolean {
    const fresh = this.sql.exec("SELECT 1 FROM push_subs WHERE id = ?", id).toArray().length === 0;
    this.sql.exec(
      `INSERT INTO push_subs (id, type, endpoint, p256dh, auth, token, created) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, created = excluded.created`,
      id, s.type, s.type === "webpush" ? s.endpoint : null, s.type === "webpush" ? s.keys.p256dh : null,
      s.type === "webpush" ? s.keys.auth : null, s.type === "fcm" ? s.token : null, now
    );
    for (const old of this.sql
      .exec<{ id: string }>("SELECT id FROM push_subs ORDER BY created DESC, id LIMIT -1 OFFSET ?", MAX_SUBSCRIPTIONS)
      .toArray()) this.remove(old.id);
    this.#count = undefined;
    return fresh;
  }

  /** Removes a subscription and what waits for it; false when there was none. */
  remove(id: string): boolean {
    const removed = this.sql.exec("DELETE FROM push_subs WHERE id = ?", id).rowsWritten > 0;
    this.sql.exec("DELETE FROM push_outbox WHERE sub = ?", id);
    this.#count = undefined;
    return removed;
  }

  list(): SubscriptionInfo[] {
    return this.sql
      .exec<SubRow>("SELECT * FROM push_subs ORDER BY created, id")
      .toArray()
      .map((r) => ({ id: r.id, type: r.type as "webpush" | "fcm", service: r.type === "fcm" ? "fcm" : new URL(r.endpoint!).origin, createdAt: r.created }));
  }

  subscription(id: string): PushSubscription | undefined {
    const r = this.sql.exec<SubRow>("SELECT * FROM push_subs WHERE id = ?", id).toArray()[0];
    return r && toSubscription(r);
  }

  /**
   * Queues `payload` for every subscription, replacing what waits for the
   * same conversation (whose count it adds to). Due at once.
   */
  queue(conv: string, payload: Omit<NotificationPayload, "count">, now: number): void {
    this.sql.exec(
      `INSERT INTO push_outbox (conv, sub, payload, next_at, created)
         SELECT ?1, id, json_set(?2, '$.count', 1), ?3, ?3 FROM push_subs WHERE true
       ON CONFLICT (conv, sub) DO UPDATE SET
         payload = json_set(excluded.payload, '$.count', json_extract(push_outbox.payload, '$.count') + 1),
         attempts = 0, next_at = ?3, created = ?3`,
      conv,
      JSON.stringify(payload),
      now
    );
  }

  /** Up to `limit` rows due by `now`. */
  due(now: number, limit: number): OutboxRow[] {
    return this.sql
      .exec<{ conv: string; sub: string; payload: string; attempts: number; created: number }>(
        "SELECT conv, sub, payload, attempts, created FROM push_outbox WHERE next_at <= ? ORDER BY next_at LIMIT ?",
        now,
        limit
      )
      .toArray()
      .map((r) => ({ ...r, payload: JSON.parse(r.payload) as NotificationPayload }));
  }

  /** Done with a row (sent, or given up), unless it was replaced by a newer message meanwhile. */
  done(r: OutboxRow): void {
    this.sql.exec("DELETE FROM push_outbox WHERE conv = ? AND sub = ? AND json_extract(payload, '$.mid') = ?", r.conv, r.sub, r.payload.mid);
  }

  retryAt(r: OutboxRow, at: number): void {
    this.sql.exec("UPDATE push_outbox SET attempts = attempts + 1, next_at = ? WHERE conv = ? AND sub = ? AND json_extract(payload, '$.mid') = ?", at, r.conv, r.sub, r.payload.mid);
  }

  /** Drops every waiting notification (a device connected: it sees the messages there). */
  clear(): void {
    this.sql.exec("DELETE FROM push_outbox");
  }

  /** Drops waiting notifications of message `mid` (recalled): its conversation's, with what they counted. */
  forget(mid: string): void {
    this.sql.exec("DELETE FROM push_outbox WHERE json_extract(payload, '$.mid') = ?", mid);
  }

  nextAt(): number | undefined {
    return this.sql.exec<{ m: number | null }>("SELECT min(next_at) AS m FROM push_outbox").one().m ?? undefined;
  }

  pending(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM push_outbox").one().n;
  }
}
