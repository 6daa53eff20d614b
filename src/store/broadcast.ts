import { mapLimit } from "../lib/concurrency";
import type { Deliverable } from "../rpc/delivery";

/** DDL for a registry shard's broadcast jobs (appended to its schema). */
export const BROADCAST_SCHEMA = `CREATE TABLE broadcasts (id TEXT PRIMARY KEY, event TEXT NOT NULL, created INTEGER NOT NULL);
   CREATE TABLE broadcast_targets (
     job TEXT NOT NULL,
     uid TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (job, uid)
   );`;

/** Deliveries per run of a shard (one invocation's subrequest budget), and in flight. */
const PER_RUN = 400;
const CONCURRENCY = 8;
const RETRY_MIN_MS = 5_000;
const RETRY_MAX_MS = 10 * 60_000;

/**
 * Durable sendToAll for one registry shard: a job snapshots the users online
 * in this shard, then delivers to each and crosses them off; a user whose
 * object fails stays with a backoff. The job id is the push id, so a repeated
 * broadcast is ignored and user objects dedupe a resent event.
 */
export class Broadcasts {
  #running: Promise<number | undefined> | undefined;

  constructor(
    private readonly sql: SqlStorage,
    private readonly deliver: (uid: string, event: Deliverable) => Promise<unknown>
  ) {}

  /** Queues a job for the users online now; returns how many (0 if this id was seen). */
  add(id: string, event: Deliverable, onlineSince: number): number {
    const fresh = this.sql
      .exec("INSERT INTO broadcasts (id, event, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", id, JSON.stringify(event), Date.now())
      .rowsWritten;
    if (!fresh) return 0;
    this.sql.exec("INSERT INTO broadcast_targets (job, uid) SELECT ?, uid FROM online WHERE until > ?", id, onlineSince);
    // Counted, not taken from rowsWritten, which also counts index entries.
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM broadcast_targets WHERE job = ?", id).one().n;
  }

  /** Delivers what is due, within one run's budget; resolves with when to run again. */
  run(): Promise<number | undefined> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #run(): Promise<number | undefined> {
    const now = Date.now();
    const due = this.sql
      .exec<{ job: string; uid: string; attempts: number; event: string }>(
        `SELECT t.job, t.uid, t.attempts, b.event FROM broadcast_targets t JOIN broadcasts b ON b.id = t.job
         WHERE t.next_at <= ? ORDER BY t.job, t.uid LIMIT ?`,
        now,
        PER_RUN
      )
      .toArray();
    await mapLimit(due, CONCURRENCY, async (t) => {
      try {
        await this.deliver(t.uid, JSON.parse(t.event) as Deliverable);
        this.sql.exec("DELETE FROM broadcast_targets WHERE job = ? AND uid = ?", t.job, t.uid);
      } catch (err) {
        const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** t.attempts);
        console.warn("broadcast delivery failed; will retry", t.uid, err);
        this.sql.exec(
          "UPDATE broadcast_targets SET attempts = attempts + 1, next_at = ? WHERE job = ? AND uid = ?",
          Date.now() + delay,
          t.job,
          t.uid
        );
      }
    });
    this.sql.exec("DELETE FROM broadcasts WHERE id NOT IN (SELECT DISTINCT job FROM broadcast_targets)");
    if (due.length === PER_RUN) return Date.now();
    return this.sql.exec<{ m: number | null }>("SELECT min(next_at) AS m FROM broadcast_targets").one().m ?? undefined;
  }
}
