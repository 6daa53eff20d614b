import { DurableObject } from "cloudflare:workers";
import { countCalls, metered } from "../lib/meter";
import { AlarmScheduler } from "../store/alarm";
import { BROADCAST_SCHEMA, Broadcasts } from "../store/broadcast";
import { migrate } from "../store/migrate";
import { userStub } from "../rpc/stubs";
import type { Deliverable } from "../rpc/delivery";
import type { PresenceRpc } from "../rpc/interfaces";

const SCHEMA = [
  `CREATE TABLE online (
     uid TEXT PRIMARY KEY,
     devices INTEGER NOT NULL,
     since INTEGER NOT NULL,
     until INTEGER NOT NULL
   );`,
  BROADCAST_SCHEMA,
  `CREATE TABLE totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL);`,
  `CREATE TABLE last_seen (uid TEXT PRIMARY KEY, at INTEGER NOT NULL);`
] as const;

/** SQLite allows at most 100 bound parameters per statement. */
const CHUNK = 90;

/**
 * One shard of the online registry (`shard-<n>`, n = FNV-1a(uid) mod
 * PRESENCE_SHARDS). Each entry is a lease its user object refreshes while it
 * has sockets; a user object that dies without saying goodbye expires here.
 */
export class PresenceObject extends DurableObject<Env> implements PresenceRpc {
  readonly #alarm: AlarmScheduler;
  readonly #broadcasts: Broadcasts;
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = metered(ctx.storage).sql;
    this.#alarm = new AlarmScheduler(ctx.storage);
    this.#broadcasts = new Broadcasts(this.#sql, (uid, event) => userStub(env, uid).deliver([event]));
    ctx.blockConcurrencyWhile(async () => migrate(this.#sql, SCHEMA));
  }

  /** Online users of this shard in uid order, after `after`. */
  async list(after: string, limit: number): Promise<string[]> {
    return this.#sql
      .exec<{ uid: string }>(
        "SELECT uid FROM online WHERE uid > ? AND until > ? ORDER BY uid LIMIT ?",
        after,
        Date.now(),
        limit
      )
      .toArray()
      .map((r) => r.uid);
  }

  /** Online users and their sockets in this shard, messages its users reported sending, and sendToAll deliveries still owed. */
  async stats(): Promise<{ users: number; connections: number; messages: number; broadcastsPending: number }> {
    const sql = this.#sql;
    const row = sql.exec<{ n: number; d: number | null }>("SELECT count(*) AS n, sum(devices) AS d FROM online WHERE until > ?", Date.now()).one();
    const pending = sql.exec<{ n: number }>("SELECT count(*) AS n FROM broadcast_targets").one().n;
    const messages = sql.exec<{ value: number }>("SELECT value FROM totals WHERE name = 'messages'").toArray()[0]?.value ?? 0;
    return { users: row.n, connections: row.d ?? 0, messages, broadcastsPending: pending };
  }

  #count(name: string, by: number): void {
    if (by <= 0) return;
    this.#sql.exec(
      "INSERT INTO totals (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
      name,
      by
    );
  }

  /** How many users of this shard are online. */
  async count(): Promise<number> {
    return this.#sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM online WHERE until > ?", Date.now())
      .one().n;
  }

  /**
   * sendToAll for this shard: queues `event` for every user online here now
   * and starts delivering; returns how many users it queued (0 when this push
   * id was already queued).
   */
  async broadcast(pushId: string, event: Deliverable): Promise<number> {
    const n = this.#broadcasts.add(pushId, event, Date.now());
    if (n > 0) {
      await this.#alarm.ensure(Date.now() + 10_000);
      this.ctx.waitUntil(this.#runBroadcasts());
    }
    return n;
  }

  async #runBroadcasts(): Promise<void> {
    try {
      const next = await this.#broadcasts.run();
      if (next !== undefined) await this.#alarm.ensure(next);
    } catch (err) {
      console.error("broadcast run failed; the alarm resumes it", err);
    }
  }

  /**
   * Records `uid` online with `devices` sockets until `until` (ms); `sent` is
   * how many messages the user sent since its last report (see `stats`).
   */
  async setOnline(uid: string, devices: number, until: number, sent = 0): Promise<void> {
    this.#count("messages", sent);
    this.#sql.exec(
      `INSERT INTO online (uid, devices, since, until) VALUES (?, ?, ?, ?)
       ON CONFLICT (uid) DO UPDATE SET devices = excluded.devices, until = excluded.until`,
      uid,
      devices,
      Date.now(),
      until
    );
    await this.#alarm.ensure(until);
  }

  async setOffline(uid: string, sent = 0, lastSeen?: number | null): Promise<void> {
    this.#count("messages", sent);
    this.#sql.exec("DELETE FROM online WHERE uid = ?", uid);
    if (lastSeen !== undefined) this.#setLastSeen(uid, lastSeen);
  }

  /** Forgets `uid`'s last-seen time (they hid it). */
  async hideLastSeen(uid: string): Promise<void> {
    this.#setLastSeen(uid, null);
  }

  #setLastSeen(uid: string, at: number | null): void {
    if (at === null) this.#sql.exec("DELETE FROM last_seen WHERE uid = ?", uid);
    else this.#sql.exec("INSERT INTO last_seen (uid, at) VALUES (?, ?) ON CONFLICT (uid) DO UPDATE SET at = excluded.at", uid, at);
  }

  /** For each of `uids`: online now, and when they last left (null: never seen here, or hidden). */
  async seen(uids: string[]): Promise<{ uid: string; online: boolean; lastSeen: number | null }[]> {
    const online = new Set(await this.filterOnline(uids));
    const at = new Map<string, number>();
    for (let i = 0; i < uids.length; i += CHUNK) {
      const chunk = uids.slice(i, i + CHUNK);
      for (const r of this.#sql.exec<{ uid: string; at: number }>(`SELECT uid, at FROM last_seen WHERE uid IN (${chunk.map(() => "?").join(",")})`, ...chunk)) {
        at.set(r.uid, r.at);
      }
    }
    return uids.map((uid) => ({ uid, online: online.has(uid), lastSeen: at.get(uid) ?? null }));
  }

  /** The subset of `uids` with a live lease. */
  async filterOnline(uids: string[]): Promise<string[]> {
    const now = Date.now();
    const out: string[] = [];
    for (let i = 0; i < uids.length; i += CHUNK) {
      const chunk = uids.slice(i, i + CHUNK);
      const marks = chunk.map(() => "?").join(",");
      for (const row of this.#sql.exec<{ uid: string }>(
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
    await this.#runBroadcasts();
    const sql = this.#sql;
    sql.exec("DELETE FROM online WHERE until <= ?", Date.now());
    const next = sql.exec<{ m: number | null }>("SELECT min(until) AS m FROM online").one().m;
    if (next !== null) await this.#alarm.ensure(next);
  }
}

countCalls(PresenceObject);
