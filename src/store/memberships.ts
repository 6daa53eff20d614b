import { groupTag } from "../lib/ids";
import { GroupCursors } from "./group-cursors";

/**
 * DDL step of a user's groups (a step of the inbox's schema list). Group
 * events are stored once, in the group; a user's object keeps per group only
 * its read mark, where its stream starts (`floor`: the copies an inbox got
 * before groups were stored once stay readable there, so the stream starts
 * after the last of them) and where the membership ended; per device and
 * group, the last gseq the device acknowledged; and the group messages this
 * user deleted for themselves. The backfill takes the stream starts, read
 * marks and deleted-for-me marks from those copies.
 */
export const MEMBERSHIPS_SCHEMA = `
  CREATE TABLE groups (
    gid TEXT PRIMARY KEY,
    read_gseq INTEGER NOT NULL DEFAULT 0,
    floor INTEGER NOT NULL DEFAULT 0,
    left_gseq INTEGER
  );
  CREATE TABLE gcursors (
    device TEXT NOT NULL,
    gid TEXT NOT NULL,
    gseq INTEGER NOT NULL,
    PRIMARY KEY (device, gid)
  );
  CREATE TABLE hidden (
    mid TEXT PRIMARY KEY,
    gid TEXT NOT NULL,
    gseq INTEGER NOT NULL,
    counted INTEGER NOT NULL
  );
  INSERT OR IGNORE INTO groups (gid, floor)
    SELECT coalesce(json_extract(event, '$.gid'), json_extract(event, '$.to')) AS g, max(json_extract(event, '$.gseq'))
    FROM inbox
    WHERE json_type(event, '$.gseq') = 'integer'
      AND (json_extract(event, '$.type') IN ('group', 'notice') OR json_extract(event, '$.chat') = 'group')
    GROUP BY g;
  INSERT OR IGNORE INTO hidden (mid, gid, gseq, counted)
    SELECT eid, json_extract(event, '$.to'), json_extract(event, '$.gseq'), mine = 0 AND json_type(event, '$.recalled') IS NULL
    FROM inbox
    WHERE json_extract(event, '$.type') = 'message' AND json_extract(event, '$.chat') = 'group'
      AND json_type(event, '$.gseq') = 'integer' AND gone = 2;
  UPDATE groups SET read_gseq = coalesce((
    SELECT json_extract(i.event, '$.gseq') FROM convs c JOIN inbox i ON i.seq = c.read_seq WHERE c.conv = 'g:' || groups.gid
  ), 0);`;

/** A group this user belongs (or belonged) to, as their object knows it. */
export interface Membership {
  gid: string;
  /** The last message they read (gseq). */
  read: number;
  /** Their stream of it starts after this gseq (see the schema). */
  floor: number;
  /** Where their membership ended (the event that said so), or null while a member. */
  left: number | null;
}

/** The compat protocol's cursors are kept per user, under this device name (not a valid device id). */
export const COMPAT_DEVICE = "~compat";

/**
 * A user's groups in their object's SQLite (see {@link MEMBERSHIPS_SCHEMA}),
 * cached in memory after first use. All synchronous, like the inbox.
 */
export class Memberships {
  #rows: Map<string, Membership> | undefined;
  #tags: Map<string, string[]> | undefined;
  /** Per device and group, the last gseq the device acknowledged. */
  readonly cursors: GroupCursors;

  constructor(private readonly sql: SqlStorage) {
    this.cursors = new GroupCursors(sql);
  }

  reset(): void {
    this.#rows = undefined;
    this.#tags = undefined;
    this.cursors.reset();
  }

