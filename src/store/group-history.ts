import type { HistoryEvent, MessageEvent } from "../protocol";
import { textOf } from "../rules/message-state";
import { EditVersions } from "./edit-versions";

/**
 * A stored history entry and how it is routed: `extra` users receive it
 * besides members (in their inbox), `except` members do not, and `skip` maps
 * a member to devices it is not pushed to live.
 */
export interface HistoryRow {
  event: HistoryEvent;
  extra: string[];
  except: string[];
  skip: Record<string, string[]>;
}

type Routing = Partial<Omit<HistoryRow, "event">>;

/** What a history row records for queries besides the event (see GROUP_SCHEMA). */
export interface RowFacts {
  /** A conversation message (not one of the seed's control frames). */
  conv: boolean;
}

const TRIMMED_KEY = "history.trimmed";
const FLOOR_KEY = "history.floor";
/** Most rows one retention run deletes (a long-untrimmed history is cut over several runs). */
const TRIM_CHUNK = 10_000;

/**
 * A group's history in its object's SQLite: every event with its gseq (the
 * group's order), how it is routed, the rewrites an edit or a recall makes,
 * the edit versions, and retention. Each message is stored once, here:
 * members read it through their stream (pages by gseq), conversation
 * summaries and search. Synchronous, so callers compose it with other state
 * atomically.
 */
export class GroupHistory {
  #head: number | undefined;
  #trimmed: number | undefined;
  /** Append time of the oldest retained entry: null when empty, undefined when not read yet. */
  #oldestAt: number | null | undefined;

  /** The versions edits replaced. */
  readonly versions: EditVersions;

  constructor(
    private readonly sql: SqlStorage,
    private readonly kv: SyncKvStorage
  ) {
    this.versions = new EditVersions(sql);
  }

  /** The newest entry's gseq (0 when empty). */
  head(): number {
    this.#head ??= Math.max(this.sql.exec<{ m: number | null }>("SELECT max(gseq) AS m FROM history").one().m ?? 0, this.trimmed());
    return this.#head;
  }

  /** The highest gseq retention has deleted (0 if none). */
  trimmed(): number {
    this.#trimmed ??= this.kv.get<number>(TRIMMED_KEY) ?? 0;
    return this.#trimmed;
  }

  /**
   * Where members' streams start: the events up to here were copied into
   * members' inboxes before groups were stored once (0 for a group made
   * since). Members read those there.
   */
  floor(): number {
    return this.kv.get<number>(FLOOR_KEY) ?? 0;
  }

  setFloor(gseq: number): void {
    this.kv.put(FLOOR_KEY, gseq);
  }

