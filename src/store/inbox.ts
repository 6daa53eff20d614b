import { WEBHOOK_SCHEMA } from "./webhooks";
import { COMPAT_HANDED_SCHEMA, COMPAT_QUEUE_SCHEMA } from "./compat-queue";
import { CONVERSATIONS_SCHEMA, CONVERSATIONS_SCHEMA_2, type Conversations, type RowIndex } from "./conversations";
import { MEMBERSHIPS_SCHEMA } from "./memberships";
import { ROW_OF_ID, type Row, sentKey, toEvent } from "./inbox-row";
import { newDirectMessageId, seqSlotOf } from "../lib/ids";
import { PENDING_SCHEMA, PendingDeliveries } from "./pending";
import { PUSH_SCHEMA } from "./push-outbox";
import {
  type InboxEvent,
  type MessageEvent,
  PAGE_BYTES,
  type SyncResult,
  type UnsequencedEvent
} from "../protocol";

/**
 * DDL of a user's inbox (see {@link migrate}). `reads` is superseded by
 * `convs.read_seq` (conversations.ts) and only read by its one-time backfill (conversations-backfill.ts).
 */
export const INBOX_SCHEMA = [
  `CREATE TABLE inbox (
     seq INTEGER PRIMARY KEY,
     eid TEXT NOT NULL UNIQUE,
     cmid TEXT,
     pending TEXT,
     at INTEGER NOT NULL,
     event TEXT NOT NULL
   );
   CREATE UNIQUE INDEX inbox_cmid ON inbox (cmid) WHERE cmid IS NOT NULL;
   CREATE INDEX inbox_pending ON inbox (pending) WHERE pending IS NOT NULL;
   CREATE TABLE devices (
     device TEXT PRIMARY KEY,
     acked INTEGER NOT NULL,
     seen INTEGER NOT NULL
   );
   CREATE TABLE reads (
     peer TEXT PRIMARY KEY,
     seq INTEGER NOT NULL
   );`,
  WEBHOOK_SCHEMA,
  COMPAT_QUEUE_SCHEMA,
  COMPAT_HANDED_SCHEMA,
  CONVERSATIONS_SCHEMA,
  CONVERSATIONS_SCHEMA_2,
  MEMBERSHIPS_SCHEMA,
  PENDING_SCHEMA,
  PUSH_SCHEMA
] as const;

/** One appended event and whether this call stored it (false: it was a duplicate). */
export interface Appended {
  event: InboxEvent;
  fresh: boolean;
}

const TRIMMED_KEY = "inbox.trimmed";

/** Most rows one INSERT carries: ten values each, and DO SQLite binds at most 100 per statement. */
const ROWS_PER_INSERT = 10;
const INSERTS = Array.from({ length: ROWS_PER_INSERT + 1 }, (_, n) =>
  `INSERT INTO inbox (seq, eid, cmid, pending, at, event, conv, mine, gone, text) VALUES ${Array(n).fill("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}
   ON CONFLICT DO NOTHING`
);
/** The INSERT of `n` inbox rows (1..{@link ROWS_PER_INSERT}), ignoring rows whose eid or cmid is taken. */
const insertRows = (n: number): string => INSERTS[n]!;

/**
 * A user's durable, ordered event log (DO SQLite). Every method is
 * synchronous, so a caller's sequence of calls without an `await` in between
 * commits atomically, and frames sent after it are held by the output gate
 * until it is durable.
 *
 * Seqs start at 1, increase by one per stored event and are never reused:
 * `trimmed` remembers the highest seq retention has deleted.
 */
export class Inbox {
  #head: number | undefined;
  #trimmed: number | undefined;
  /** Append time of the oldest retained event: null when empty, undefined when not read yet. */
  #oldestAt: number | null | undefined;
  #legacy: boolean | undefined;

  /** The events of this inbox still waiting for confirmed delivery elsewhere. */
  readonly pending: PendingDeliveries;

