import type { BenchClient, ReplyFrame } from "../client.ts";
import { type Ctx, type Metric, num, nums, step, Recorder } from "../metrics.ts";
import { closeAll, connectAll, poolUsers } from "../setup.ts";
import { CpuMeter, Histogram } from "../stats.ts";
import type { Target } from "../targets.ts";

/**
 * echo: the floor under every other scenario. --echo-clients clients send
 * `ping` requests with an id for --echo-seconds, each keeping W in flight for
 * each W in --echo-windows. Ours answers them in the user object with no
 * storage and no other object involved: one socket event and one reply, so
 * requests/s is the most a target can handle per WebSocket message. W=1 puts
 * one frame in each message; a larger W lets frames share one.
 */
export async function echo(t: Target, ctx: Ctx): Promise<Metric[]> {
  const uids = await step(ctx, "echo: create users", () => poolUsers(t, num(ctx.flags, "echo-clients")));
  const r = await step(ctx, "echo: connect", () => connectAll(t, uids, { ctx, concurrency: 64 }));
  try {
    if (r.failures) throw new Error(`connect failures: ${JSON.stringify(r.errors)}`);
    const clients = r.clients as BenchClient[];
    const out: Metric[] = [];
    for (const w of nums(ctx.flags, "echo-windows")) {
      const rec = new Recorder("echo", `ping clients=${clients.length} W=${w} ${num(ctx.flags, "echo-seconds")}s`);
      const hist = new Histogram();
      let answered = 0, failed = 0;
      const cpu = new CpuMeter(t.pids());
      const t0 = performance.now();
      const until = t0 + num(ctx.flags, "echo-seconds") * 1000;
      await Promise.all(clients.map((c) => new Promise<void>((resolve) => {
        let inFlight = 0;
        const issue = () => {
          while (inFlight < w && performance.now() < until && c.open) {
            inFlight++;
            const sent = performance.now();
            c.request({ type: "ping" }, (reply: ReplyFrame) => {
              inFlight--;
              if (reply.ok) {
                answered++;
                hist.record(performance.now() - sent);
              } else failed++;
              issue();
              if (inFlight === 0) resolve();
            });
          }
          if (inFlight === 0) resolve();
        };
        issue();
      })));
      const ms = performance.now() - t0;
      rec.add("requests/s", (answered / ms) * 1000, "/s").latency(hist).add("errors", failed).cpu(cpu);
      out.push(...rec.out);
    }
    return out;
  } finally {
    await closeAll(r.clients);
  }
}
