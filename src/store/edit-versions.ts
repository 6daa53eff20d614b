import type { EditsResult, MessageEvent } from "../protocol";

/** DDL of the earlier versions of edited messages (a table of a user's inbox, and of a group's history). */
export const EDITS_TABLE = `CREATE TABLE edits (
    mid TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (mid, version)
  );`;

type Message = Omit<MessageEvent, "seq">;

/**
 * The versions an edit replaced, kept beside the message's copy so `edits`
 * can list every version; a recall drops them (no text of it stays behind).
 * Synchronous, like the stores that hold it.
 */
export class EditVersions {
  constructor(private readonly sql: SqlStorage) {}

  /** `msg` is about to be replaced by a newer version: keep it. */
  keep(msg: Message): void {
    this.sql.exec("INSERT OR IGNORE INTO edits (mid, version, body, at) VALUES (?, ?, ?, ?)", msg.mid, msg.edited ?? 0, JSON.stringify(msg.body), msg.editedAt ?? msg.ts);
  }

  /** Every version of `msg`, oldest first, the current one last. */
  of(msg: Message): EditsResult {
    const earlier = this.sql
      .exec<{ version: number; body: string; at: number }>("SELECT version, body, at FROM edits WHERE mid = ? ORDER BY version", msg.mid)
      .toArray()
      .map((r) => ({ version: r.version, body: JSON.parse(r.body) as MessageEvent["body"], at: r.at }));
    return { mid: msg.mid, versions: [...earlier, { version: msg.edited ?? 0, body: msg.body, at: msg.editedAt ?? msg.ts }] };
  }

  drop(mid: string): void {
    this.sql.exec("DELETE FROM edits WHERE mid = ?", mid);
  }
}
