import type { Target } from "./targets.ts";
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

  latency(h: Histogram): this {
    return this.add("p50", h.quantile(0.5), "ms").add("p90", h.quantile(0.9), "ms")
      .add("p99", h.quantile(0.99), "ms").add("max", h.max, "ms");
  }
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