  constructor(
    private readonly sql: SqlStorage,
    private readonly kv: SyncKvStorage,
    /** Kept in step with every stored event, in the same commit. */
    readonly conversations: Conversations
  ) {
    this.pending = new PendingDeliveries(sql);
  }

  /** Forgets cached state (after the storage was erased). */
  reset(): void {
    this.#head = undefined;
    this.#trimmed = undefined;
    this.#oldestAt = undefined;
    this.#legacy = undefined;
    this.pending.reset();
  }

  /** Highest seq ever assigned (0 when empty). */
  head(): number {
    if (this.#head === undefined) {
      const max = this.sql.exec<{ m: number | null }>("SELECT max(seq) AS m FROM inbox").one().m;
      this.#head = Math.max(max ?? 0, this.trimmed());
    }
    return this.#head;
  }

  /** Highest seq deleted by retention (0 if none). */
  trimmed(): number {
    this.#trimmed ??= this.kv.get<number>(TRIMMED_KEY) ?? 0;
    return this.#trimmed;
  }

  /**
   * Appends each event unless its `eid` is already stored; duplicates come
   * back with their original seq and `fresh: false`. For events from others
   * and this user's own non-message events; a message this user sends goes
   * through {@link appendSent}.
   */
  append(events: readonly UnsequencedEvent[], now: number): Appended[] {
    const out: Appended[] = [];
    for (let i = 0; i < events.length; ) {
      let run = 0;
      while (run < ROWS_PER_INSERT && isReceived(events[i + run])) run++;
      if (run > 1 && this.#appendRun(events.slice(i, i + run), now, out)) {
        i += run;
        continue;
      }
      for (const e of events.slice(i, i + Math.max(run, 1))) out.push(this.#appendOne(e, now));
      i += Math.max(run, 1);
    }
    return out;
  }

  #appendOne(e: UnsequencedEvent, now: number): Appended {
    const seq = this.head() + 1;
    if (!this.#insert(seq, e, null, now)) {
      const existing = this.byEventId(eidOf(e));
      if (!existing) throw new Error(`inbox refused event ${eidOf(e)}`);
      return { event: existing, fresh: false };
    }
    return { event: this.#stored(seq, e, now), fresh: true };
  }

  /**
   * Stores consecutive messages from others with one statement (a group
   * member's or a peer's batch), the common case of {@link append}: nothing in
   * the run is stored yet. Otherwise (a redelivery) it undoes its rows and
   * returns false, and the run goes through {@link #appendOne}, which sorts out
   * each conflict. Messages only: their index columns are all the index work.
   */
  #appendRun(run: readonly UnsequencedEvent[], now: number, out: Appended[]): boolean {
    const first = this.head() + 1;
    const indexes = run.map((e) => this.conversations.columns(e));
    const params: SqlStorageValue[] = [];
    run.forEach((e, k) => {
      const index = indexes[k]!;
      params.push(first + k, eidOf(e), null, null, now, JSON.stringify(e), index.conv, index.mine, index.gone, index.text);
    });
    this.sql.exec(insertRows(run.length), ...params);
    const stored = this.sql.exec<{ n: number }>("SELECT changes() AS n").one().n;
    if (stored !== run.length) {
      if (stored > 0) this.sql.exec("DELETE FROM inbox WHERE seq >= ?", first);
      return false;
    }
    run.forEach((e, k) => out.push({ event: this.#stored(first + k, e, now), fresh: true }));
    return true;
  }

  /**
   * Stores a message this user sends, with its id made here (it carries the
   * row's seq), pending delivery to `pending`, unless one with the same `cmid`
   * exists: then that one comes back (`fresh: false`) with its own pending
   * state. One statement on the common path, one index entry for the row.
   */
  appendSent(
    e: Omit<UnsequencedEvent & { type: "message"; cmid: string }, "mid">,
    now: number,
    pending: string
  ): { event: MessageEvent; fresh: boolean; pending: string | null } {
    const seq = this.head() + 1;
    const { type, ...rest } = e;
    const message = { type, mid: newDirectMessageId(e.ts, seq), ...rest } as UnsequencedEvent & { type: "message" };
    if (!this.#legacyCmids() || !this.bySentCmid(e.cmid)) {
      const index = this.#insert(seq, message, pending, now, sentKey(e.cmid));
      if (index) {
        const event = this.#stored(seq, message, now) as MessageEvent;
        return { event, fresh: true, pending };
      }
    }
    const prior = this.bySentCmid(e.cmid);
    if (!prior) throw new Error(`inbox refused message ${message.mid}`);
    return { ...prior, fresh: false };
  }

  /**
   * Stores an event this user originates (a receipt, an update), pending
   * delivery to `pending`, or (null) for this user's devices only.
   */
  appendOwn<E extends UnsequencedEvent>(e: E, now: number, pending: string | null): E & { seq: number } {
    const seq = this.head() + 1;
    const index = this.#insert(seq, e, pending, now);
    if (!index) throw new Error(`inbox refused event ${eidOf(e)}`);
    const event = this.#stored(seq, e, now);
    return event as unknown as E & { seq: number };
  }

  /**
   * Inserts unless its `eid` is taken, with its index columns; no RETURNING,
   * which doubles the cost. Returns the columns, or undefined. New rows leave
   * `cmid` empty (a sent message's cmid is its `eid`, see inbox-row.ts).
   */
  #insert(
    seq: number,
    e: UnsequencedEvent,
    pending: string | null,
    now: number,
    eid = eidOf(e)
  ): RowIndex | undefined {
    const index = this.conversations.columns(e);
    const written = this.sql.exec(
      insertRows(1),
      seq,
      eid,
      null,
      pending,
      now,
      JSON.stringify(e),
      index.conv,
      index.mine,
      index.gone,
      index.text
    ).rowsWritten;
    return written > 0 ? index : undefined;
  }

  #stored(seq: number, e: UnsequencedEvent, now: number): InboxEvent {
    this.#head = seq;
    if (this.#oldestAt === null) this.#oldestAt = now;
    const event = { ...e, seq } as InboxEvent;
    this.conversations.stored(event);
    return event;
  }

  byEventId(eid: string): InboxEvent | undefined {
    const row = this.sql
      .exec<Row>(`SELECT seq, event FROM inbox WHERE ${ROW_OF_ID}`, eid, seqSlotOf(eid))
      .toArray()[0];
    return row && toEvent(row);
  }

  /** The message this user sent with client id `cmid`, and whether delivery is unconfirmed. */
  bySentCmid(cmid: string): { event: MessageEvent; pending: string | null } | undefined {
    const row = this.sql
      .exec<Row & { pending: string | null }>(
        `SELECT seq, event, pending FROM inbox WHERE eid = ?1${this.#legacyCmids() ? " OR cmid = ?2" : ""}`,
        sentKey(cmid),
        ...(this.#legacyCmids() ? [cmid] : [])
      )
      .toArray()[0];
    return row && { event: toEvent(row) as MessageEvent, pending: this.pending.waiting(row.seq, row.pending) };
  }

  /**
   * Whether this inbox holds sent messages stored before they were keyed by
   * client id (in the indexed `cmid` column; none in an inbox created since), read once.
   */
  #legacyCmids(): boolean {
    this.#legacy ??= this.sql.exec("SELECT 1 FROM inbox WHERE cmid IS NOT NULL LIMIT 1").toArray().length > 0;
    return this.#legacy;
  }

  /**
   * Up to `limit` events after `after`, in order, with an explicit gap if some
   * were trimmed. A page also stops at about {@link PAGE_BYTES} of events (at
   * least one), so it always fits in one WebSocket message.
   */
  page(after: number, limit: number): SyncResult {
    const rows = this.sql
      .exec<Row>(
        "SELECT seq, event FROM inbox WHERE seq > ? ORDER BY seq LIMIT ?",
        after,
        limit + 1
      )
      .toArray();
    let take = 0;
    let bytes = 0;
    while (take < Math.min(rows.length, limit) && (take === 0 || bytes + rows[take]!.event.length <= PAGE_BYTES)) {
      bytes += rows[take]!.event.length;
      take++;
    }
    const more = rows.length > take;
    const events = rows.slice(0, take).map(toEvent);
    const trimmed = this.trimmed();
    const result: SyncResult = { events, more, head: this.head() };
    if (after < trimmed) result.gap = { from: after + 1, to: trimmed };
    return result;
  }

  /** Records a device's delivery ack (cursors only move forward). */
  ackDevice(device: string, seq: number, now: number): void {
    this.sql.exec(
      `INSERT INTO devices (device, acked, seen) VALUES (?, ?, ?)
       ON CONFLICT (device) DO UPDATE SET acked = max(acked, excluded.acked), seen = excluded.seen`,
      device,
      Math.min(seq, this.head()),
      now
    );
  }

  deviceCursor(device: string): number | undefined {
    return this.sql
      .exec<{ acked: number }>("SELECT acked FROM devices WHERE device = ?", device)
      .toArray()[0]?.acked;
  }

  /**
   * Retention: drops events appended before `now - ttlMs` and all but the
   * newest `max`. Returns how many were dropped; `trimmed` moves up to the
   * highest dropped seq so later syncs from before it report a gap. Reads
   * only the rows it looks at: the oldest ones (seq and time grow together).
   */
  trim(now: number, ttlMs: number, max: number): number {
    let byAge = this.trimmed();
    this.#oldestAt = undefined; // read again: one row, and retention runs rarely
    const oldest = this.oldestAt();
    for (; oldest !== undefined && oldest < now - ttlMs; ) {
      const rows = this.sql.exec<{ seq: number; at: number }>("SELECT seq, at FROM inbox WHERE seq > ? ORDER BY seq LIMIT 500", byAge).toArray();
      const old = rows.filter((r) => r.at < now - ttlMs);
      if (old.length === 0) break;
      byAge = old.at(-1)!.seq;
      if (old.length < rows.length || rows.length < 500) break;
    }
    const byCount = this.head() - max;
    if (Math.max(byAge, byCount) <= this.trimmed()) return 0;
    // Never drop an event still waiting for delivery: the peer would lose it unseen.
    const firstPending = this.pending.first();
    const cut = Math.min(Math.max(byAge, byCount), firstPending === undefined ? Infinity : firstPending - 1);
    if (cut <= this.trimmed()) return 0;
    this.conversations.trimming(cut);
    const deleted = this.sql.exec("DELETE FROM inbox WHERE seq <= ?", cut).rowsWritten;
    this.kv.put(TRIMMED_KEY, cut);
    this.#trimmed = cut;
    this.#oldestAt = undefined;
    return deleted;
  }

  /** Append time of the oldest retained event, for scheduling retention. */
  oldestAt(): number | undefined {
    if (this.#oldestAt === undefined) {
      this.#oldestAt =
        this.sql.exec<{ at: number }>("SELECT at FROM inbox ORDER BY seq LIMIT 1").toArray()[0]?.at ?? null;
    }
    return this.#oldestAt ?? undefined;
  }

  /** Number of retained events. */
  size(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM inbox").one().n;
  }
}

/**
 * A message as others' objects hand it over: no `cmid`. A user's own group
 * message carries its cmid and was stored when it was posted, so its fan-out
 * copy is a duplicate and goes row by row.
 */
function isReceived(e: UnsequencedEvent | undefined): boolean {
  return e?.type === "message" && e.cmid === undefined;
}

export function eidOf(e: UnsequencedEvent | InboxEvent): string {
  return e.type === "message" ? e.mid : e.eid;
}
