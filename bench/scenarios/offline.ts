import type { BenchClient } from "../client.ts";
import { type Ctx, type Metric, num, step, Recorder } from "../metrics.ts";
import { newSendStats, sendWindowed } from "../sender.ts";
import { befriend, closeAll, connectAll, createUsers } from "../setup.ts";
import { CpuMeter, Expect } from "../stats.ts";
import type { Target } from "../targets.ts";
import { auditWithSync, Tracker } from "../tracker.ts";

/**
 * offline: --offline-users receivers connect once (to learn their head) and
 * leave; a friend of each sends --offline-msgs to it; then every receiver
 * reconnects at once with since=<head> and syncs until more=false.
 * Reports time until all caught up, events/s, lost/dup, connect failures.
 */
export async function offline(t: Target, ctx: Ctx): Promise<Metric[]> {
  const U = num(ctx.flags, "offline-users");
  const K = num(ctx.flags, "offline-msgs");
  const senders = Array.from({ length: U }, (_, i) => `of_s${i}`);
  const receivers = Array.from({ length: U }, (_, i) => `of_r${i}`);
  await step(ctx, "offline: create users and friendships", async () => {
    await createUsers(t, [...senders, ...receivers]);
    await befriend(t, senders.map((s, i) => [s, receivers[i]!] as const));
  });
  const first = await step(ctx, "offline: receivers connect once", () => connectAll(t, receivers, { ctx, concurrency: 64 }));
  if (first.failures) throw new Error(`connect failures: ${JSON.stringify(first.errors)}`);
  const heads = first.clients.map((c) => c!.head);
  await closeAll(first.clients);

  const cs = await connectAll(t, senders, { ctx, concurrency: 64 });
  const tr = new Tracker(U, K, (recv, b) => (b.s === recv ? b.k : -1));
  let back: (BenchClient | undefined)[] = [];
  try {
    if (cs.failures) throw new Error(`connect failures: ${JSON.stringify(cs.errors)}`);
    const stats = newSendStats();
    const acked = Array.from({ length: U }, () => new Uint8Array(K));
    await step(ctx, "offline: queue messages", () => Promise.all((cs.clients as BenchClient[]).map((c, i) =>
      sendWindowed(c, K, num(ctx.flags, "window"), (k) => ({ type: "send", to: receivers[i], cmid: `${tr.run}-${i}-${k}`, body: tr.body(i, k) }),
        stats, (k) => (acked[i]![k] = 1))
    )));
    if (stats.failed) ctx.log(`offline fixtures: ${stats.failed} sends failed ${JSON.stringify(stats.errors)}`);

    const cpu = new CpuMeter(t.pids());
    const t0 = performance.now();
    const r = await connectAll(t, receivers, {
      ctx, concurrency: Math.max(U, 1), since: (i) => heads[i], timeoutMs: 120_000,
      onMessage: tr.onMessage
    });
    back = r.clients;
    await Promise.race([Promise.all(back.map((c) => c?.caughtUp)), new Promise((res) => setTimeout(res, 120_000))]);
    const ms = performance.now() - t0;
    cpu.stop();
    const a = await auditWithSync(tr, back, (rr, k) => (acked[rr]![k] ? Expect.MUST : Expect.MAY));
    const syncErrors = back.reduce((n, c) => n + (c?.syncErrors ?? 0), 0);
    if (r.failures || a.lost || a.dup || tr.misrouted || syncErrors) {
      ctx.log(`offline: lost=${a.lost} (after sync ${a.lostAfterSync}) dup=${a.dup} misrouted=${tr.misrouted} failures=${JSON.stringify(r.errors)} syncErrors=${syncErrors}`);
    }
    return new Recorder("offline", `U=${U} K=${K}`)
      .add("time to all caught up", ms, "ms").add("events/s", (tr.delivered / ms) * 1000, "/s")
      .add("lost", a.lost).add("dup", a.dup + tr.misrouted).lostAfterSync(a)
      .add("connect failures", r.failures).add("sync errors", syncErrors).cpu(cpu).out;
  } finally {
    await closeAll([...cs.clients, ...back]);
  }
}
