import type { Role } from "../protocol";
import type { GroupMeta, MemberRow, MirrorOp } from "../db/groups";
import { WEBHOOK_SCHEMA } from "./webhooks";
import { EDITS_TABLE } from "./edit-versions";
import { GroupReadMarks, READ_MARKS_SCHEMA } from "./group-read-marks";
import { FanoutRetries } from "./fanout-retries";
import { GroupHistory } from "./group-history";
import { GroupOnline } from "./group-online";

/** DDL of a group's object (see {@link migrate}). */
export const GROUP_SCHEMA = [
  `CREATE TABLE members (
     uid TEXT PRIMARY KEY,
     role TEXT NOT NULL,
     joined_at INTEGER NOT NULL,
     joined_gseq INTEGER NOT NULL,
     muted_until INTEGER
   );
   CREATE TABLE invites (uid TEXT PRIMARY KEY, by TEXT, at INTEGER NOT NULL);
   CREATE TABLE history (
     gseq INTEGER PRIMARY KEY,
     eid TEXT NOT NULL UNIQUE,
     sender TEXT,
     cmid TEXT,
     at INTEGER NOT NULL,
     event TEXT NOT NULL,
     extra TEXT
   );
   CREATE UNIQUE INDEX history_cmid ON history (sender, cmid) WHERE cmid IS NOT NULL;
   CREATE TABLE retries (
     uid TEXT NOT NULL,
     from_gseq INTEGER NOT NULL,
     to_gseq INTEGER NOT NULL,
     attempts INTEGER NOT NULL,
     next_at INTEGER NOT NULL,
     PRIMARY KEY (uid, from_gseq)
   );
   CREATE TABLE mirror (id INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL);`,
  // Former members keep their window until the fan-out has passed it.
  `CREATE TABLE departed (
     uid TEXT NOT NULL,
     joined_gseq INTEGER NOT NULL,
     left_gseq INTEGER NOT NULL,
     PRIMARY KEY (uid, left_gseq)
   );`,
  WEBHOOK_SCHEMA,
  // One retry row per member (the fan-out keeps gseq order through it):
  // earlier versions kept a row per failed batch. A range merged over a batch
  // that did arrive is sent again and deduped by the member's inbox.
  `CREATE TABLE retries_merged AS
     SELECT uid, min(from_gseq) AS from_gseq, max(to_gseq) AS to_gseq, min(attempts) AS attempts, min(next_at) AS next_at
     FROM retries GROUP BY uid;
   DELETE FROM retries;
   INSERT INTO retries (uid, from_gseq, to_gseq, attempts, next_at)
     SELECT uid, from_gseq, to_gseq, attempts, next_at FROM retries_merged;
   DROP TABLE retries_merged;`,
  // Ended memberships, kept as long as inboxes keep messages: a recall must
  // also reach the former members who hold a copy.
  `CREATE TABLE former (
     uid TEXT NOT NULL,
     joined_gseq INTEGER NOT NULL,
     left_gseq INTEGER NOT NULL,
     left_at INTEGER NOT NULL,
     PRIMARY KEY (uid, left_gseq)
   );
   INSERT INTO former (uid, joined_gseq, left_gseq, left_at)
     SELECT uid, joined_gseq, left_gseq, strftime('%s', 'now') * 1000 FROM departed;`,
  // Stored once: members read the history through their stream, so a row
  // says whether it is a conversation message (unread counts, the last
  // message, search), whether it was recalled, and its searchable text. The
  // backfill takes the seed's control kinds at their default list, and only
  // the newest 100,000 rows (retention's default keeps no more). The
  // per-member retries of the old fan-out go: members read by cursor now
  // (the group records where streams start, see GroupObject.#legacyFloor).
  `ALTER TABLE history ADD COLUMN conv INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE history ADD COLUMN gone INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE history ADD COLUMN text TEXT;
   UPDATE history SET
     conv = (json_extract(event, '$.type') = 'message' AND NOT (
       json_extract(event, '$.kind') IN ('read', 'friend_request', 'friend_response', 'group_request', 'group_response')
       AND json_extract(event, '$.body.type') = json_extract(event, '$.kind')
       AND json_type(event, '$.body.fromUid') IS NOT NULL AND json_type(event, '$.body.toUid') IS NOT NULL)),
     gone = (json_type(event, '$.recalled') IS NOT NULL)
     WHERE gseq > (SELECT coalesce(max(gseq), 0) FROM history) - 100000;
   UPDATE history SET text = CASE WHEN json_type(event, '$.body') = 'text' THEN json_extract(event, '$.body')
     WHEN json_type(event, '$.body.text') = 'text' THEN json_extract(event, '$.body.text') END
     WHERE conv = 1 AND gone = 0;
   DELETE FROM retries;
   CREATE TABLE online (uid TEXT PRIMARY KEY);
   ${EDITS_TABLE}`,
  READ_MARKS_SCHEMA
] as const;

