import { type Ctx, type Metric, num, step, nums, Recorder } from "../metrics.ts";
import { closeAll, connectAll, poolUsers } from "../setup.ts";
import { CpuMeter, rssKiB } from "../stats.ts";
import type { Target } from "../targets.ts";
import { sleep, waitFor } from "../util.ts";

/**
 * connect: for each N in --connect-n, N users open one socket each (at most
 * --connect-concurrency handshakes in flight). Measures time until every
 * welcome, failures, server RSS before/after, and how many sockets still
 * answer a heartbeat after --hold-ms.
 */
export async function connect(t: Target, ctx: Ctx): Promise<Metric[]> {
  const out: Metric[] = [];
  for (const n of nums(ctx.flags, "connect-n")) {
    const rec = new Recorder("connect", `N=${n}`);
    const uids = await step(ctx, `connect N=${n}: create users`, () => poolUsers(t, n));
    await sleep(500);
    const before = rssKiB(t.pids());
    const cpu = new CpuMeter(t.pids());
    const r = await connectAll(t, uids, { ctx, concurrency: num(ctx.flags, "connect-concurrency") });
    cpu.stop();
    const opened = n - r.failures;
    if (r.failures) ctx.log(`connect N=${n} failures: ${JSON.stringify(r.errors)}`);
    await sleep(num(ctx.flags, "hold-ms"));
    const live = r.clients.filter((c) => c?.open);
    for (const c of live) c!.ping();
    await waitFor(() => live.every((c) => c!.pongs > 0), 15_000, 20);
    const held = live.filter((c) => c!.pongs > 0).length;
    const after = rssKiB(t.pids());
    rec.add("time to all open", r.ms, "ms")
      .add("failures", r.failures).add("held (pong after hold)", held)
      .add("server RSS before", before / 1024, "MiB").add("server RSS after", after / 1024, "MiB")
      .add("RSS per socket", opened ? (after - before) / opened : Number.NaN, "KiB").cpu(cpu);
    await closeAll(r.clients);
    out.push(...rec.out);
  }
  return out;
}
