/** Longest an acknowledged group position waits in memory before it is stored. */
export const CURSOR_FLUSH_MS = 10_000;

/**
 * How far each of a user's devices got in each group (the `gcursors` table
 * of MEMBERSHIPS_SCHEMA): the last gseq the device acknowledged,
 * where its next connection's catch-up starts. A device acks about twice a
 * second while events arrive, so a position moves in memory and is written
 * at most every {@link CURSOR_FLUSH_MS} (and when a socket closes, by the
 * caller): a restart that loses one only makes the next catch-up send again
 * what the device already has, which it drops by gseq. Reads see the
 * positions not yet written.
 */
export class GroupCursors {
  /** Positions moved since the last write, by device, then group. */
  readonly #moved = new Map<string, Map<string, number>>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly sql: SqlStorage) {}

  /** Forgets what is not written (the storage was erased). */
  reset(): void {
    this.#moved.clear();
    this.#stopTimer();
  }

  /** The last gseq of `gid` that `device` acknowledged. */
  get(device: string, gid: string): number | undefined {
    return this.#moved.get(device)?.get(gid) ?? this.#stored(device, gid);
  }

  /** The furthest any device but `except` got in `gid`. */
  furthest(gid: string, except: string): number | undefined {
    let max = this.sql.exec<{ m: number | null }>("SELECT max(gseq) AS m FROM gcursors WHERE gid = ? AND device <> ?", gid, except).one().m ?? undefined;
    for (const [device, groups] of this.#moved) {
      const g = groups.get(gid);
      if (device !== except && g !== undefined && g > (max ?? -1)) max = g;
    }
    return max;
  }

  /** Every position of `device`, by group. */
  ofDevice(device: string): Map<string, number> {
    const out = new Map(this.sql.exec<{ gid: string; gseq: number }>("SELECT gid, gseq FROM gcursors WHERE device = ?", device).toArray().map((r) => [r.gid, r.gseq]));
    for (const [gid, gseq] of this.#moved.get(device) ?? []) out.set(gid, gseq);
    return out;
  }

  /** `device` has every event of these groups up to their gseqs (positions only move forward). */
  ack(device: string, groups: Iterable<[string, number]>): void {
    for (const [gid, gseq] of groups) {
      if (gseq <= (this.get(device, gid) ?? -1)) continue;
      const moved = this.#moved.get(device) ?? new Map<string, number>();
      moved.set(gid, gseq);
      this.#moved.set(device, moved);
    }
    if (this.#moved.size > 0) this.#timer ??= setTimeout(() => this.flush(), CURSOR_FLUSH_MS);
  }

  /** Writes the positions moved so far. */
  flush(): void {
    this.#stopTimer();
    for (const [device, groups] of this.#moved) {
      for (const [gid, gseq] of groups) {
        this.sql.exec(
          `INSERT INTO gcursors (device, gid, gseq) VALUES (?, ?, ?)
           ON CONFLICT (device, gid) DO UPDATE SET gseq = max(gseq, excluded.gseq)`,
          device,
          gid,
          gseq
        );
      }
    }
    this.#moved.clear();
  }

  /** Drops every position in `gid`. */
  forget(gid: string): void {
    for (const groups of this.#moved.values()) groups.delete(gid);
    this.sql.exec("DELETE FROM gcursors WHERE gid = ?", gid);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #stored(device: string, gid: string): number | undefined {
    return this.sql.exec<{ gseq: number }>("SELECT gseq FROM gcursors WHERE device = ? AND gid = ?", device, gid).toArray()[0]?.gseq;
  }
}
