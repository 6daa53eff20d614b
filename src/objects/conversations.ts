import {
  type Chat,
  type Conversation,
  type EditsResult,
  type InboxEvent,
  type MessageEvent,
  type StoredMessage,
  type UnsequencedEvent,
  type UpdateEvent
} from "../protocol";
import { applyUpdate, convKey, peerOf, strangerMayPass, textOf } from "../realtime/message-state";
import { EDITS_TABLE, EditVersions } from "./edit-versions";

/**
 * DDL step of a user's conversation index, applied after the inbox's own.
 * Message rows gain their conversation, whether this user sent them, whether
 * they are gone (1 recalled, 2 deleted for me) and their searchable text.
 */
export const CONVERSATIONS_SCHEMA = `
  ALTER TABLE inbox ADD COLUMN conv TEXT;
  ALTER TABLE inbox ADD COLUMN mine INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE inbox ADD COLUMN gone INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE inbox ADD COLUMN text TEXT;
  CREATE INDEX inbox_conv ON inbox (conv, seq) WHERE conv IS NOT NULL;
  CREATE TABLE convs (
    conv TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    read_seq INTEGER NOT NULL DEFAULT 0,
    unread INTEGER NOT NULL DEFAULT 0,
    muted INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX convs_activity ON convs (last_at DESC, conv);
  ${EDITS_TABLE}`;

/**
 * The per-conversation index cost every stored message a third B-tree write
 * (a third of group fan-out throughput): unread counts are kept by deltas
 * instead, and the rare queries by conversation scan by seq.
 */
export const CONVERSATIONS_SCHEMA_2 = "DROP INDEX IF EXISTS inbox_conv;";

const GONE = { no: 0, recalled: 1, deleted: 2 } as const;

/** Index columns of an inbox row (all null/0 for events that are not messages). */
export interface RowIndex {
  conv: string | null;
  mine: number;
  gone: number;
  text: string | null;
}

interface ConvRow extends Record<string, SqlStorageValue> {
  conv: string;
  last_at: number;
  unread: number;
  muted: number;
  event: string | null;
  seq: number | null;
}

/**
 * A user's conversations, read marks, unread counts, edit history and
 * search, kept in the inbox's SQLite in step with every stored event. All
 * methods are synchronous (see Inbox), so an event and its effect on the
 * index commit together.
 */
export class Conversations {
  /** Activity of messages stored in the current append, written by {@link flush}. */
  readonly #versions: EditVersions;
  readonly #activity = new Map<string, { seq: number; at: number; unread: number }>();

  constructor(
    private readonly sql: SqlStorage,
    private readonly uid: () => string,
    /** The seed's control kinds (friend requests, read marks): not conversation messages. */
    private readonly strangerKinds: ReadonlySet<string>
  ) {
    this.#versions = new EditVersions(sql);
  }

  /** Index columns for an event about to be stored. */
  columns(e: UnsequencedEvent): RowIndex {
    if (e.type !== "message" || strangerMayPass(this.strangerKinds, e.kind, e.body)) {
      return { conv: null, mine: 0, gone: 0, text: null };
    }
    const uid = this.uid();
    return {
      conv: convKey(e.chat, peerOf(uid, e)),
      mine: e.from === uid ? 1 : 0,
      gone: e.deleted ? GONE.deleted : e.recalled ? GONE.recalled : GONE.no,
      text: textOf(e.body)
    };
  }

  /**
   * Keeps the index in step with an event just stored at `seq`. A message's
   * activity is gathered per conversation and written by {@link flush} (one
   * statement per conversation per append, not per message); anything else
   * flushes first, so it sees every message before it.
   */
  stored(e: InboxEvent, index: RowIndex): void {
    if (e.type === "message") {
      if (index.conv === null) return;
      const a = this.#activity.get(index.conv) ?? { seq: 0, at: 0, unread: 0 };
      a.seq = e.seq;
      a.at = Math.max(a.at, e.ts);
      if (index.mine === 0 && index.gone === GONE.no) a.unread++;
      this.#activity.set(index.conv, a);
      return;
    }
    this.flush();
    if (e.type === "update") {
      this.#apply(e);
    } else if (e.type === "conversation") {
      this.sql.exec(
        `INSERT INTO convs (conv, last_seq, last_at, muted) VALUES (?, 0, 0, ?)
         ON CONFLICT (conv) DO UPDATE SET muted = excluded.muted`,
        convKey(e.chat, e.peer),
        e.muted ? 1 : 0
      );
    }
  }

