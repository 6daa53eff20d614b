import type { BenchClient, MessageFrame, OnMessage } from "./client.ts";
import { type Audit, DeliveryLedger, type Expect, Histogram } from "./stats.ts";

/** Body of every bench message: run id, sender index, message key, send time (performance.now()). */
export interface BenchBody {
  r: number;
  s: number;
  k: number;
  t: number;
}

let lastRun = 0;

/**
 * Delivery bookkeeping of one measured phase. Receivers are identified by
 * `client.tag`; `keyOf` maps a body to its ledger key (-1 = it reached a
 * receiver it was never meant for, counted in `misrouted`; a sender's own
 * copy is expected in catch-up pages only, never live). Latency is
 * recorded for the first copy of each live push only.
 */
export class Tracker {
  readonly run = ++lastRun;
  readonly ledger: DeliveryLedger;
  readonly hist = new Histogram();
  delivered = 0;
  lastDelivery = 0;
  /** Messages of other runs (late arrivals of an earlier phase, or earlier fixtures). */
  stale = 0;
  misrouted = 0;
  /** While repairing by sync: count only copies the ledger does not have yet. */
  repairing = false;

  readonly keyOf: (receiver: number, b: BenchBody) => number;

  constructor(receivers: number, keys: number, keyOf: (receiver: number, b: BenchBody) => number) {
    this.keyOf = keyOf;
    this.ledger = new DeliveryLedger(receivers, keys);
  }

  body(s: number, k: number): BenchBody {
    return { r: this.run, s, k, t: performance.now() };
  }

  readonly onMessage: OnMessage = (c: BenchClient, m: MessageFrame, live: boolean) => {
    const b = m.body as BenchBody | null;
    if (!live && m.from === c.uid) return; // the sender's own copy, replayed from its inbox
    if (!b || b.r !== this.run) {
      this.stale++;
      return;
    }
    const key = this.keyOf(c.tag, b);
    if (key < 0) {
      this.misrouted++;
      return;
    }
    if (this.repairing && this.ledger.has(c.tag, key)) return;
    if (this.ledger.mark(c.tag, key)) {
      this.delivered++;
      this.lastDelivery = performance.now();
      if (live) this.hist.record(this.lastDelivery - b.t);
    }
  };
}

/** Points every client's message callback at `t`. */
export function listen(clients: readonly (BenchClient | undefined)[], t: Tracker): void {
  for (const c of clients) if (c) c.onMessage = t.onMessage;
}

/**
 * Audits the ledger; if any acked message was never pushed, the receivers
 * short of one sync their whole inbox and the audit is repeated. `lost` counts
 * missing pushes, `lostAfterSync` what not even the inbox holds.
 */
export async function auditWithSync(
  tr: Tracker,
  receivers: readonly (BenchClient | undefined)[],
  expect: (receiver: number, key: number) => Expect
): Promise<Audit & { lostAfterSync: number }> {
  const a = tr.ledger.audit(expect);
  if (a.lost === 0) return { ...a, lostAfterSync: 0 };
  tr.repairing = true;
  await Promise.all(a.short.map((r) => receivers[r]?.syncAll(0)));
  tr.repairing = false;
  return { ...a, lostAfterSync: tr.ledger.audit(expect).lost };
}
