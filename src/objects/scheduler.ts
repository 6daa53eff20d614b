import { DurableObject } from "cloudflare:workers";
import { countCalls, metered } from "../lib/meter";
import { limitsOf } from "../lib/config";
import { newEventId } from "../lib/ids";
import { type CreateScheduleBody, ERRORS, ProtocolError, type Schedule, type ScheduleTarget } from "../protocol";
import { pushToAll, pushToGroup, pushToUsers } from "../realtime/push";
import { AlarmScheduler } from "../store/alarm";
import { migrate } from "../store/migrate";
import type { SchedulerRpc } from "../rpc/interfaces";

const SCHEMA = [
  `CREATE TABLE schedules (
     id TEXT PRIMARY KEY,
     target TEXT NOT NULL,
     kind TEXT NOT NULL,
     body TEXT NOT NULL,
     next INTEGER NOT NULL,
     every INTEGER,
     remaining INTEGER,
     runs INTEGER NOT NULL,
     created INTEGER NOT NULL
   );
   CREATE INDEX schedules_next ON schedules (next);`
] as const;

/** Calls to other objects per alarm (the invocation's subrequest budget); more wait for the next alarm, right after. */
const CALLS_PER_ALARM = 400;
const PER_ALARM = 50;
const RETRY_MS = 30_000;

interface Row extends Record<string, SqlStorageValue> {
  id: string;
  target: string;
  kind: string;
  body: string;
  next: number;
  every: number | null;
  remaining: number | null;
  runs: number;
  created: number;
}

const view = (r: Row): Schedule => ({
  id: r.id,
  target: JSON.parse(r.target) as ScheduleTarget,
  kind: r.kind,
  body: JSON.parse(r.body),
  next: r.next,
  everySeconds: r.every === null ? null : r.every / 1000,
  remaining: r.remaining,
  runs: r.runs,
  createdAt: r.created
});

/**
 * Scheduled pushes (the seed's Workerman timers), durable in one object's
 * SQLite and fired by its alarm. Run n of schedule s pushes with push id
 * `s-n`, and the run is recorded only after the push succeeded: a crash or
 * retry repeats the same push id, which every recipient dedupes, so each run
 * is delivered at least once and never twice.
 */
export class SchedulerObject extends DurableObject<Env> implements SchedulerRpc {
  readonly #alarm: AlarmScheduler;
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = metered(ctx.storage).sql;
    this.#alarm = new AlarmScheduler(ctx.storage);
    ctx.blockConcurrencyWhile(async () => migrate(this.#sql, SCHEMA));
  }

  async create(b: CreateScheduleBody): Promise<Schedule> {
    const now = Date.now();
    const id = `s_${newEventId(now).toLowerCase()}`;
    const next = b.at ?? now + (b.delaySeconds ?? 0) * 1000;
    const every = b.everySeconds === undefined ? null : b.everySeconds * 1000;
    const remaining = every === null ? 1 : (b.times ?? null);
    this.#sql.exec(
      "INSERT INTO schedules (id, target, kind, body, next, every, remaining, runs, created) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
      id, JSON.stringify(b.target), b.kind, JSON.stringify(b.body), next, every, remaining, now
    );
    await this.#alarm.ensure(next);
    return this.#get(id)!;
  }

  async list(): Promise<Schedule[]> {
    return this.#sql.exec<Row>("SELECT * FROM schedules ORDER BY next, id").toArray().map(view);
  }

  async get(id: string): Promise<Schedule | undefined> {
    return this.#get(id);
  }

  async cancel(id: string): Promise<boolean> {
    return this.#sql.exec("DELETE FROM schedules WHERE id = ?", id).rowsWritten > 0;
  }

  override async alarm(): Promise<void> {
    this.#alarm.fired();
    const now = Date.now();
    const due = this.#sql
      .exec<Row>("SELECT * FROM schedules WHERE next <= ? ORDER BY next LIMIT ?", now, PER_ALARM)
      .toArray();
    let calls = 0;
    let fired = 0;
    for (const r of due) {
      const cost = this.#cost(JSON.parse(r.target) as ScheduleTarget);
      if (fired > 0 && calls + cost > CALLS_PER_ALARM) break;
      await this.#fire(r, now);
      calls += cost;
      fired++;
    }
    const next = this.#sql.exec<{ m: number | null }>("SELECT min(next) AS m FROM schedules").one().m;
    if (next !== null) await this.#alarm.ensure(fired < due.length || due.length === PER_ALARM ? now : next);
  }

  /** Calls one run makes: one per user, one for a group, one per registry shard for everyone. */
  #cost(t: ScheduleTarget): number {
    if ("uids" in t) return t.uids.length;
    if ("gid" in t) return 1;
    return limitsOf(this.env).presenceShards;
  }

  #get(id: string): Schedule | undefined {
    const row = this.#sql.exec<Row>("SELECT * FROM schedules WHERE id = ?", id).toArray()[0];
    return row && view(row);
  }

  /** One run: push, then record it (or leave it due for a retry). */
  async #fire(r: Row, now: number): Promise<void> {
    const pushId = `${r.id}-${r.runs + 1}`;
    const content = { kind: r.kind, body: JSON.parse(r.body) };
    const target = JSON.parse(r.target) as ScheduleTarget;
    try {
      if ("uids" in target) await pushToUsers(this.env, pushId, target.uids, content);
      else if ("gid" in target) await pushToGroup(this.env, target.gid, pushId, content, { uids: [], devices: [] });
      else await pushToAll(this.env, pushId, content, limitsOf(this.env).presenceShards);
    } catch (err) {
      if (!(err instanceof ProtocolError) || ERRORS[err.code].retryable) {
        console.warn("scheduled push failed; will retry", r.id, err);
        this.#sql.exec("UPDATE schedules SET next = ? WHERE id = ?", now + RETRY_MS, r.id);
        return;
      }
      console.error("scheduled push refused; run skipped", r.id, err.code, err.message);
    }
    const remaining = r.remaining === null ? null : r.remaining - 1;
    if (r.every === null || remaining === 0) {
      this.#sql.exec("DELETE FROM schedules WHERE id = ?", r.id);
      return;
    }
    // Runs missed while nothing could fire are not made up in a burst.
    const next = Math.max(r.next + r.every, now);
    this.#sql.exec(
      "UPDATE schedules SET next = ?, remaining = ?, runs = runs + 1 WHERE id = ?",
      next, remaining, r.id
    );
  }
}

countCalls(SchedulerObject);
