import type { Costs } from "../protocol";

/*
 * What this isolate's Durable Objects cost, counted where the platform bills
 * it: SQLite rows read and written (from the SQL cursors, which count index
 * writes too), synchronous KV reads and writes (rows of the hidden `__cf_kv`
 * table), alarms set, calls into objects (RPC methods, fetch, alarm, socket
 * events) and D1 statements. Under `wrangler dev` every object runs in one
 * isolate, so these are the whole deployment's totals; on Cloudflare they
 * are one isolate's and only the bench reads them (`GET /api/v1/metrics`).
 */

const costs: Costs = { rowsRead: 0, rowsWritten: 0, kvReads: 0, kvWrites: 0, alarmsSet: 0, calls: {}, d1Statements: 0, d1Queries: 0 };

/** Cursors not yet counted: their rows are read once the synchronous code that uses them is done. */
let open: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
let settling = false;

function settle(): void {
  settling = false;
  for (const c of open) {
    costs.rowsRead += c.rowsRead;
    costs.rowsWritten += c.rowsWritten;
  }
  open = [];
}

/** The counters so far (and, with `reset`, zeroes them). */
export function readCosts(reset = false): Costs {
  settle();
  const out: Costs = { ...costs, calls: { ...costs.calls } };
  if (reset) {
    for (const k of ["rowsRead", "rowsWritten", "kvReads", "kvWrites", "alarmsSet", "d1Statements", "d1Queries"] as const) costs[k] = 0;
    costs.calls = {};
  }
  return out;
}

/**
 * The object's SQL and KV storage, counted. Cursors are consumed within the
 * synchronous code that runs them (Durable Object rules), so their counts
 * are read in a microtask after it.
 */
export function metered(storage: DurableObjectStorage): { sql: SqlStorage; kv: SyncKvStorage } {
  const sql = storage.sql;
  const kv = storage.kv;
  const exec = (query: string, ...bindings: unknown[]) => {
    const cursor = sql.exec(query, ...bindings);
    open.push(cursor);
    if (!settling) {
      settling = true;
      queueMicrotask(settle);
    }
    return cursor;
  };
  const msql = new Proxy(sql, {
    get: (target, prop) => (prop === "exec" ? exec : Reflect.get(target, prop, target))
  });
  const mkv: SyncKvStorage = {
    get: ((key: string) => {
      costs.kvReads++;
      return kv.get(key);
    }) as SyncKvStorage["get"],
    put: (key, value) => {
      costs.kvWrites++;
      kv.put(key, value);
    },
    delete: (key) => {
      costs.kvWrites++;
      return kv.delete(key);
    },
    list: (options) => {
      costs.kvReads++;
      return kv.list(options);
    }
  };
  return { sql: msql, kv: mkv };
}

/** An alarm was stored. */
export function countAlarm(): void {
  costs.alarmsSet++;
}

/**
 * Counts every call into instances of `cls`: each public method of its
 * prototype (RPC methods, `fetch`, `alarm`, the socket handlers) is wrapped
 * once, at module load.
 */
export function countCalls(cls: { name: string; prototype: object }): void {
  const proto = cls.prototype as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === "constructor") continue;
    const desc = Object.getOwnPropertyDescriptor(proto, name);
    const fn = desc?.value;
    if (typeof fn !== "function") continue;
    const key = `${cls.name}.${name}`;
    Object.defineProperty(proto, name, {
      ...desc,
      value: function (this: unknown, ...args: unknown[]) {
        costs.calls[key] = (costs.calls[key] ?? 0) + 1;
        return fn.apply(this, args);
      }
    });
  }
}

const RAW = Symbol("raw statement");

/** The D1 binding, counted: every statement run, and each round trip (a batch is one). */
export function meteredD1(db: D1Database): D1Database {
  const wrapStatement = (s: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(s, {
      get(target, prop) {
        if (prop === RAW) return target;
        const v = Reflect.get(target, prop, target);
        if (typeof v !== "function") return v;
        if (prop === "bind") return (...a: unknown[]) => wrapStatement((v as (...x: unknown[]) => D1PreparedStatement).apply(target, a));
        if (prop === "all" || prop === "run" || prop === "first" || prop === "raw") {
          return (...a: unknown[]) => {
            costs.d1Statements++;
            costs.d1Queries++;
            return (v as (...x: unknown[]) => unknown).apply(target, a);
          };
        }
        return (v as (...x: unknown[]) => unknown).bind(target);
      }
    });
  return new Proxy(db, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop === "prepare") return (query: string) => wrapStatement(target.prepare(query));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          costs.d1Statements += statements.length;
          costs.d1Queries++;
          return target.batch(statements.map(unwrap));
        };
      }
      return typeof v === "function" ? (v as (...x: unknown[]) => unknown).bind(target) : v;
    }
  });
}

/** A batch hands the binding its own statements, not our proxies of them. */
function unwrap(s: D1PreparedStatement): D1PreparedStatement {
  return (s as unknown as { [RAW]?: D1PreparedStatement })[RAW] ?? s;
}
