import { type Ctx, type Metric, num, startCosts, step, Recorder } from "../metrics.ts";
import { newSendStats, sendAtRate, sendWindowed, type SendStats } from "../sender.ts";
import { befriend, closeAll, connectAll, createUsers } from "../setup.ts";
import { CpuMeter, Expect } from "../stats.ts";
import type { Target } from "../targets.ts";
import { auditWithSync, listen, Tracker } from "../tracker.ts";
import type { BenchClient } from "../client.ts";
import { waitProgress } from "../util.ts";

/**
 * private: --pairs friend pairs, sender i → receiver i, all connected.
 * (a) throughput: each sender sends --msgs with --window unacked, issuing
 *     none after --seconds (0 = no time cap);
 * (b) fixed rate: --rate msg/s in total for --rate-seconds, round-robin.
 * Each reports delivered msgs/s, send→delivery latency, lost (acked, never
 * delivered) and dup (extra or misrouted copies), and error replies.
 */
export async function privateChat(t: Target, ctx: Ctx): Promise<Metric[]> {
  const P = num(ctx.flags, "pairs");
  const senders = Array.from({ length: P }, (_, i) => `pv_s${i}`);
  const receivers = Array.from({ length: P }, (_, i) => `pv_r${i}`);
  await step(ctx, "private: create users and friendships", async () => {
    await createUsers(t, [...senders, ...receivers]);
    await befriend(t, senders.map((s, i) => [s, receivers[i]!] as const));
  });
  const [cs, cr] = await step(ctx, "private: connect", async () =>
    [await connectAll(t, senders, { ctx, concurrency: 64 }), await connectAll(t, receivers, { ctx, concurrency: 64 })] as const);
  try {
    if (cs.failures || cr.failures) throw new Error(`connect failures: ${JSON.stringify({ ...cs.errors, ...cr.errors })}`);
    const S = cs.clients as BenchClient[];
    const R = cr.clients as BenchClient[];
    const out: Metric[] = [];

    const M = num(ctx.flags, "msgs");
    const W = num(ctx.flags, "window");
    const secs = num(ctx.flags, "seconds");
    const label = `throughput P=${P} W=${W} ${secs ? `${secs}s (≤${M}/sender)` : `M=${M}`}`;
    out.push(...(await phase(ctx, t, R, label, P, M, (tr, stats, acked) => {
      const until = secs ? performance.now() + secs * 1000 : Number.POSITIVE_INFINITY;
      return Promise.all(S.map((c, i) =>
        sendWindowed(c, M, W, (k) => frame(receivers[i]!, i, k, tr), stats, (k) => (acked[i]![k] = 1), until)));
    })));

    const rate = num(ctx.flags, "rate");
    const total = Math.round(rate * num(ctx.flags, "rate-seconds"));
    const per = Math.ceil(total / P);
    out.push(...(await phase(ctx, t, R, `rate ${rate}/s P=${P} total=${total}`, P, per, (tr, stats, acked) =>
      sendAtRate(S, total, rate, (s, k) => frame(receivers[s]!, s, k, tr), stats, (s, k) => (acked[s]![k] = 1))
    )));
    return out;
  } finally {
    await closeAll([...cs.clients, ...cr.clients]);
  }
}

function frame(to: string, s: number, k: number, tr: Tracker): Record<string, unknown> {
  return { type: "send", to, cmid: `${tr.run}-${s}-${k}`, body: tr.body(s, k) };
}

/** Runs one measured send phase against receivers R; `keys` = messages per sender. */
async function phase(
  ctx: Ctx,
  t: Target,
  R: BenchClient[],
  kase: string,
  P: number,
  keys: number,
  send: (tr: Tracker, stats: SendStats, acked: Uint8Array[]) => Promise<unknown>
): Promise<Metric[]> {
  const tr = new Tracker(P, keys, (recv, b) => (b.s === recv ? b.k : -1));
  listen(R, tr);
  const stats = newSendStats();
  const acked = Array.from({ length: P }, () => new Uint8Array(keys));
  const costs = await startCosts(t);
  const cpu = new CpuMeter(t.pids());
  const t0 = performance.now();
  await send(tr, stats, acked);
  const ackMs = performance.now() - t0;
  await waitProgress(() => tr.delivered, stats.acked, num(ctx.flags, "settle-ms"));
  cpu.stop();
  const spent = await costs.read();
  const a = await auditWithSync(tr, R, (r, k) => (acked[r]![k] ? Expect.MUST : Expect.MAY));
  const errors = stats.failed + stats.retries;
  if (errors || a.lost || a.dup || tr.misrouted) {
    ctx.log(`private ${kase}: lost=${a.lost} (after sync ${a.lostAfterSync}) dup=${a.dup} misrouted=${tr.misrouted} failed=${stats.failed} retries=${stats.retries} codes=${JSON.stringify(stats.errors)}`);
  }
  const spanMs = Math.max(tr.lastDelivery, t0 + ackMs) - t0;
  return new Recorder("private", kase)
    .add("delivered msgs/s", (tr.delivered / spanMs) * 1000, "/s").add("delivered", tr.delivered)
    .latency(tr.hist)
    .add("lost", a.lost).add("dup", a.dup + tr.misrouted).lostAfterSync(a)
    .add("send errors", stats.failed).cpu(cpu)
    .costs(spent, cpu, stats.acked, tr.delivered).out;
}