  /** Writes the gathered activity: last message, time and new unread messages per conversation. */
  flush(): void {
    for (const [conv, a] of this.#activity) {
      this.sql.exec(
        `INSERT INTO convs (conv, last_seq, last_at, unread) VALUES (?, ?, ?, ?)
         ON CONFLICT (conv) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq), last_at = max(last_at, excluded.last_at),
           unread = unread + excluded.unread`,
        conv,
        a.seq,
        a.at,
        a.unread
      );
    }
    this.#activity.clear();
  }

  /** Forgets activity not yet written (the storage was erased). */
  reset(): void {
    this.#activity.clear();
  }

  /**
   * Rewrites this inbox's copy of the updated message (if it holds one). A
   * recall also scrubs the conversation of the message's text even without a
   * copy (a member who joined later may hold a reply quoting it); an edit
   * arriving after its message's recall loses its body before it is pushed.
   */
  #apply(u: UpdateEvent): void {
    const conv = convKey(u.chat, peerOf(this.uid(), u));
    if (u.op === "recall") this.#scrub(u.mid, conv);
    const row = this.sql
      .exec<{ seq: number; event: string; conv: string | null; mine: number; gone: number }>(
        "SELECT seq, event, conv, mine, gone FROM inbox WHERE eid = ?",
        u.mid
      )
      .toArray()[0];
    if (!row) return;
    const msg = { ...(JSON.parse(row.event) as MessageEvent), seq: row.seq };
    if (msg.type !== "message") return;
    if (u.op === "edit" && msg.recalled && u.body !== undefined) {
      delete (u as { body?: unknown }).body;
      this.sql.exec("UPDATE inbox SET event = json_remove(event, '$.body') WHERE seq = ?", u.seq);
    }
    const next = applyUpdate(msg, u);
    if (!next) return;
    if (u.op === "edit") this.#versions.keep(msg);
    const { seq: _s, ...stored } = next;
    const gone = next.deleted ? GONE.deleted : next.recalled ? GONE.recalled : GONE.no;
    this.sql.exec(
      "UPDATE inbox SET event = ?, text = ?, gone = ? WHERE seq = ?",
      JSON.stringify(stored),
      gone === GONE.no && row.conv !== null ? textOf(next.body) : null,
      gone,
      row.seq
    );
    // The seed's control frames have no conversation entry to keep in step.
    if (gone !== GONE.no && row.conv !== null) {
      // An unread message from someone else that is gone now stops counting.
      if (row.gone === GONE.no && row.mine === 0) {
        this.sql.exec("UPDATE convs SET unread = max(0, unread - 1) WHERE conv = ? AND read_seq < ?", row.conv, row.seq);
      }
      if (gone === GONE.deleted) {
        // "Last message" skips what this user deleted; recalled ones still show (as recalled).
        this.sql.exec(
          `UPDATE convs SET last_seq = coalesce(
             (SELECT seq FROM inbox WHERE seq < ?2 AND conv = ?1 AND gone < 2 ORDER BY seq DESC LIMIT 1), 0)
           WHERE conv = ?1 AND last_seq = ?2`,
          row.conv,
          row.seq
        );
      }
    }
  }

  /**
   * A recalled message leaves no text behind in this inbox: not in its edit
   * history, not in the edit updates that carried its versions, not in the
   * quotes of replies to it (replies quote within their conversation).
   */
  #scrub(mid: string, conv: string): void {
    this.#versions.drop(mid);
    this.sql.exec(
      `UPDATE inbox SET event = json_remove(event, '$.body')
       WHERE conv IS NULL AND json_extract(event, '$.type') = 'update' AND json_extract(event, '$.mid') = ?
         AND json_type(event, '$.body') IS NOT NULL`,
      mid
    );
    this.sql.exec(
      `UPDATE inbox SET event = json_set(event, '$.reply.text', NULL)
       WHERE conv = ? AND json_extract(event, '$.reply.mid') = ? AND json_type(event, '$.reply.text') = 'text'`,
      conv,
      mid
    );
  }

  /**
   * Retention is about to drop every row up to `cut`: what was unread among
   * them stops counting, and their edit history goes.
   */
  trimming(cut: number): void {
    this.flush();
    this.sql.exec(
      `UPDATE convs SET unread = max(0, unread - (SELECT count(*) FROM inbox
         WHERE inbox.seq > convs.read_seq AND inbox.seq <= ?1 AND inbox.conv = convs.conv AND mine = 0 AND gone = 0))
       WHERE read_seq < ?1`,
      cut
    );
    this.sql.exec("DELETE FROM edits WHERE mid IN (SELECT eid FROM inbox WHERE seq <= ?)", cut);
  }



  /**
   * Moves the read mark of a conversation up to `seq`. Returns what is left
   * unread, or undefined when the mark was already there or beyond.
   */
  markRead(chat: Chat, peer: string, seq: number): number | undefined {
    this.flush();
    const conv = convKey(chat, peer);
    const cur = this.sql.exec<{ read_seq: number; unread: number }>("SELECT read_seq, unread FROM convs WHERE conv = ?", conv).toArray()[0];
    if (cur && cur.read_seq >= seq) return undefined;
    const from = cur?.read_seq ?? 0;
    // Messages from others now read: a scan of the seqs between the old mark and the new one.
    const read = this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM inbox WHERE seq > ? AND seq <= ? AND conv = ? AND mine = 0 AND gone = 0",
        from,
        seq,
        conv
      )
      .one().n;
    const unread = Math.max(0, (cur?.unread ?? 0) - read);
    this.sql.exec(
      `INSERT INTO convs (conv, last_seq, last_at, read_seq, unread) VALUES (?1, 0, 0, ?2, ?3)
       ON CONFLICT (conv) DO UPDATE SET read_seq = excluded.read_seq, unread = excluded.unread`,
      conv,
      seq,
      unread
    );
    return unread;
  }

  /** Whether the conversation is muted; undefined when this user has no entry for it (even one they left has one). */
  muted(chat: Chat, peer: string): boolean | undefined {
    this.flush();
    const row = this.sql.exec<{ muted: number }>("SELECT muted FROM convs WHERE conv = ?", convKey(chat, peer)).toArray()[0];
    return row === undefined ? undefined : row.muted === 1;
  }


  /**
   * Every direct conversation with a message, with its newest one, unread
   * count and mute state. Group conversations are the groups' (their
   * messages are stored there); the entries an inbox kept for them before
   * are left out.
   */
  direct(): { conv: string; entry: Conversation }[] {
    this.flush();
    return this.sql
      .exec<ConvRow>(
        `SELECT c.conv, c.last_at, c.unread, c.muted, i.event, i.seq
         FROM convs c LEFT JOIN inbox i ON i.seq = c.last_seq
         WHERE c.last_seq > 0 AND c.conv LIKE 'd:%'`
      )
      .toArray()
      .map((r) => ({ conv: r.conv, entry: toConversation(r) }));
  }

  /** The groups this user muted. */
  mutedGroups(): Set<string> {
    return new Set(this.sql.exec<{ conv: string }>("SELECT conv FROM convs WHERE conv LIKE 'g:%' AND muted = 1").toArray().map((r) => r.conv.slice(2)));
  }

  /**
   * Messages this inbox holds (not gone) whose text contains `like` (a LIKE
   * pattern), newest first by id, below `before`; `conv` narrows to one
   * conversation.
   */
  search(like: string, conv: string | null, before: string | undefined, limit: number): StoredMessage[] {
    return this.sql
      .exec<{ seq: number; event: string }>(
        `SELECT seq, event FROM inbox
         WHERE conv LIKE 'd:%' AND gone = 0 AND text LIKE ?1 ESCAPE '\\'
           AND (?2 IS NULL OR conv = ?2) AND (?3 IS NULL OR eid < ?3)
         ORDER BY eid DESC LIMIT ?4`,
        like,
        conv,
        before ?? null,
        limit
      )
      .toArray()
      .map((r) => ({ ...(JSON.parse(r.event) as MessageEvent), seq: r.seq }));
  }

  /** Every version of a message, oldest first, the current one last. */
  edits(msg: MessageEvent): EditsResult {
    return this.#versions.of(msg);
  }

}

function toConversation(r: ConvRow): Conversation {
  const peer = r.conv.slice(2);
  return {
    chat: r.conv.startsWith("g:") ? "group" : "dm",
    peer,
    last: r.event === null || r.seq === null ? null : { ...(JSON.parse(r.event) as MessageEvent), seq: r.seq },
    lastAt: r.last_at,
    unread: r.unread,
    muted: r.muted === 1
  };
}
