import type { BenchClient } from "../client.ts";
import { type Ctx, type Metric, num, nums, Recorder, startCosts, step } from "../metrics.ts";
import { newSendStats, sendOne } from "../sender.ts";
import { closeAll, connectAll, createGroup, poolUsers } from "../setup.ts";
import { CpuMeter, Expect, Histogram } from "../stats.ts";
import type { Target } from "../targets.ts";
import { auditWithSync, listen, Tracker } from "../tracker.ts";
import { waitFor } from "../util.ts";

/**
 * biggroup: for each size N in --big-sizes, a group of N members of whom the
 * first --big-online are connected; member 0 sends --big-msgs messages one
 * at a time, each once every online member has the previous one. Reports
 * the sender's ack latency and the delivery latency, and what a message
 * costs. Stored once, a message to 10,000 members with 100 online should cost
 * and take what one to 100 members all online does: the offline cost nothing.
 */
export async function bigGroup(t: Target, ctx: Ctx): Promise<Metric[]> {
  const out: Metric[] = [];
  const O = num(ctx.flags, "big-online");
  const M = num(ctx.flags, "big-msgs");
  for (const N of nums(ctx.flags, "big-sizes")) {
    const gid = `big${N}`;
    const uids = await step(ctx, `biggroup N=${N}: create users`, () => poolUsers(t, N));
    await step(ctx, `biggroup N=${N}: create group`, () => createGroup(t, gid, uids));
    const cm = await step(ctx, `biggroup N=${N}: connect ${O}`, () => connectAll(t, uids.slice(0, O), { ctx, concurrency: 64 }));
    try {
      if (cm.failures) throw new Error(`connect failures: ${JSON.stringify(cm.errors)}`);
      const C = cm.clients as BenchClient[];
      for (const c of C) c.groups.add(gid);
      // Each object attaches to its groups just after its socket opens: let that finish.
      await new Promise((r) => setTimeout(r, 2_000));
      const kase = `N=${N} online=${O} M=${M} one at a time`;
      const tr = new Tracker(O, M, (r, b) => (r === 0 ? -1 : b.k));
      listen(C, tr);
      const stats = newSendStats();
      const acks = new Histogram();
      const costs = await startCosts(t);
      const cpu = new CpuMeter(t.pids());
      const t0 = performance.now();
      for (let k = 0; k < M && !ctx.signal.aborted; k++) {
        const sent = performance.now();
        await new Promise<void>((done) =>
          sendOne(C[0]!, { type: "send", chat: "group", to: gid, cmid: `${tr.run}-${k}`, body: tr.body(0, k) }, stats, () => {
            acks.record(performance.now() - sent);
            done();
          })
        );
        await waitFor(() => C.every((_, r) => r === 0 || tr.ledger.has(r, k)), 10_000);
      }
      const spanMs = performance.now() - t0;
      cpu.stop();
      const spent = await costs.read();
      const a = await auditWithSync(tr, C, (r) => (r === 0 ? Expect.NEVER : Expect.MUST));
      out.push(...new Recorder("biggroup", kase)
        .add("messages/s", (stats.acked / spanMs) * 1000, "/s")
        .add("ack p50", acks.quantile(0.5), "ms").add("ack p99", acks.quantile(0.99), "ms")
        .latency(tr.hist)
        .add("lost", a.lost).add("dup", a.dup).lostAfterSync(a)
        .add("send errors", stats.failed).cpu(cpu)
        .costs(spent, cpu, stats.acked, tr.delivered).out);
    } finally {
      await closeAll(cm.clients);
    }
  }
  return out;
}
