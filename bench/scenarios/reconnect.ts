import type { BenchClient } from "../client.ts";
import { type Ctx, type Metric, num, step, Recorder } from "../metrics.ts";
import { newSendStats, sendWindowed } from "../sender.ts";
import { befriend, closeAll, connectAll, poolUsers } from "../setup.ts";
import { CpuMeter, Expect } from "../stats.ts";
import type { Target } from "../targets.ts";
import { auditWithSync, Tracker } from "../tracker.ts";
import { waitProgress } from "../util.ts";

/**
 * reconnect storm: --storm-clients users in friend pairs, all connected, each
 * having sent its partner one message (so every client has a seq > 0). Then
 * every socket is dropped at once (client-side terminate) and all reconnect
 * with since=<last seq> (at most --connect-concurrency handshakes in flight).
 * Reports time until every welcome + catch-up is done, failures, and any
 * pre-storm message never received (lost) or received twice (dup).
 */
export async function reconnect(t: Target, ctx: Ctx): Promise<Metric[]> {
  const C = num(ctx.flags, "storm-clients") & ~1;
  const partner = (i: number) => i ^ 1;
  const uids = await step(ctx, "reconnect: create users and friendships", async () => {
    const u = await poolUsers(t, C);
    await befriend(t, Array.from({ length: C / 2 }, (_, p) => [u[2 * p]!, u[2 * p + 1]!] as const));
    return u;
  });
  const tr = new Tracker(C, 1, (recv, b) => (b.s === partner(recv) ? 0 : -1));
  const first = await step(ctx, "reconnect: first connect", () => connectAll(t, uids, { ctx, concurrency: 128, onMessage: tr.onMessage }));
  let back: (BenchClient | undefined)[] = [];
  try {
    if (first.failures) throw new Error(`connect failures: ${JSON.stringify(first.errors)}`);
    const F = first.clients as BenchClient[];
    const stats = newSendStats();
    const acked = new Uint8Array(C);
    await Promise.all(F.map((c, i) => sendWindowed(c, 1, 1,
      () => ({ type: "send", to: uids[partner(i)], cmid: `${tr.run}-${i}`, body: tr.body(i, 0) }), stats, () => (acked[i] = 1))));
    await waitProgress(() => tr.delivered, stats.acked, num(ctx.flags, "settle-ms"));
    const since = F.map((c) => c.lastSeq);

    const cpu = new CpuMeter(t.pids());
    const t0 = performance.now();
    for (const c of F) c.terminate();
    const r = await connectAll(t, uids, {
      ctx, concurrency: num(ctx.flags, "connect-concurrency"), since: (i) => since[i], timeoutMs: 120_000,
      onMessage: tr.onMessage
    });
    back = r.clients;
    await Promise.race([Promise.all(back.map((c) => c?.caughtUp)), new Promise((res) => setTimeout(res, 120_000))]);
    const ms = performance.now() - t0;
    cpu.stop();
    const a = await auditWithSync(tr, back, (rr) => (acked[partner(rr)] ? Expect.MUST : Expect.MAY));
    if (r.failures || a.lost || a.dup) ctx.log(`reconnect: lost=${a.lost} (after sync ${a.lostAfterSync}) dup=${a.dup} failures=${JSON.stringify(r.errors)}`);
    return new Recorder("reconnect", `C=${C}`)
      .add("time to all resumed", ms, "ms")
      .add("failures", r.failures).add("lost", a.lost).add("dup", a.dup + tr.misrouted).lostAfterSync(a).cpu(cpu).out;
  } finally {
    await closeAll([...first.clients, ...back]);
  }
}
