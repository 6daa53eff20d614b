/** Inbox seq up to which delivered receipts were sent. */
const KV_UP_TO = "receipts.delivered";

/**
 * Delivered receipts of a user's inbox: when any of their devices acks a
 * seq, each peer whose direct messages lie between the last acked seq and
 * this one is owed one receipt, naming the newest of them (it covers those
 * before it, as a read receipt does). Kept as one watermark in KV, so a
 * receipt costs nothing per message: a row per peer per ack that moved it.
 */
export class DeliveredReceipts {
  constructor(
    private readonly sql: SqlStorage,
    private readonly kv: SyncKvStorage
  ) {}

  /** The receipts owed now that a device acked up to `acked`, and the watermark moved there. */
  due(acked: number): { peer: string; mid: string }[] {
    const upTo = this.kv.get<number>(KV_UP_TO) ?? 0;
    if (acked <= upTo) return [];
    const newest = new Map<string, string>();
    // Direct messages from others: their conversation is `d:<peer>`, and they are not this user's own.
    for (const r of this.sql.exec<{ conv: string; mid: string }>(
      "SELECT conv, eid AS mid FROM inbox WHERE seq > ? AND seq <= ? AND conv LIKE 'd:%' AND mine = 0 ORDER BY seq",
      upTo,
      acked
    )) {
      newest.set(r.conv.slice(2), r.mid);
    }
    this.kv.put(KV_UP_TO, acked);
    return [...newest].map(([peer, mid]) => ({ peer, mid }));
  }
}
