import { newEventId } from "../lib/ids";

/** DDL of the webhook outbox, appended to the user's and the group's schema. */
export const WEBHOOK_SCHEMA = `CREATE TABLE webhooks (
     id TEXT PRIMARY KEY,
     body TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL
   );`;

/** Events sent to WEBHOOK_URL. */
export type WebhookType = "message" | "update" | "online" | "offline";

/** Give up on a delivery after this many attempts (about a day of backoff). */
const MAX_ATTEMPTS = 12;
const MAX_DELAY_MS = 3_600_000;

const encoder = new TextEncoder();

/** `t=<ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, as Stripe signs its webhooks. */
export async function signature(secret: string, t: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${t}.${body}`));
  return `t=${t},v1=${[...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Optional per deployment (WEBHOOK_URL and WEBHOOK_SECRET): a durable outbox
 * in the object where the event happens. An event is stored in the same
 * write as what it reports, then POSTed, signed; anything but a 2xx is
 * retried with exponential backoff from the object's alarm. Receivers dedupe
 * by `id` (also sent as `X-IM-Delivery`): delivery is at least once.
 */
export class WebhookOutbox {
  readonly enabled: boolean;

  constructor(
    private readonly sql: SqlStorage,
    private readonly config: { url?: string; secret?: string; retryMs: number }
  ) {
    this.enabled = Boolean(config.url && config.secret);
  }

  /**
   * Stores an event to send; no-op when webhooks are off. A recall first
   * takes the message's text out of what is still waiting to be sent.
   */
  enqueue(type: WebhookType, data: unknown, now = Date.now()): void {
    if (!this.enabled) return;
    const update = data as { op?: unknown; mid?: unknown };
    if (type === "update" && update.op === "recall" && typeof update.mid === "string") this.#scrub(update.mid);
    const id = newEventId(now);
    const body = JSON.stringify({ id, type, ts: now, data });
    this.sql.exec("INSERT INTO webhooks (id, body, next_at) VALUES (?, ?, ?)", id, body, now);
  }

  /**
   * Unsent events about message `mid` lose its text, as the recalled copies
   * do: the message's body becomes null, edits lose their bodies, replies
   * their quote's text.
   */
  #scrub(mid: string): void {
    this.sql.exec(
      `UPDATE webhooks SET body = CASE json_extract(body, '$.type')
         WHEN 'message' THEN json_set(body, '$.data.body', json('null'))
         ELSE json_remove(body, '$.data.body') END
       WHERE json_extract(body, '$.data.mid') = ? AND json_type(body, '$.data.body') <> 'null'`,
      mid
    );
    this.sql.exec(
      `UPDATE webhooks SET body = json_set(body, '$.data.reply.text', json('null'))
       WHERE json_extract(body, '$.data.reply.mid') = ? AND json_type(body, '$.data.reply.text') = 'text'`,
      mid
    );
  }

  /** POSTs what is due; returns when the next retry is due, if any. */
  async flush(now = Date.now()): Promise<number | undefined> {
    if (!this.enabled) return undefined;
    const due = this.sql
      .exec<{ id: string; body: string; attempts: number }>(
        "SELECT id, body, attempts FROM webhooks WHERE next_at <= ? ORDER BY next_at LIMIT 50",
        now
      )
      .toArray();
    await Promise.all(due.map((w) => this.#send(w)));
    return this.sql.exec<{ m: number | null }>("SELECT min(next_at) AS m FROM webhooks").one().m ?? undefined;
  }

  async #send(w: { id: string; body: string; attempts: number }): Promise<void> {
    const type = (JSON.parse(w.body) as { type: string }).type;
    let ok = false;
    try {
      const t = Date.now();
      const res = await fetch(this.config.url!, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "X-IM-Event": type,
          "X-IM-Delivery": w.id,
          "X-IM-Signature": await signature(this.config.secret!, t, w.body)
        },
        body: w.body
      });
      ok = res.ok;
      await res.body?.cancel();
    } catch (err) {
      console.warn("webhook POST failed", w.id, err);
    }
    if (ok) {
      this.sql.exec("DELETE FROM webhooks WHERE id = ?", w.id);
    } else if (w.attempts + 1 >= MAX_ATTEMPTS) {
      console.error("webhook given up after retries", w.id, type);
      this.sql.exec("DELETE FROM webhooks WHERE id = ?", w.id);
    } else {
      const delay = Math.min(MAX_DELAY_MS, this.config.retryMs * 2 ** w.attempts);
      this.sql.exec("UPDATE webhooks SET attempts = attempts + 1, next_at = ? WHERE id = ?", Date.now() + delay, w.id);
    }
  }
}
