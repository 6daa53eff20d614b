/**
 * The fan-out's retries in a group's SQLite (`retries`): a member whose
 * delivery of (from, to] failed. One row per member: later batches extend it
 * (see Fanout), so the member gets the group's events in gseq order once the
 * retry goes through.
 */
export class FanoutRetries {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * Records that `uid` still needs (from, to], due at `nextAt`. A member
   * already behind has its range extended instead, and is due no later than
   * `nextAt`: new traffic is a reason to try again soon.
   */
  add(uid: string, from: number, to: number, nextAt: number): void {
    const extended = this.sql.exec(
      "UPDATE retries SET to_gseq = max(to_gseq, ?), next_at = min(next_at, ?) WHERE uid = ? AND from_gseq = (SELECT min(from_gseq) FROM retries WHERE uid = ?)",
      to,
      nextAt,
      uid,
      uid
    ).rowsWritten;
    if (extended > 0) return;
    this.sql.exec(
      "INSERT INTO retries (uid, from_gseq, to_gseq, attempts, next_at) VALUES (?, ?, ?, 1, ?)",
      uid,
      from,
      to,
      nextAt
    );
  }

  /** Members with a retry pending: the fan-out adds to their range instead of delivering past it. */
  behind(): Set<string> {
    return new Set(this.sql.exec<{ uid: string }>("SELECT DISTINCT uid FROM retries").toArray().map((r) => r.uid));
  }

  /** Due retries, the oldest range of each member only (so one member's ranges never run at once). */
  due(now: number, limit: number): { uid: string; from: number; to: number; attempts: number }[] {
    return this.sql
      .exec<{ uid: string; from_gseq: number; to_gseq: number; attempts: number }>(
        `SELECT uid, min(from_gseq) AS from_gseq, to_gseq, attempts, next_at FROM retries
         GROUP BY uid HAVING next_at <= ? ORDER BY next_at LIMIT ?`,
        now,
        limit
      )
      .toArray()
      .map((r) => ({ uid: r.uid, from: r.from_gseq, to: r.to_gseq, attempts: r.attempts }));
  }

  /** The retry of `uid` delivered (from, reached] of (from, to]; the rest is due now. */
  advanced(uid: string, from: number, reached: number, to: number, now: number): void {
    this.done(uid, from);
    this.add(uid, reached, to, now);
  }

  done(uid: string, from: number): void {
    this.sql.exec("DELETE FROM retries WHERE uid = ? AND from_gseq = ?", uid, from);
  }

  later(uid: string, from: number, attempts: number, nextAt: number): void {
    this.sql.exec(
      "UPDATE retries SET attempts = ?, next_at = ? WHERE uid = ? AND from_gseq = ?",
      attempts,
      nextAt,
      uid,
      from
    );
  }

  nextAt(): number | undefined {
    return this.sql.exec<{ m: number | null }>("SELECT min(next_at) AS m FROM retries").one().m ?? undefined;
  }

  /** Members with a retry pending. */
  count(): number {
    return this.sql.exec<{ n: number }>("SELECT count(DISTINCT uid) AS n FROM retries").one().n;
  }
}
