import type { InboxEvent } from "../protocol";
import { ROW_OF_ID, type Row, toEvent } from "./inbox-row";
import { seqSlotOf } from "../lib/ids";

/** A stored event awaiting confirmed delivery to `target`. */
export interface Pending {
  target: string;
  event: InboxEvent;
}

/**
 * DDL step of the delivery watermarks (a step of the inbox's schema list).
 * Each event this user originates keeps, in `pending`, the target it is for,
 * from when it is stored; deliveries to a target go in seq order, so what
 * went through is one number per target (`delivered`), not a write per event.
 * `pending_floor`: no event at or below it waits for anyone. The partial
 * index on `pending` (two writes per message) goes.
 */
export const PENDING_SCHEMA = `
  CREATE TABLE delivered (target TEXT PRIMARY KEY, seq INTEGER NOT NULL);
  CREATE TABLE pending_floor (seq INTEGER NOT NULL);
  INSERT INTO pending_floor
    SELECT coalesce(min(seq) - 1, (SELECT coalesce(max(seq), 0) FROM inbox)) FROM inbox WHERE pending IS NOT NULL;
  DROP INDEX IF EXISTS inbox_pending;`;

/** Longest a watermark waits in memory before it is stored (it only spares redundant retries). */
export const DELIVERED_FLUSH_MS = 2_000;

/**
 * The events of a user's inbox still waiting for confirmed delivery to
 * another object: an event whose `pending` names a target and whose seq is
 * above that target's watermark. Watermarks move in memory and are written
 * in batches (by the caller's timer, or before a query that needs them): a
 * restart that loses one only makes a retry send again what the recipient
 * already has, which it drops by event id.
 */
export class PendingDeliveries {
  /** Watermarks by target, as read or moved since start; `#dirty` not yet written. */
  readonly #marks = new Map<string, number>();
  readonly #dirty = new Set<string>();
  #floor: number | undefined;

  constructor(private readonly sql: SqlStorage) {}

  /** Forgets cached state (the storage was erased). */
  reset(): void {
    this.#marks.clear();
    this.#dirty.clear();
    this.#floor = undefined;
  }

