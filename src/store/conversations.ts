import {
  type Chat,
  type Conversation,
  type DmHistoryPage,
  type EditsResult,
  type InboxEvent,
  type MessageEvent,
  PAGE_BYTES,
  type StoredMessage,
  type UnsequencedEvent,
  type UpdateEvent
} from "../protocol";
import { applyUpdate, convKey, peerOf, textOf } from "../rules/message-state";
import { strangerMayPass } from "../rules/gate";
import { EDITS_TABLE, EditVersions } from "./edit-versions";
import { ID_OF_ROW, ROW_OF_ID } from "./inbox-row";
import { seqSlotOf } from "../lib/ids";

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


/**
 * A user's conversations, read marks, unread counts, edit history and
 * search, over the inbox's SQLite. A stored message writes nothing here
 * beyond its own row's index columns (conversation, mine, gone, text): the
 * last message and unread counts are read from the rows when asked, the
 * conversation's row (`convs`) holds only the read mark and mute. All
 * methods are synchronous (see Inbox).
 */
export class Conversations {
  readonly #versions: EditVersions;

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

  /** Keeps the index in step with an event just stored: an update changes the copy it names, a mute its conversation. */
  stored(e: InboxEvent): void {
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
        `SELECT seq, event, conv, mine, gone FROM inbox WHERE ${ROW_OF_ID}`,
        u.mid,
        seqSlotOf(u.mid)
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

  /** Retention is about to drop every row up to `cut`: their edit history goes with them. */
  trimming(cut: number): void {
    this.sql.exec(`DELETE FROM edits WHERE mid IN (SELECT ${ID_OF_ROW} FROM inbox WHERE seq <= ? AND conv IS NOT NULL)`, cut);
  }

  /**
   * Moves the read mark of a conversation up to `seq`. Returns what is left
   * unread (counted from the rows after it), or undefined when the mark was
   * already there or beyond.
   */
  markRead(chat: Chat, peer: string, seq: number): number | undefined {
    const conv = convKey(chat, peer);
    const cur = this.sql.exec<{ read_seq: number }>("SELECT read_seq FROM convs WHERE conv = ?", conv).toArray()[0];
    if (cur && cur.read_seq >= seq) return undefined;
    this.sql.exec(
      `INSERT INTO convs (conv, last_seq, last_at, read_seq) VALUES (?1, 0, 0, ?2)
       ON CONFLICT (conv) DO UPDATE SET read_seq = excluded.read_seq`,
      conv,
      seq
    );
    return this.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM inbox WHERE seq > ? AND conv = ? AND mine = 0 AND gone = 0", seq, conv)
      .one().n;
  }

  /** Whether the conversation is muted; undefined when this user has no entry for it (even one they left has one). */
  muted(chat: Chat, peer: string): boolean | undefined {
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
    // One pass over the inbox (at most INBOX_MAX rows read) instead of a write per message.
    const rows = this.sql
      .exec<{ conv: string; last: number | null; unread: number; muted: number | null }>(
        `SELECT i.conv, max(CASE WHEN i.gone < 2 THEN i.seq END) AS last,
           sum(i.mine = 0 AND i.gone = 0 AND i.seq > coalesce(c.read_seq, 0)) AS unread, c.muted
         FROM inbox i LEFT JOIN convs c ON c.conv = i.conv
         WHERE i.conv LIKE 'd:%' GROUP BY i.conv`
      )
      .toArray()
      .filter((r) => r.last !== null);
    if (rows.length === 0) return [];
    const last = new Map(
      this.sql
        .exec<{ seq: number; event: string }>("SELECT seq, event FROM inbox WHERE seq IN (SELECT value FROM json_each(?))", JSON.stringify(rows.map((r) => r.last)))
        .toArray()
        .map((r) => [r.seq, { ...(JSON.parse(r.event) as MessageEvent), seq: r.seq }])
    );
    return rows.map((r) => {
      const msg = last.get(r.last!)!;
      const entry: Conversation = { chat: "dm", peer: r.conv.slice(2), last: msg, lastAt: msg.ts, unread: r.unread, muted: r.muted === 1 };
      return { conv: r.conv, entry };
    });
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
           AND (?2 IS NULL OR conv = ?2) AND (?3 IS NULL OR ${ID_OF_ROW} < ?3)
         ORDER BY ${ID_OF_ROW} DESC LIMIT ?4`,
        like,
        conv,
        before ?? null,
        limit
      )
      .toArray()
      .map((r) => ({ ...(JSON.parse(r.event) as MessageEvent), seq: r.seq }));
  }

  /**
   * A page of the direct chat with `peer` (the `dm_history` frame): its
   * messages but those deleted for me, by seq, oldest first, within
   * PAGE_BYTES (at least one). The conversation has no index of its own (it
   * would cost every stored message a write): the query walks the inbox by
   * seq from the cursor, reading each row it passes.
   */
  history(peer: string, q: { before?: number; after?: number; limit: number }): DmHistoryPage {
    const conv = convKey("dm", peer);
    const forward = q.after !== undefined;
    const rows = this.sql
      .exec<{ seq: number; event: string }>(
        forward
          ? "SELECT seq, event FROM inbox WHERE seq > ?1 AND conv = ?2 AND gone != ?3 ORDER BY seq LIMIT ?4"
          : "SELECT seq, event FROM inbox WHERE seq < ?1 AND conv = ?2 AND gone != ?3 ORDER BY seq DESC LIMIT ?4",
        forward ? q.after! : (q.before ?? Number.MAX_SAFE_INTEGER),
        conv,
        GONE.deleted,
        q.limit + 1
      )
      .toArray();
    const messages: MessageEvent[] = [];
    let bytes = 0;
    for (const r of rows.slice(0, q.limit)) {
      bytes += r.event.length;
      if (messages.length > 0 && bytes > PAGE_BYTES) break;
      messages.push({ ...(JSON.parse(r.event) as Omit<MessageEvent, "seq">), seq: r.seq });
    }
    return { messages: forward ? messages : messages.reverse(), more: rows.length > messages.length };
  }

  /** Every version of a message, oldest first, the current one last. */
  edits(msg: MessageEvent): EditsResult {
    return this.#versions.of(msg);
  }

}
