import { BenchClient, type OnMessage } from "./client.ts";
import type { Ctx } from "./metrics.ts";
import type { Target } from "./targets.ts";
import { mapLimit } from "./util.ts";

/** Parallel admin requests while creating fixtures (not timed). */
const ADMIN_CONCURRENCY = 16;

async function expectCreated(t: Target, p: string, body: unknown): Promise<void> {
  const r = await t.admin("POST", p, body);
  if (r.status !== 201 && r.status !== 200) throw new Error(`${t.name} POST ${p} → ${r.status} ${JSON.stringify(r.body)}`);
}

export async function createUsers(t: Target, uids: readonly string[]): Promise<void> {
  await mapLimit(uids, ADMIN_CONCURRENCY, (id) => expectCreated(t, "/api/v1/users", { id }));
}

const pools = new WeakMap<Target, number>();

/**
 * Users `u0`..`u{n-1}`, shared by the scenarios that need many plain users
 * (connect, group, reconnect) so each target creates them once per run.
 */
export async function poolUsers(t: Target, n: number): Promise<string[]> {
  const have = pools.get(t) ?? 0;
  const uids = Array.from({ length: n }, (_, i) => `u${i}`);
  if (n > have) {
    await createUsers(t, uids.slice(have));
    pools.set(t, n);
  }
  return uids;
}

export async function befriend(t: Target, pairs: readonly (readonly [string, string])[]): Promise<void> {
  await mapLimit(pairs, ADMIN_CONCURRENCY, ([a, b]) => expectCreated(t, "/api/v1/friendships", { a, b }));
}

/** Creates group `id` owned by `members[0]` with every member in it. */
export async function createGroup(t: Target, id: string, members: readonly string[]): Promise<void> {
  await expectCreated(t, "/api/v1/groups", { id, name: id, owner: members[0], members: members.slice(1) });
}

export interface ConnectResult {
  /** Index-aligned with the uids; undefined where the connection failed. */
  clients: (BenchClient | undefined)[];
  failures: number;
  errors: Record<string, number>;
  ms: number;
}

/**
 * Opens one socket per uid (client.tag = its index) with at most `concurrency` handshakes in flight;
 * `ms` runs from the first attempt until the last welcome (or failure). Logs progress every
 * 10 s while it lasts; once `ctx.signal` aborts, the remaining uids fail as "aborted".
 */
export async function connectAll(
  t: Target,
  uids: readonly string[],
  o: { ctx: Ctx; concurrency: number; onMessage?: OnMessage; since?: (i: number) => number | undefined; timeoutMs?: number }
): Promise<ConnectResult> {
  const errors: Record<string, number> = {};
  let failures = 0, opened = 0;
  const t0 = performance.now();
  const progress = setInterval(() => {
    o.ctx.log(`connecting: ${opened}/${uids.length} open, ${failures} failed ${JSON.stringify(errors)} after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }, 10_000);
  const clients = await mapLimit(uids, o.concurrency, async (uid, i) => {
    if (o.ctx.signal.aborted) {
      failures++;
      errors.aborted = (errors.aborted ?? 0) + 1;
      return undefined;
    }
    try {
      const c = await BenchClient.connect({
        wsUrl: t.wsUrl, uid, token: t.token(uid), since: o.since?.(i), onMessage: o.onMessage, timeoutMs: o.timeoutMs, tag: i
      });
      opened++;
      return c;
    } catch (e) {
      failures++;
      const key = (e as Error).message.slice(0, 60);
      errors[key] = (errors[key] ?? 0) + 1;
      return undefined;
    }
  });
  clearInterval(progress);
  return { clients, failures, errors, ms: performance.now() - t0 };
}

/** Closes every client and waits (bounded) for the close handshakes. */
export async function closeAll(clients: readonly (BenchClient | undefined)[], timeoutMs = 5000): Promise<void> {
  const open = clients.filter((c): c is BenchClient => !!c && c.closedCode === undefined);
  const done = Promise.all(open.map((c) => new Promise<void>((r) => {
    if (c.closedCode !== undefined) return r();
    c.ws.once("close", () => r());
    c.close();
  })));
  await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
  for (const c of open) if (c.closedCode === undefined) c.terminate();
}