  #mark(target: string): number {
    let m = this.#marks.get(target);
    if (m === undefined) {
      m = this.sql.exec<{ seq: number }>("SELECT seq FROM delivered WHERE target = ?", target).toArray()[0]?.seq ?? 0;
      this.#marks.set(target, m);
    }
    return m;
  }

  #lowest(): number {
    this.#floor ??= this.sql.exec<{ seq: number }>("SELECT seq FROM pending_floor").toArray()[0]?.seq ?? 0;
    return this.#floor;
  }

  /** Everything for `target` up to `seq` was delivered (deliveries go in seq order). */
  delivered(target: string, seq: number): void {
    if (seq <= this.#mark(target)) return;
    this.#marks.set(target, seq);
    this.#dirty.add(target);
  }

  /** Writes the watermarks moved so far. */
  flush(): void {
    for (const target of this.#dirty) {
      this.sql.exec(
        "INSERT INTO delivered (target, seq) VALUES (?, ?) ON CONFLICT (target) DO UPDATE SET seq = max(seq, excluded.seq)",
        target,
        this.#marks.get(target)!
      );
    }
    this.#dirty.clear();
  }

  /** Whether `row` (its seq and target) still waits: the target, or null. */
  waiting(seq: number, target: string | null): string | null {
    return target !== null && seq > this.#mark(target) && seq > this.#lowest() ? target : null;
  }

  /** Drops the events at these seqs (ones their target may no longer be sent). */
  abandonEvents(seqs: readonly number[]): void {
    this.sql.exec("UPDATE inbox SET pending = NULL WHERE seq IN (SELECT value FROM json_each(?))", JSON.stringify(seqs));
  }

  /** Drops everything waiting for `target` except messages of one of `kinds`, in one statement. */
  abandonAllBut(target: string, kinds: readonly string[]): void {
    this.sql.exec(
      `UPDATE inbox SET pending = NULL WHERE seq > ? AND pending = ?
         AND NOT (json_extract(event, '$.type') = 'message' AND json_extract(event, '$.kind') IN (SELECT value FROM json_each(?)))`,
      this.#from(target),
      target,
      JSON.stringify(kinds)
    );
  }

  /** Where the event `eid` still waits to be delivered, or null if it does not. */
  targetOf(eid: string): string | null {
    const row = this.sql
      .exec<{ seq: number; pending: string | null }>(`SELECT seq, pending FROM inbox WHERE ${ROW_OF_ID}`, eid, seqSlotOf(eid))
      .toArray()[0];
    return row ? this.waiting(row.seq, row.pending) : null;
  }

  /** Seqs above which `target` may still be owed something. */
  #from(target: string): number {
    return Math.max(this.#mark(target), this.#lowest());
  }

  /**
   * Events whose delivery is unconfirmed, oldest first: the oldest
   * `perTarget` of each target, `limit` in all, taken round-robin (every
   * target's oldest before any target's second), so no number of long
   * backlogs can crowd out another target. Moves the floor up to the oldest.
   */
  oldest(limit: number, perTarget: number): Pending[] {
    const counts = new Map<string, number>();
    const chosen = this.#waiting()
      .map((r) => {
        const k = (counts.get(r.pending) ?? 0) + 1;
        counts.set(r.pending, k);
        return { ...r, k };
      })
      .filter((x) => x.k <= perTarget)
      .sort((a, b) => a.k - b.k || a.seq - b.seq)
      .slice(0, limit);
    if (chosen.length === 0) return [];
    const events = new Map(
      this.sql
        .exec<Row>("SELECT seq, event FROM inbox WHERE seq IN (SELECT value FROM json_each(?))", JSON.stringify(chosen.map((r) => r.seq)))
        .toArray()
        .map((r) => [r.seq, toEvent(r)])
    );
    return chosen.map((r) => ({ target: r.pending, event: events.get(r.seq)! }));
  }

  /**
   * The seq and target of every event still waiting, oldest first: a scan
   * from the floor (the rows since the oldest one still waiting), which it
   * moves up to the oldest. Alarm runs and counters call it, not sends.
   */
  #waiting(): { seq: number; pending: string }[] {
    this.flush();
    const floor = this.#lowest();
    const rows = this.sql
      .exec<{ seq: number; pending: string }>(
        `SELECT i.seq, i.pending FROM inbox i LEFT JOIN delivered d ON d.target = i.pending
         WHERE i.seq > ? AND i.pending IS NOT NULL AND i.seq > coalesce(d.seq, 0) ORDER BY i.seq`,
        floor
      )
      .toArray();
    const lowest = rows.length > 0 ? rows[0]!.seq - 1 : this.sql.exec<{ m: number | null }>("SELECT max(seq) AS m FROM inbox").one().m ?? floor;
    if (lowest > floor) {
      this.sql.exec("UPDATE pending_floor SET seq = ?", lowest);
      this.#floor = lowest;
    }
    return rows;
  }

  /** Seqs of the oldest events still waiting for `target`. */
  seqsFor(target: string, limit: number): number[] {
    return this.sql
      .exec<{ seq: number }>("SELECT seq FROM inbox WHERE seq > ? AND pending = ? ORDER BY seq LIMIT ?", this.#from(target), target, limit)
      .toArray()
      .map((r) => r.seq);
  }

  /** Events still waiting for `target` with a seq below `before`, oldest first. */
  before(target: string, before: number, limit: number): InboxEvent[] {
    return this.sql
      .exec<Row>("SELECT seq, event FROM inbox WHERE seq > ? AND seq < ? AND pending = ? ORDER BY seq LIMIT ?", this.#from(target), before, target, limit)
      .toArray()
      .map(toEvent);
  }

  /** The oldest seq still waiting for anyone, if any (retention never drops it). */
  first(): number | undefined {
    return this.#waiting()[0]?.seq;
  }

  /** How many stored events still wait for confirmed delivery. */
  count(): number {
    return this.#waiting().length;
  }
}
