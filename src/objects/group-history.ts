import type { HistoryEvent } from "../protocol";

/**
 * A stored history entry and how it is routed: `extra` users receive it
 * besides members, `except` members do not, and `skip` maps a member to
 * devices it is stored for but not pushed to live.
 */
export interface HistoryRow {
  event: HistoryEvent;
  extra: string[];
  except: string[];
  skip: Record<string, string[]>;
}

type Routing = Partial<Omit<HistoryRow, "event">>;

/**
 * A group's history in its object's SQLite: every event with its gseq (the
 * group's order), how it is routed, and the rewrites an edit or a recall
 * makes. Synchronous, so callers compose it with other state atomically.
 */
export class GroupHistory {
  #head: number | undefined;

  constructor(private readonly sql: SqlStorage) {}

  /** The newest entry's gseq (0 when empty). */
  head(): number {
    this.#head ??= this.sql.exec<{ m: number | null }>("SELECT max(gseq) AS m FROM history").one().m ?? 0;
    return this.#head;
  }

  /** Appends an event with the next gseq. `cmid` makes (sender, cmid) idempotent. */
  append(
    event: DistributiveOmit<HistoryEvent, "gseq">,
    opts: { sender?: string; cmid?: string } & Routing = {}
  ): HistoryEvent {
    const gseq = this.head() + 1;
    const stored = { ...event, gseq } as HistoryEvent;
    this.sql.exec(
      "INSERT INTO history (gseq, eid, sender, cmid, at, event, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
      gseq,
      stored.type === "message" ? stored.mid : stored.eid,
      opts.sender ?? null,
      opts.cmid ?? null,
      stored.ts,
      JSON.stringify(stored),
      routingJson(opts)
    );
    this.#head = gseq;
    return stored;
  }

  byCmid(sender: string, cmid: string): HistoryEvent | undefined {
    const row = this.sql
      .exec<{ event: string }>("SELECT event FROM history WHERE sender = ? AND cmid = ?", sender, cmid)
      .toArray()[0];
    return row && (JSON.parse(row.event) as HistoryEvent);
  }

  /** The history entry with event id (message id) `eid`. */
  byEid(eid: string): { gseq: number; event: HistoryEvent } | undefined {
    const row = this.sql
      .exec<{ gseq: number; event: string }>("SELECT gseq, event FROM history WHERE eid = ?", eid)
      .toArray()[0];
    return row && { gseq: row.gseq, event: JSON.parse(row.event) as HistoryEvent };
  }

  /** Replaces a stored entry with its new version (an edited or recalled message). */
  rewrite(gseq: number, event: HistoryEvent): void {
    this.sql.exec("UPDATE history SET event = ? WHERE gseq = ?", JSON.stringify(event), gseq);
  }

  /**
   * A recalled message leaves no text in the history: the edit updates that
   * carried its versions lose their bodies, replies quoting it their quote's text.
   */
  scrub(mid: string): void {
    this.sql.exec(
      `UPDATE history SET event = json_remove(event, '$.body')
       WHERE json_extract(event, '$.type') = 'update' AND json_extract(event, '$.mid') = ?
         AND json_type(event, '$.body') IS NOT NULL`,
      mid
    );
    this.sql.exec(
      `UPDATE history SET event = json_set(event, '$.reply.text', NULL)
       WHERE json_extract(event, '$.reply.mid') = ? AND json_type(event, '$.reply.text') = 'text'`,
      mid
    );
  }

  /** Entries with gseq in (after, upTo], oldest first, at most `limit`. */
  range(after: number, upTo: number, limit: number): HistoryRow[] {
    return this.sql
      .exec<{ event: string; extra: string | null }>(
        "SELECT event, extra FROM history WHERE gseq > ? AND gseq <= ? ORDER BY gseq LIMIT ?",
        after,
        upTo,
        limit
      )
      .toArray()
      .map((r) => ({ event: JSON.parse(r.event) as HistoryEvent, ...parseRouting(r.extra) }));
  }

  /** The newest `limit` entries below `before`, oldest first. */
  before(before: number, limit: number): HistoryEvent[] {
    return this.sql
      .exec<{ event: string }>(
        "SELECT event FROM history WHERE gseq < ? ORDER BY gseq DESC LIMIT ?",
        before,
        limit
      )
      .toArray()
      .map((r) => JSON.parse(r.event) as HistoryEvent)
      .reverse();
  }
}

/** Routing is stored in the `extra` column: null, a list of extra users, or the full object. */
function routingJson(r: Routing): string | null {
  const extra = r.extra ?? [];
  const except = r.except ?? [];
  const skip = r.skip ?? {};
  if (except.length === 0 && Object.keys(skip).length === 0) return extra.length ? JSON.stringify(extra) : null;
  return JSON.stringify({ extra, except, skip });
}

function parseRouting(text: string | null): Omit<HistoryRow, "event"> {
  const empty = { extra: [], except: [], skip: {} };
  if (!text) return empty;
  const v = JSON.parse(text) as string[] | Routing;
  return Array.isArray(v) ? { ...empty, extra: v } : { ...empty, ...v };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