  /** Appends an event with the next gseq. `cmid` makes (sender, cmid) idempotent. */
  append(
    event: DistributiveOmit<HistoryEvent, "gseq">,
    opts: { sender?: string; cmid?: string; conv?: boolean } & Routing = {}
  ): HistoryEvent {
    const gseq = this.head() + 1;
    const stored = { ...event, gseq } as HistoryEvent;
    const message = stored.type === "message" && opts.conv !== false;
    this.sql.exec(
      "INSERT INTO history (gseq, eid, sender, cmid, at, event, extra, conv, gone, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
      gseq,
      stored.type === "message" ? stored.mid : stored.eid,
      opts.sender ?? null,
      opts.cmid ?? null,
      stored.ts,
      JSON.stringify(stored),
      routingJson(opts),
      message ? 1 : 0,
      message ? textOf((stored as MessageEvent).body) : null
    );
    this.#head = gseq;
    if (this.#oldestAt === null) this.#oldestAt = stored.ts;
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

  /**
   * Replaces a stored message with its new version (an edited, recalled or
   * reacted-to message), keeping its text for search and whether it counts
   * as unread (a recalled one does not) in step; an edit keeps the version
   * it replaces.
   */
  rewrite(gseq: number, next: HistoryEvent, previous?: HistoryEvent): void {
    const recalled = next.type === "message" && next.recalled !== undefined;
    this.sql.exec(
      "UPDATE history SET event = ?, gone = ?, text = CASE WHEN conv = 1 AND ? = 0 THEN ? END WHERE gseq = ?",
      JSON.stringify(next),
      recalled ? 1 : 0,
      recalled ? 1 : 0,
      next.type === "message" ? textOf(next.body) : null,
      gseq
    );
    if (previous?.type === "message" && next.type === "message" && (next.edited ?? 0) > (previous.edited ?? 0)) this.versions.keep(previous);
  }

  /**
   * A recalled message leaves no text in the history: its edit versions go,
   * the edit updates that carried them lose their bodies, replies quoting it
   * their quote's text.
   */
  scrub(mid: string): void {
    this.versions.drop(mid);
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

  /** The newest conversation message with gseq in (after, upTo], skipping the ids in `skip`. */
  lastMessage(after: number, upTo: number, skip: readonly string[]): { gseq: number; event: HistoryEvent } | undefined {
    const row = this.sql
      .exec<{ gseq: number; event: string }>(
        `SELECT gseq, event FROM history WHERE gseq > ? AND gseq <= ? AND conv = 1
           AND eid NOT IN (SELECT value FROM json_each(?)) ORDER BY gseq DESC LIMIT 1`,
        after,
        upTo,
        JSON.stringify(skip)
      )
      .toArray()[0];
    return row && { gseq: row.gseq, event: JSON.parse(row.event) as HistoryEvent };
  }

  /** Conversation messages, not recalled, with gseq in (after, upTo] that `uid` did not send. */
  countUnread(uid: string, after: number, upTo: number): number {
    if (upTo <= after) return 0;
    return this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM history WHERE gseq > ? AND gseq <= ? AND conv = 1 AND gone = 0 AND sender IS NOT ?",
        after,
        upTo,
        uid
      )
      .one().n;
  }

  /**
   * Conversation messages with gseq in (after, upTo] whose text contains
   * `like` (a LIKE pattern, `\` escapes), newest first by id, below `before`.
   */
  search(like: string, after: number, upTo: number, before: string | undefined, limit: number): { gseq: number; event: HistoryEvent }[] {
    return this.sql
      .exec<{ gseq: number; event: string }>(
        `SELECT gseq, event FROM history WHERE gseq > ? AND gseq <= ? AND conv = 1 AND gone = 0
           AND text LIKE ? ESCAPE '\\' AND (? IS NULL OR eid < ?) ORDER BY eid DESC LIMIT ?`,
        after,
        upTo,
        like,
        before ?? null,
        before ?? null,
        limit
      )
      .toArray()
      .map((r) => ({ gseq: r.gseq, event: JSON.parse(r.event) as HistoryEvent }));
  }

  /**
   * Retention: drops entries stored before `now - ttlMs` and all but the
   * newest `max`. `trimmed` moves up to the highest dropped gseq, so a member
   * syncing from before it is told of the gap. Reads only the rows it looks
   * at: the oldest ones (gseq and time grow together); deletes at most
   * {@link TRIM_CHUNK} rows per call. Returns whether more is due now.
   */
  trim(now: number, ttlMs: number, max: number): boolean {
    const byCount = this.head() - max;
    let byAge = this.trimmed();
    this.#oldestAt = undefined; // read again: one row, and retention runs rarely
    const oldest = this.oldestAt();
    for (; oldest !== undefined && oldest < now - ttlMs; ) {
      const rows = this.sql
        .exec<{ gseq: number; at: number }>("SELECT gseq, at FROM history WHERE gseq > ? ORDER BY gseq LIMIT 500", byAge)
        .toArray();
      const old = rows.filter((r) => r.at < now - ttlMs);
      if (old.length === 0) break;
      byAge = old.at(-1)!.gseq;
      if (old.length < rows.length || rows.length < 500) break;
    }
    const due = Math.max(byAge, byCount);
    if (due <= this.trimmed()) return false;
    const cut = Math.min(due, this.trimmed() + TRIM_CHUNK);
    this.sql.exec("DELETE FROM edits WHERE mid IN (SELECT eid FROM history WHERE gseq <= ? AND conv = 1)", cut);
    this.sql.exec("DELETE FROM history WHERE gseq <= ?", cut);
    this.kv.put(TRIMMED_KEY, cut);
    this.#trimmed = cut;
    this.#oldestAt = undefined;
    return cut < due;
  }

  /** Append time of the oldest retained entry, for scheduling retention. */
  oldestAt(): number | undefined {
    this.#oldestAt ??= this.sql.exec<{ at: number }>("SELECT at FROM history ORDER BY gseq LIMIT 1").toArray()[0]?.at ?? null;
    return this.#oldestAt ?? undefined;
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
