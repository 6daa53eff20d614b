import type { Costs, Target } from "./targets.ts";
import type { CpuMeter, Histogram } from "./stats.ts";

/** One measured number of one scenario case on one target. */
export interface Metric {
  scenario: string;
  case: string;
  metric: string;
  unit: string;
  value: number;
}

/** Parsed CLI flags: every size a scenario reads has a default in run.ts. */
export type Flags = Record<string, number | number[] | string | boolean>;

export interface Ctx {
  flags: Flags;
  log: (msg: string) => void;
  /** Aborted when the scenario timed out: stop starting new work. */
  signal: AbortSignal;
}

/** Runs an untimed setup step and logs how long it took (setup cost is part of the story). */
export async function step<T>(ctx: Ctx, what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await fn();
  ctx.log(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return r;
}

export type Scenario = (t: Target, ctx: Ctx) => Promise<Metric[]>;

/** Collects metrics of one scenario case. */
export class Recorder {
  readonly out: Metric[] = [];
  readonly scenario: string;
  readonly kase: string;
  constructor(scenario: string, kase: string) {
    this.scenario = scenario;
    this.kase = kase;
  }

  add(metric: string, value: number, unit = ""): this {
    this.out.push({ scenario: this.scenario, case: this.kase, metric, unit, value });
    return this;
  }

  /** Server and load-generator CPU over the measured window: which side was the bottleneck. */
  cpu(m: CpuMeter): this {
    const c = m.stop();
    return this.add("server CPU", c.server, "%core").add("loadgen CPU", c.loadgen, "%core");
  }

  /** Only when pushes were missing: how many the receivers' inboxes lacked too. */
  lostAfterSync(a: { lost: number; lostAfterSync: number }): this {
    return a.lost ? this.add("lost after sync", a.lostAfterSync) : this;
  }

  /**
   * What the measured window cost the server, per message sent (`msgs`):
   * SQLite rows written and read (KV operations count as rows of its table),
   * object calls and D1 queries; and server CPU per delivery. Costs exist
   * for ours only; CPU for both targets.
   */
  costs(c: Costs | undefined, cpu: CpuMeter, msgs: number, deliveries: number): this {
    const { serverSeconds } = cpu.stop();
    if (deliveries > 0) this.add("server CPU/delivery", (serverSeconds * 1e6) / deliveries, "µs");
    if (!c || msgs === 0) return this;
    const calls = Object.values(c.calls).reduce((n, v) => n + v, 0);
    return this.add("rows written/msg", (c.rowsWritten + c.kvWrites + c.alarmsSet) / msgs)
      .add("rows read/msg", (c.rowsRead + c.kvReads) / msgs)
      .add("object calls/msg", calls / msgs)
      .add("D1 queries/msg", c.d1Queries / msgs);
  }

  latency(h: Histogram): this {
    return this.add("p50", h.quantile(0.5), "ms").add("p90", h.quantile(0.9), "ms")
      .add("p99", h.quantile(0.99), "ms").add("max", h.max, "ms");
  }
}

/** Zeroes the server's cost counters now; `read` waits for late background writes, then reads them. */
export async function startCosts(t: Target): Promise<{ read(): Promise<Costs | undefined> }> {
  await t.costs?.(true);
  return {
    read: async () => {
      if (!t.costs) return undefined;
      // Delivery marks and fan-out cursors are written up to 2 s after the last delivery.
      await new Promise((r) => setTimeout(r, 2_500));
      return t.costs(false);
    }
  };
}

export function num(flags: Flags, key: string): number {
  const v = flags[key];
  if (typeof v !== "number") throw new Error(`--${key} must be a number`);
  return v;
}

export function nums(flags: Flags, key: string): number[] {
  const v = flags[key];
  return Array.isArray(v) ? v : [num(flags, key)];
}
