import { readFileSync } from "node:fs";

/**
 * Latency histogram with ~1 % relative buckets from 1 µs up: O(1) record,
 * bounded memory, percentiles within 1 %. Max and count are exact. Values in ms.
 */
export class Histogram {
  static readonly #LOG = Math.log(1.01);
  readonly #buckets = new Float64Array(2400);
  count = 0;
  max = 0;
  sum = 0;

  record(ms: number): void {
    const v = ms < 0.001 ? 0.001 : ms;
    const i = Math.min(this.#buckets.length - 1, Math.floor(Math.log(v * 1000) / Histogram.#LOG));
    this.#buckets[i]!++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** Upper edge of the bucket holding quantile `q` (0..1); NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i]!;
      if (seen >= rank) return Math.min(this.max, Math.exp((i + 1) * Histogram.#LOG) / 1000);
    }
    return this.max;
  }
}

/** Sum of VmRSS (KiB) over `pids`; pids that vanished count 0. */
export function rssKiB(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) total += Number(m[1]);
    } catch {
      // exited
    }
  }
  return total;
}

export const Expect = { NEVER: 0, MAY: 1, MUST: 2 } as const;
export type Expect = (typeof Expect)[keyof typeof Expect];

export interface Audit {
  lost: number;
  dup: number;
  unique: number;
  /** Receivers missing at least one MUST copy. */
  short: number[];
}

/** Per-receiver delivery counts for message keys 0..keys-1 (saturating at 255). */
export class DeliveryLedger {
  readonly #counts: Uint8Array[];
  readonly keys: number;
  constructor(receivers: number, keys: number) {
    this.keys = keys;
    this.#counts = Array.from({ length: receivers }, () => new Uint8Array(keys));
  }

  /** Records one delivery; returns true if it was the first copy. */
  mark(receiver: number, key: number): boolean {
    const row = this.#counts[receiver];
    if (!row || key < 0 || key >= this.keys) return false;
    const c = row[key]!;
    if (c < 255) row[key] = c + 1;
    return c === 0;
  }

  /**
   * `expect(r, k)`: MUST (acked: a missing copy is lost), MAY (send failed:
   * zero or one copy is fine) or NEVER (e.g. the sender itself: any copy is a dup).
   * Dup = every copy beyond the first, plus every copy where NEVER.
   */
  audit(expect: (receiver: number, key: number) => Expect): Audit {
    let lost = 0, dup = 0, unique = 0;
    const short: number[] = [];
    this.#counts.forEach((row, r) => {
      const lostBefore = lost;
      for (let k = 0; k < row.length; k++) {
        const c = row[k]!;
        const e = expect(r, k);
        if (c > 0) unique++;
        if (c > 1) dup += c - 1;
        if (e === Expect.MUST && c === 0) lost++;
        if (e === Expect.NEVER && c > 0) dup++;
      }
      if (lost > lostBefore) short.push(r);
    });
    return { lost, dup, unique, short };
  }

  has(receiver: number, key: number): boolean {
    return (this.#counts[receiver]?.[key] ?? 0) > 0;
  }
}

const CLK_TCK = 100; // Linux USER_HZ

/** utime+stime (s) summed over `pids` from /proc/<pid>/stat; vanished pids count 0. */
function procCpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]); // fields 14, 15 of proc(5)
    } catch {
      // exited
    }
  }
  return ticks / CLK_TCK;
}

/**
 * CPU used by the server processes and by this load generator between
 * construction and `stop()`, in % of one core (200 % = both cores of a 2-core box).
 */
export class CpuMeter {
  readonly #pids: readonly number[];
  readonly #t0 = performance.now();
  readonly #server0: number;
  readonly #self0 = process.cpuUsage();
  #result: { server: number; loadgen: number; serverSeconds: number } | undefined;

  constructor(serverPids: readonly number[]) {
    this.#pids = serverPids;
    this.#server0 = procCpuSeconds(serverPids);
  }

  /** Ends the window on the first call; later calls return the same figures. */
  stop(): { server: number; loadgen: number; serverSeconds: number } {
    if (this.#result) return this.#result;
    const wall = (performance.now() - this.#t0) / 1000;
    const self = process.cpuUsage(this.#self0);
    const serverSeconds = procCpuSeconds(this.#pids) - this.#server0;
    return (this.#result = {
      serverSeconds,
      server: (serverSeconds / wall) * 100,
      loadgen: ((self.user + self.system) / 1e6 / wall) * 100
    });
  }
}