  #load(): Map<string, Membership> {
    if (!this.#rows) {
      this.#rows = new Map();
      for (const r of this.sql.exec<{ gid: string; read_gseq: number; floor: number; left_gseq: number | null }>("SELECT * FROM groups")) {
        this.#rows.set(r.gid, { gid: r.gid, read: r.read_gseq, floor: r.floor, left: r.left_gseq });
      }
    }
    return this.#rows;
  }

  all(): Membership[] {
    return [...this.#load().values()];
  }

  get(gid: string): Membership | undefined {
    return this.#load().get(gid);
  }

  /** `gid` is a group of this user's (a member now). */
  learn(gid: string): void {
    const m = this.#load().get(gid);
    if (m && m.left === null) return;
    this.sql.exec("INSERT INTO groups (gid) VALUES (?) ON CONFLICT (gid) DO UPDATE SET left_gseq = NULL", gid);
    this.#load().set(gid, { gid, read: m?.read ?? 0, floor: m?.floor ?? 0, left: null });
    this.#tags = undefined;
  }

  /** This user's membership of `gid` ended with the event at `gseq`. */
  left(gid: string, gseq: number): void {
    const m = this.#load().get(gid);
    if (!m || m.left === gseq) return;
    this.sql.exec("UPDATE groups SET left_gseq = ? WHERE gid = ?", gseq, gid);
    m.left = gseq;
  }

  /** This user never belonged to `gid` (or the group is gone): forget it. */
  forget(gid: string): void {
    if (!this.#load().delete(gid)) return;
    this.sql.exec("DELETE FROM groups WHERE gid = ?", gid);
    this.cursors.forget(gid);
    this.#tags = undefined;
  }

  /** Moves the read mark up to `gseq`; false when it was there or beyond. */
  markRead(gid: string, gseq: number): boolean {
    const m = this.#load().get(gid);
    if (!m || m.read >= gseq) return false;
    this.sql.exec("UPDATE groups SET read_gseq = ? WHERE gid = ?", gseq, gid);
    m.read = gseq;
    return true;
  }

  /** The groups whose messages carry `tag` in their ids (usually one). */
  byTag(tag: string): string[] {
    if (!this.#tags) {
      this.#tags = new Map();
      for (const gid of this.#load().keys()) {
        const t = groupTag(gid);
        this.#tags.set(t, [...(this.#tags.get(t) ?? []), gid]);
      }
    }
    return this.#tags.get(tag) ?? [];
  }

  /** Records that `device` has every event of these groups (of this user's) up to their gseqs. */
  ack(device: string, groups: Record<string, number>): void {
    this.cursors.ack(device, Object.entries(groups).filter(([gid]) => this.#load().has(gid)));
  }

  // ---- deleted for me ----

  /** This user deleted group message `mid` for themselves; `counted`: it counted as unread for them. */
  hide(mid: string, gid: string, gseq: number, counted: boolean): boolean {
    return this.sql.exec("INSERT OR IGNORE INTO hidden (mid, gid, gseq, counted) VALUES (?, ?, ?, ?)", mid, gid, gseq, counted ? 1 : 0).rowsWritten > 0;
  }

  isHidden(mid: string): boolean {
    return this.sql.exec("SELECT 1 FROM hidden WHERE mid = ?", mid).toArray().length > 0;
  }

  /** Of `mids`, the ones this user deleted for themselves. */
  hiddenAmong(mids: readonly string[]): Set<string> {
    if (mids.length === 0) return new Set();
    return new Set(
      this.sql.exec<{ mid: string }>("SELECT mid FROM hidden WHERE mid IN (SELECT value FROM json_each(?))", JSON.stringify(mids)).toArray().map((r) => r.mid)
    );
  }

  /** The newest messages of `gid` this user deleted for themselves (for the conversation's last message). */
  recentHidden(gid: string, limit = 20): string[] {
    return this.sql.exec<{ mid: string }>("SELECT mid FROM hidden WHERE gid = ? ORDER BY gseq DESC LIMIT ?", gid, limit).toArray().map((r) => r.mid);
  }

  /** Deleted-for-me messages of `gid` after `gseq` that counted as unread. */
  hiddenUnreadAfter(gid: string, gseq: number): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM hidden WHERE gid = ? AND gseq > ? AND counted = 1", gid, gseq).one().n;
  }
}
