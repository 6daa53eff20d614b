import { type Ctx, type Metric, num, startCosts, step, Recorder } from "../metrics.ts";
import { befriend, closeAll, connectAll, createUsers } from "../setup.ts";
import { CpuMeter, Expect } from "../stats.ts";
import type { Target } from "../targets.ts";
import { auditWithSync, listen, Tracker } from "../tracker.ts";
import type { BenchClient } from "../client.ts";
import { waitProgress } from "../util.ts";

/**
 * relay: the seed's backend relaying chat, `Gateway::sendToUid($toUid,
 * json_encode($message))` as `POST /api/v1/gateway/sendToUid`: --relay-pairs
 * friend pairs, receivers connected over v1, --relay-rate requests a second
 * in total for --relay-seconds, each the seed's frame from sender i to
 * receiver i. Below the deployed push budget (6,000 calls per 10 s per key,
 * 600 per 10 s per user), which is part of what is measured. Reports
 * delivered/s, request→delivery latency, lost/dup, refused requests and the
 * server's cost per relayed message.
 */
export async function relay(t: Target, ctx: Ctx): Promise<Metric[]> {
  const P = num(ctx.flags, "relay-pairs");
  const rate = num(ctx.flags, "relay-rate");
  const total = Math.round(rate * num(ctx.flags, "relay-seconds"));
  const per = Math.ceil(total / P);
  const senders = Array.from({ length: P }, (_, i) => `rl_s${i}`);
  const receivers = Array.from({ length: P }, (_, i) => `rl_r${i}`);
  await step(ctx, "relay: create users and friendships", async () => {
    await createUsers(t, [...senders, ...receivers]);
    await befriend(t, senders.map((s, i) => [s, receivers[i]!] as const));
  });
  const cr = await step(ctx, "relay: connect receivers", () => connectAll(t, receivers, { ctx, concurrency: 64 }));
  try {
    if (cr.failures) throw new Error(`connect failures: ${JSON.stringify(cr.errors)}`);
    const R = cr.clients as BenchClient[];
    const tr = new Tracker(P, per, (recv, b) => (b.s === recv ? b.k : -1));
    listen(R, tr);
    const acked = Array.from({ length: P }, () => new Uint8Array(per));
    const refused: Record<string, number> = {};
    let ok = 0;
    const costs = await startCosts(t);
    const cpu = new CpuMeter(t.pids());
    const t0 = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let n = 0; n < total; n++) {
      const wait = t0 + (n * 1000) / rate - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const s = n % P;
      const k = Math.floor(n / P);
      // The seed's message array, with the bench's ledger fields in it (they travel as the body).
      const message = { fromUid: senders[s], toUid: receivers[s], isGroup: 0, type: "text", id: `${tr.run}-${s}-${k}`, ...tr.body(s, k) };
      inFlight.push(
        t.admin("POST", "/api/v1/gateway/sendToUid", { uid: receivers[s], message: JSON.stringify(message) }).then((r) => {
          const d = (r.body as { deliveries?: { as: string; error?: { code: string } }[] }).deliveries?.[0];
          if (r.status === 200 && d?.as === "message" && !d.error) {
            acked[s]![k] = 1;
            ok++;
          } else {
            const code = d?.error?.code ?? String((r.body as { error?: { code?: string } }).error?.code ?? r.status);
            refused[code] = (refused[code] ?? 0) + 1;
          }
        })
      );
    }
    await Promise.all(inFlight);
    const sentMs = performance.now() - t0;
    await waitProgress(() => tr.delivered, ok, num(ctx.flags, "settle-ms"));
    cpu.stop();
    const spent = await costs.read();
    const a = await auditWithSync(tr, R, (r, k) => (acked[r]![k] ? Expect.MUST : Expect.MAY));
    const failed = Object.values(refused).reduce((x, y) => x + y, 0);
    if (failed || a.lost || a.dup || tr.misrouted) ctx.log(`relay: lost=${a.lost} dup=${a.dup} misrouted=${tr.misrouted} refused=${JSON.stringify(refused)}`);
    const spanMs = Math.max(tr.lastDelivery - t0, sentMs);
    return new Recorder("relay", `sendToUid ${rate}/s P=${P} total=${total}`)
      .add("delivered msgs/s", (tr.delivered / spanMs) * 1000, "/s").add("delivered", tr.delivered)
      .latency(tr.hist)
      .add("lost", a.lost).add("dup", a.dup + tr.misrouted).lostAfterSync(a)
      .add("refused requests", failed).cpu(cpu)
      .costs(spent, cpu, ok, tr.delivered).out;
  } finally {
    await closeAll(cr.clients);
  }
}