/** The version at which groups became stored once (see {@link GROUP_SCHEMA}): older groups copied history into inboxes. */
export const STORED_ONCE_STEP = 6;

/** A stretch of a group's history someone belongs to: events with from < gseq <= to. */
export interface Span {
  from: number;
  to: number;
}

const META = "group.meta";

interface SqlMember extends Record<string, SqlStorageValue> {
  uid: string;
  role: string;
  joined_at: number;
  joined_gseq: number;
  muted_until: number | null;
}

/**
 * A group's durable state in its object's SQLite: record, members (cached in
 * memory after first use), former members, invites, the history
 * (`history`), who is online (`online`), the fan-out's retries (`retries`)
 * and the D1 mirror outbox. All methods are synchronous so callers compose
 * them atomically.
 */
export class GroupState {
  #meta: GroupMeta | null | undefined;
  #members: Map<string, MemberRow> | undefined;
  /** Ended memberships by uid (few; read per live recipient, so cached). */
  #former: Map<string, Span[]> | undefined;

  /** The history: every event with its gseq, and how it is routed. */
  readonly history: GroupHistory;
  /** Members whose objects have sockets: the live fan-out's recipients. */
  readonly online: GroupOnline;
  /** Members whose live push failed, and what they still need. */
  readonly retries: FanoutRetries;
  /** Members' read marks, while the group is small enough to keep them. */
  readonly reads: GroupReadMarks;

  constructor(
    private readonly sql: SqlStorage,
    private readonly kv: SyncKvStorage
  ) {
    this.history = new GroupHistory(sql, kv);
    this.online = new GroupOnline(sql);
    this.retries = new FanoutRetries(sql);
    this.reads = new GroupReadMarks(sql);
  }

