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

/** Per-receiver delivery counts for message keys 0..keys-1 (saturating at 255). */
export class DeliveryLedger {
  readonly #counts: Uint8Array[];
  constructor(receivers: number, readonly keys: number) {
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

  /** Lost = expected (receiver, key) with no copy; dup = extra copies anywhere. */
  audit(expected: (receiver: number, key: number) => boolean): { lost: number; dup: number; unique: number } {
    let lost = 0, dup = 0, unique = 0;
    this.#counts.forEach((row, r) => {
      for (let k = 0; k < row.length; k++) {
        const c = row[k]!;
        if (c > 0) unique++;
        if (c > 1) dup += c - 1;
        if (expected(r, k)) {
          if (c === 0) lost++;
        } else if (c > 0) dup += 1; // a copy nobody should have got (e.g. the sender's own)
      }
    });
    return { lost, dup, unique };
  }
}
