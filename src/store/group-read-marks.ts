/** DDL step of the members' read marks, appended to the group's schema. */
export const READ_MARKS_SCHEMA = "CREATE TABLE read_marks (uid TEXT PRIMARY KEY, gseq INTEGER NOT NULL);";

/**
 * Each member's read mark, kept by the group itself only while it is small
 * (GROUP_READ_STATE_MAX members), so a message's sender can see who read it.
 * Members' own objects keep their marks either way (memberships.ts); this
 * is a copy a read already sends here (the `message` call that finds the
 * message), one row per member, moved forward only.
 */
export class GroupReadMarks {
  constructor(private readonly sql: SqlStorage) {}

  mark(uid: string, gseq: number): void {
    this.sql.exec(
      "INSERT INTO read_marks (uid, gseq) VALUES (?, ?) ON CONFLICT (uid) DO UPDATE SET gseq = max(gseq, excluded.gseq)",
      uid,
      gseq
    );
  }

  /** Every member's mark (members who never read here have none). */
  all(): Map<string, number> {
    return new Map(this.sql.exec<{ uid: string; gseq: number }>("SELECT uid, gseq FROM read_marks").toArray().map((r) => [r.uid, r.gseq]));
  }
}