  meta(): GroupMeta | undefined {
    if (this.#meta === undefined) this.#meta = this.kv.get<GroupMeta>(META) ?? null;
    return this.#meta ?? undefined;
  }

  setMeta(meta: GroupMeta): void {
    this.kv.put(META, meta);
    this.#meta = meta;
    this.mirror({ op: "group", meta });
  }

  // ---- members ----

  #load(): Map<string, MemberRow> {
    if (!this.#members) {
      this.#members = new Map();
      for (const r of this.sql.exec<SqlMember>("SELECT * FROM members")) {
        this.#members.set(r.uid, {
          uid: r.uid,
          role: r.role as Role,
          joinedAt: r.joined_at,
          joinedGseq: r.joined_gseq,
          mutedUntil: r.muted_until
        });
      }
    }
    return this.#members;
  }

  member(uid: string): MemberRow | undefined {
    return this.#load().get(uid);
  }

  memberCount(): number {
    return this.#load().size;
  }

  /** Current members ordered by uid. */
  members(): readonly MemberRow[] {
    return [...this.#load().values()].sort((a, b) => byUid(a.uid, b.uid));
  }

  /**
   * The stretches of history `uid` belongs to: since they joined, if a
   * member, and each earlier membership up to the event that ended it (the
   * one that says they left or were kicked). Empty for someone who never
   * belonged, or whose memberships retention forgot.
   */
  spans(uid: string): Span[] {
    const m = this.member(uid);
    const ended = this.#formerSpans().get(uid) ?? [];
    return m ? [{ from: m.joinedGseq, to: Number.MAX_SAFE_INTEGER }, ...ended] : ended;
  }

  #formerSpans(): Map<string, Span[]> {
    if (!this.#former) {
      this.#former = new Map();
      for (const r of this.sql.exec<{ uid: string; joined_gseq: number; left_gseq: number }>("SELECT uid, joined_gseq, left_gseq FROM former")) {
        this.#former.set(r.uid, [...(this.#former.get(r.uid) ?? []), { from: r.joined_gseq, to: r.left_gseq }]);
      }
    }
    return this.#former;
  }

  /** Former members who could see the event at `gseq` (while they belonged), as far as still recorded. */
  formerHolders(gseq: number): string[] {
    return this.sql
      .exec<{ uid: string }>("SELECT DISTINCT uid FROM former WHERE joined_gseq < ? AND left_gseq >= ?", gseq, gseq)
      .toArray()
      .map((r) => r.uid)
      .filter((uid) => !this.member(uid)); // one who came back sees it in their stream
  }

  /** Forgets memberships that ended before `before` or before what retention kept. */
  pruneFormer(before: number): void {
    if (this.sql.exec("DELETE FROM former WHERE left_at < ? OR left_gseq <= ?", before, this.history.trimmed()).rowsWritten > 0) this.#former = undefined;
  }

  /** Stops live pushes to former members once the fan-out (at `cursor`) has taken them past the end of their membership. */
  pruneOnline(cursor: number): void {
    const retrying = this.retries.behind();
    for (const uid of [...this.online.list()]) {
      if (this.member(uid) || retrying.has(uid)) continue;
      const last = this.spans(uid).reduce((n, s) => Math.max(n, s.to), 0);
      if (last <= cursor) this.online.remove(uid);
    }
  }

  putMember(m: MemberRow): void {
    this.sql.exec(
      `INSERT INTO members (uid, role, joined_at, joined_gseq, muted_until) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (uid) DO UPDATE SET role = excluded.role, muted_until = excluded.muted_until`,
      m.uid,
      m.role,
      m.joinedAt,
      m.joinedGseq,
      m.mutedUntil
    );
    this.#load().set(m.uid, m);
    this.mirror({ op: "member", gid: this.meta()!.id, member: m });
  }

  /**
   * Removes a member. Their membership ends with the event that says so,
   * which the caller appends next (gseq head + 1): they still see it, and
   * everything before it, in their stream.
   */
  removeMember(uid: string, now = Date.now()): void {
    const m = this.member(uid);
    if (m) {
      this.sql.exec(
        "INSERT OR REPLACE INTO former (uid, joined_gseq, left_gseq, left_at) VALUES (?, ?, ?, ?)",
        uid,
        m.joinedGseq,
        this.head() + 1,
        now
      );
      this.#former = undefined;
    }
    this.sql.exec("DELETE FROM members WHERE uid = ?", uid);
    this.#load().delete(uid);
    this.mirror({ op: "unmember", gid: this.meta()!.id, uid });
  }

  // ---- invites ----

  invite(uid: string, by: string | null, now: number): void {
    this.sql.exec(
      "INSERT INTO invites (uid, by, at) VALUES (?, ?, ?) ON CONFLICT (uid) DO NOTHING",
      uid,
      by,
      now
    );
  }

  isInvited(uid: string): boolean {
    return this.invitedAt(uid) !== undefined;
  }

  /** When `uid` was invited (ms), if they are. */
  invitedAt(uid: string): number | undefined {
    return this.sql.exec<{ at: number }>("SELECT at FROM invites WHERE uid = ?", uid).toArray()[0]?.at;
  }

  dropInvite(uid: string): void {
    this.sql.exec("DELETE FROM invites WHERE uid = ?", uid);
  }

  /** The group's head: the gseq of its newest history entry. */
  head(): number {
    return this.history.head();
  }

  // ---- D1 mirror outbox ----

  mirror(op: MirrorOp): void {
    this.sql.exec("INSERT INTO mirror (op) VALUES (?)", JSON.stringify(op));
  }

  mirrorBatch(limit: number): { upTo: number; ops: MirrorOp[] } {
    const rows = this.sql
      .exec<{ id: number; op: string }>("SELECT id, op FROM mirror ORDER BY id LIMIT ?", limit)
      .toArray();
    return { upTo: rows.at(-1)?.id ?? 0, ops: rows.map((r) => JSON.parse(r.op) as MirrorOp) };
  }

  mirrorDone(upTo: number): void {
    this.sql.exec("DELETE FROM mirror WHERE id <= ?", upTo);
  }
}

function byUid(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
