import { DurableObject } from "cloudflare:workers";
import { AlarmScheduler } from "./alarm";
import { migrate } from "./storage";

const SCHEMA = [
  `CREATE TABLE online (
     uid TEXT PRIMARY KEY,
     devices INTEGER NOT NULL,
     since INTEGER NOT NULL,
     until INTEGER NOT NULL
   );`
] as const;

/** SQLite allows at most 100 bound parameters per statement. */
const CHUNK = 90;

/**
 * One shard of the online registry (`shard-<n>`, n = FNV-1a(uid) mod
 * PRESENCE_SHARDS). Each entry is a lease its user object refreshes while it
 * has sockets; a user object that dies without saying goodbye expires here.
 */
export class PresenceObject extends DurableObject<Env> {
  readonly #alarm: AlarmScheduler;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#alarm = new AlarmScheduler(ctx.storage);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, SCHEMA));
  }

  /** Records `uid` online with `devices` sockets until `until` (ms). */
  async setOnline(uid: string, devices: number, until: number): Promise<void> {
    this.ctx.storage.sql.exec(
      `INSERT INTO online (uid, devices, since, until) VALUES (?, ?, ?, ?)
       ON CONFLICT (uid) DO UPDATE SET devices = excluded.devices, until = excluded.until`,
      uid,
      devices,
      Date.now(),
      until
    );
    await this.#alarm.ensure(until);
  }

  async setOffline(uid: string): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM online WHERE uid = ?", uid);
  }

  /** The subset of `uids` with a live lease. */
  async filterOnline(uids: string[]): Promise<string[]> {
    const now = Date.now();
    const out: string[] = [];
    for (let i = 0; i < uids.length; i += CHUNK) {
      const chunk = uids.slice(i, i + CHUNK);
      const marks = chunk.map(() => "?").join(",");
      for (const row of this.ctx.storage.sql.exec<{ uid: string }>(
        `SELECT uid FROM online WHERE until > ? AND uid IN (${marks})`,
        now,
        ...chunk
      )) {
        out.push(row.uid);
      }
    }
    return out;
  }

  /** Drops expired leases and re-arms for the next expiry. */
  override async alarm(): Promise<void> {
    this.#alarm.fired();
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM online WHERE until <= ?", Date.now());
    const next = sql.exec<{ m: number | null }>("SELECT min(until) AS m FROM online").one().m;
    if (next !== null) await this.#alarm.ensure(next);
  }
}
