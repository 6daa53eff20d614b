import type { BenchClient } from "../client.ts";
import { type Ctx, type Metric, num, startCosts, step, nums, Recorder } from "../metrics.ts";
import { newSendStats, sendWindowed } from "../sender.ts";
import { closeAll, connectAll, createGroup, poolUsers } from "../setup.ts";
import { CpuMeter, Expect } from "../stats.ts";
import type { Target } from "../targets.ts";
import { auditWithSync, listen, Tracker } from "../tracker.ts";
import { waitProgress } from "../util.ts";

/**
 * group: for each size G in --group-sizes, one group of G members, all
 * connected; for each S in --group-senders, members 0..S-1 each send
 * up to --group-msgs with --group-window unacked, issuing none after
 * --group-seconds (0 = no time cap). Every member but the sender must
 * get each acked message exactly once. Reports deliveries/s (span: first
 * send → last delivery), latency, lost, dup, error replies.
 */
export async function group(t: Target, ctx: Ctx): Promise<Metric[]> {
  const out: Metric[] = [];
  const M = num(ctx.flags, "group-msgs");
  const W = num(ctx.flags, "group-window");
  const secs = num(ctx.flags, "group-seconds");
  for (const G of nums(ctx.flags, "group-sizes")) {
    const gid = `g${G}`;
    const uids = await step(ctx, `group G=${G}: create users`, () => poolUsers(t, G));
    await step(ctx, `group G=${G}: create group`, () => createGroup(t, gid, uids));
    const cm = await step(ctx, `group G=${G}: connect members`, () => connectAll(t, uids, { ctx, concurrency: 128 }));
    try {
      if (cm.failures) throw new Error(`connect failures: ${JSON.stringify(cm.errors)}`);
      const C = cm.clients as BenchClient[];
      for (const c of C) c.groups.add(gid); // a repair sync reads the group's stream too
      for (const S of nums(ctx.flags, "group-senders")) {
        const kase = `G=${G} senders=${S} W=${W} ${secs ? `${secs}s (≤${M}/sender)` : `M=${M}`}`;
        const until = secs ? performance.now() + secs * 1000 : Number.POSITIVE_INFINITY;
        const tr = new Tracker(G, S * M, (_r, b) => b.s * M + b.k);
        listen(C, tr);
        const stats = newSendStats();
        const acked = new Uint8Array(S * M);
        const costs = await startCosts(t);
        const cpu = new CpuMeter(t.pids());
        const t0 = performance.now();
        await Promise.all(C.slice(0, S).map((c, s) =>
          sendWindowed(c, M, W, (k) => ({ type: "send", chat: "group", to: gid, cmid: `${tr.run}-${s}-${k}`, body: tr.body(s, k) }),
            stats, (k) => (acked[s * M + k] = 1), until)
        ));
        await waitProgress(() => tr.delivered, stats.acked * (G - 1), num(ctx.flags, "settle-ms"));
        cpu.stop();
        const spent = await costs.read();
        const a = await auditWithSync(tr, C, (r, key) => {
          const s = Math.floor(key / M);
          if (r === s) return Expect.NEVER;
          return acked[key] ? Expect.MUST : Expect.MAY;
        });
        if (stats.failed || stats.retries || a.lost || a.dup) {
          ctx.log(`group ${kase}: lost=${a.lost} (after sync ${a.lostAfterSync}, receivers short: ${a.short.length}) dup=${a.dup} failed=${stats.failed} retries=${stats.retries} codes=${JSON.stringify(stats.errors)}`);
        }
        const spanMs = tr.lastDelivery - t0;
        out.push(...new Recorder("group", kase)
          .add("deliveries/s", (tr.delivered / spanMs) * 1000, "/s").add("deliveries", tr.delivered)
          .latency(tr.hist)
          .add("lost", a.lost).add("dup", a.dup).lostAfterSync(a)
          .add("send errors", stats.failed).cpu(cpu)
          .costs(spent, cpu, stats.acked, tr.delivered).out);
      }
    } finally {
      await closeAll(cm.clients);
    }
  }
  return out;
}
