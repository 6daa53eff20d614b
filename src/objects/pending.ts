import type { InboxEvent } from "../protocol";
import { type Row, toEvent } from "./inbox-row";

/** A stored event awaiting confirmed delivery to `target`. */
export interface Pending {
  target: string;
  event: InboxEvent;
}

/** Most seqs one statement clears (DO SQLite binds at most 100 values). */
const MARKS_PER_STATEMENT = 90;

/**
 * The events of a user's inbox still waiting for confirmed delivery to
 * another object (the `pending` column: the target, or null once delivered).
 * Delivery marks are kept in memory and written in batches; every read here
 * writes them first, so nothing reads a stale pending state.
 */
export class PendingDeliveries {
  #delivered: number[] = [];

  constructor(private readonly sql: SqlStorage) {}

  /** Forgets marks not written yet (the storage was erased). */
  reset(): void {
    this.#delivered = [];
  }

  /**
   * Records that the events at these seqs were delivered. The mark only
   * spares a redundant retry (the recipient dedupes), so it is kept in memory
   * and written in batches (by the caller's timer, or before anything reads
   * the pending state) instead of costing a statement per message.
   */
  delivered(seqs: readonly number[]): void {
    this.#delivered.push(...seqs);
  }

  /** Writes the delivery marks gathered so far. */
  flush(): void {
    const seqs = this.#delivered;
    if (seqs.length === 0) return;
    this.#delivered = [];
    this.#clear(seqs);
  }

  #clear(seqs: readonly number[]): void {
    for (let i = 0; i < seqs.length; i += MARKS_PER_STATEMENT) {
      const chunk = seqs.slice(i, i + MARKS_PER_STATEMENT);
      this.sql.exec(`UPDATE inbox SET pending = NULL WHERE seq IN (${chunk.map(() => "?").join(",")})`, ...chunk);
    }
  }

  /** Drops the pending marks of these events (ones their target may no longer be sent). */
  abandonEvents(seqs: readonly number[]): void {
    this.flush();
    this.#clear(seqs);
  }

  /** Drops the pending marks of everything waiting for `target` except messages of one of `kinds`, in one statement. */
  abandonAllBut(target: string, kinds: readonly string[]): void {
    this.flush();
    this.sql.exec(
      `UPDATE inbox SET pending = NULL WHERE pending = ?
         AND NOT (json_extract(event, '$.type') = 'message' AND json_extract(event, '$.kind') IN (SELECT value FROM json_each(?)))`,
      target,
      JSON.stringify(kinds)
    );
  }

  /** Where the event `eid` still waits to be delivered, or null if it does not. */
  targetOf(eid: string): string | null {
    this.flush();
    return this.sql.exec<{ pending: string | null }>("SELECT pending FROM inbox WHERE eid = ?", eid).toArray()[0]?.pending ?? null;
  }

  /**
   * Events whose delivery is unconfirmed, oldest first: the oldest
   * `perTarget` of each target, `limit` in all, taken round-robin (every
   * target's oldest before any target's second), so no number of long
   * backlogs can crowd out another target.
   */
  oldest(limit: number, perTarget: number): Pending[] {
    this.flush();
    return this.sql
      .exec<Row & { pending: string }>(
        // Numbered on (pending, seq) alone, from the index; the events are read for the chosen rows only.
        `SELECT inbox.seq, inbox.event, inbox.pending FROM (
           SELECT seq, row_number() OVER (PARTITION BY pending ORDER BY seq) AS k
           FROM inbox WHERE pending IS NOT NULL
         ) AS numbered JOIN inbox ON inbox.seq = numbered.seq
         WHERE numbered.k <= ? ORDER BY numbered.k, inbox.seq LIMIT ?`,
        perTarget,
        limit
      )
      .toArray()
      .map((row) => ({ target: row.pending, event: toEvent(row) }));
  }

  /** Seqs of the oldest events still waiting for `target`. */
  seqsFor(target: string, limit: number): number[] {
    this.flush();
    return this.sql
      .exec<{ seq: number }>("SELECT seq FROM inbox WHERE pending = ? ORDER BY seq LIMIT ?", target, limit)
      .toArray()
      .map((r) => r.seq);
  }

  /** Events still waiting for `target` with a seq below `before`, oldest first. */
  before(target: string, before: number, limit: number): InboxEvent[] {
    this.flush();
    return this.sql
      .exec<Row>("SELECT seq, event FROM inbox WHERE pending = ? AND seq < ? ORDER BY seq LIMIT ?", target, before, limit)
      .toArray()
      .map(toEvent);
  }

  /** How many stored events still wait for confirmed delivery. */
  count(): number {
    this.flush();
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM inbox WHERE pending IS NOT NULL").one().n;
  }
}
