import { limitsOf, vapidKeysOf } from "../lib/config";
import { type SendOutcome, sendFcm, type ServiceAccount, serviceAccountOf } from "../lib/fcm";
import { b64url } from "../lib/base64url";
import { encryptPayload, type VapidKeys, vapidAuthorization } from "../lib/webpush";
import { type NotificationPayload, ProtocolError, type PushSubscription, type StoredMessage, type SubscriptionInfo } from "../protocol";
import { type OutboxRow, PushOutbox } from "../store/push-outbox";

/** Rows sent per flush; the rest wait for the next (the alarm, or the next queue). */
const FLUSH_BATCH = 50;
const RETRY_MIN_MS = 30_000;
const RETRY_MAX_MS = 3_600_000;
/** A text preview is cut here (payloads are at most 4 KiB encrypted). */
const PREVIEW_CHARS = 200;

/** What a notification about `msg` says, for the conversation `conv` (the peer or the group). */
export function payloadOf(msg: StoredMessage, conv: string, mentioned: boolean): Omit<NotificationPayload, "count"> {
  const body = msg.body as { text?: unknown } | null;
  const text = msg.recalled === undefined && body && typeof body === "object" && typeof body.text === "string" ? body.text.slice(0, PREVIEW_CHARS) : undefined;
  return {
    v: 1, type: "message", chat: msg.chat, conv, from: msg.from, mid: msg.mid, kind: msg.kind, ts: msg.ts,
    ...(text !== undefined ? { text } : {}),
    ...(mentioned ? { mentioned: true } : {})
  };
}

/**
 * Web Push endpoints this server POSTs to: https on a push service's host
 * (`WEB_PUSH_HOSTS`, a host or a parent domain), or a local push service
 * (localhost, 127.0.0.1) in development and tests. Anything else would let a
 * client point the Worker's requests anywhere.
 */
function assertPushService(endpoint: string, hosts: readonly string[]): void {
  const url = new URL(endpoint);
  const local = url.hostname === "localhost" || url.hostname === "127.0.0.1";
  const listed = hosts.some((h) => url.hostname === h || url.hostname.endsWith(`.${h}`));
  if (!listed || (url.protocol !== "https:" && !local)) {
    throw new ProtocolError("bad_request", `${url.origin} is not a Web Push service this server sends to (WEB_PUSH_HOSTS)`, { "subscription.endpoint": "not a known push service" });
  }
}

/** A subscription's stable id: the same endpoint or token registers once. */
async function subscriptionId(s: PushSubscription): Promise<string> {
  const key = s.type === "fcm" ? `fcm:${s.token}` : `webpush:${s.endpoint}`;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
  return `ps_${[...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** The collapse key of a conversation: 32 base64url characters, as Web Push's `Topic` allows. */
async function topicOf(conv: string): Promise<string> {
  return b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(conv))).slice(0, 24));
}

/**
 * A user's offline notifications: subscriptions, the durable outbox, and
 * delivery to Web Push services (RFC 8030 with VAPID and RFC 8291
 * encryption) and FCM HTTP v1. Each waiting notification is retried with
 * backoff until it is sent or `PUSH_TTL_SECONDS` pass; a push service's 404
 * or 410 (FCM: UNREGISTERED) removes the subscription. Before sending, a
 * notification is checked against its message (`stillShown`): a recalled or
 * deleted message is never notified, nor its text.
 */
export class Notifier {
  readonly outbox: PushOutbox;
  readonly #vapid: VapidKeys | undefined;
  readonly #fcm: ServiceAccount | undefined;
  readonly #ttlSeconds: number;
  readonly #fcmApi: string;

  constructor(
    sql: SqlStorage,
    env: object,
    /** A notification's message as it is now; undefined when it may not be shown (recalled, deleted for this user, gone). */
    private readonly current: (p: NotificationPayload) => Promise<StoredMessage | undefined>
  ) {
    this.outbox = new PushOutbox(sql);
    const limits = limitsOf(env);
    const keys = vapidKeysOf(env);
    this.#vapid = keys && { ...keys, subject: limits.vapidSubject };
    this.#fcm = serviceAccountOf((env as Record<string, unknown>).FCM_SERVICE_ACCOUNT);
    this.#ttlSeconds = limits.pushTtlSeconds;
    this.#fcmApi = limits.fcmApiUrl;
    this.#hosts = limits.webPushHosts;
  }

  readonly #hosts: readonly string[];
  /** One flush at a time: a second one waits, so no row is sent twice by overlapping flushes. */
  #chain: Promise<unknown> = Promise.resolve();

  /** The VAPID public key browsers subscribe with, when Web Push is configured. */
  get vapidPublicKey(): string | undefined {
    return this.#vapid?.publicKey;
  }

  /** Whether anything would be sent: a subscription exists. */
  active(): boolean {
    return this.outbox.size() > 0;
  }

  async subscribe(s: PushSubscription, now = Date.now()): Promise<{ subscription: string; created: boolean }> {
    if (s.type === "webpush") assertPushService(s.endpoint, this.#hosts);
    const id = await subscriptionId(s);
    return { subscription: id, created: this.outbox.put(id, s, now) };
  }

  unsubscribe(id: string): boolean {
    return this.outbox.remove(id);
  }

  list(): SubscriptionInfo[] {
    return this.outbox.list();
  }

  /** Queues a notification for every subscription, collapsed per conversation (`conv` key). */
  queue(conv: string, payload: Omit<NotificationPayload, "count">, now = Date.now()): void {
    if (this.active()) this.outbox.queue(conv, payload, now);
  }

  /** Removes every subscription (a ban, or every token revoked: this browser may belong to someone else next). */
  removeAll(): number {
    const subs = this.outbox.list();
    for (const s of subs) this.outbox.remove(s.id);
    return subs.length;
  }

  /** Sends what is due, after any flush already running; returns when the next retry is due, if any. */
  flush(now?: number): Promise<number | undefined> {
    const run = this.#chain.then(() => this.#flush(now ?? Date.now()));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #flush(now: number): Promise<number | undefined> {
    const rows = this.outbox.due(now, FLUSH_BATCH);
    const gone = new Set<string>();
    await Promise.all(
      rows.map(async (r) => {
        const outcome = await this.#deliver(r).catch((err: unknown) => {
          console.warn("notification failed; will retry", r.sub, String(err));
          return "retry" as const;
        });
        if (outcome === "gone") gone.add(r.sub);
        else if (outcome === "retry" && Date.now() - r.created < this.#ttlSeconds * 1000) {
          this.outbox.retryAt(r, Date.now() + Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** r.attempts));
        } else this.outbox.done(r);
      })
    );
    for (const id of gone) this.outbox.remove(id);
    return this.outbox.nextAt();
  }

  async #deliver(r: OutboxRow): Promise<SendOutcome> {
    const sub = this.outbox.subscription(r.sub);
    if (!sub) return "dropped";
    const msg = await this.current(r.payload);
    if (!msg) return "dropped";
    // The message as it is now: an edit since it was queued shows its new text.
    const { text: _old, ...rest } = r.payload;
    const fresh = payloadOf(msg, r.payload.conv, r.payload.mentioned === true);
    const payload: NotificationPayload = { ...rest, ...(fresh.text !== undefined ? { text: fresh.text } : {}) };
    // What is left of the TTL: a retry late in the window does not restart it.
    const ttl = this.#ttlSeconds - Math.floor((Date.now() - r.created) / 1000);
    if (ttl <= 0) return "dropped";
    const topic = await topicOf(r.conv);
    if (sub.type === "fcm") {
      if (!this.#fcm) return "dropped";
      // FCM reserves `from` (and google./gcm keys) in data: the sender goes as `sender`; every value a string.
      const { from, ...fields } = payload;
      const data = Object.fromEntries(Object.entries({ ...fields, sender: from }).map(([k, v]) => [k, String(v)]));
      const title = payload.chat === "group" ? `${from} in ${payload.conv}` : from;
      const body = payload.text ?? (payload.count > 1 ? `${payload.count} new messages` : "New message");
      return sendFcm(this.#fcm, sub.token, { data, title, body, collapse: topic }, this.#fcmApi);
    }
    if (!this.#vapid) return "dropped";
    const res = await fetch(sub.endpoint, {
      method: "POST",
      headers: {
        authorization: await vapidAuthorization(sub.endpoint, this.#vapid),
        "content-encoding": "aes128gcm",
        "content-type": "application/octet-stream",
        ttl: String(ttl),
        urgency: "high",
        topic
      },
      body: await encryptPayload(sub.keys, JSON.stringify(payload)),
      signal: AbortSignal.timeout(10_000)
    });
    await res.body?.cancel();
    if (res.ok) return "sent";
    if (res.status === 404 || res.status === 410) return "gone";
    // 400 (malformed), 403 (VAPID refused), 413 (too large) will not get better.
    if (res.status === 400 || res.status === 403 || res.status === 413) return "dropped";
    return "retry";
  }
}

/** A notification to queue: the conversation key and what it says. */
export type Notification = [conv: string, payload: Omit<NotificationPayload, "count">];

/** Whether `msg` (a group message) mentions `uid`, by name or `@all`. */
function mentions(msg: StoredMessage, uid: string): boolean {
  const m = (msg as { mentions?: { users?: string[]; all?: boolean } }).mentions;
  return m !== undefined && (m.all === true || (m.users ?? []).includes(uid));
}

/**
 * What a user with no open socket is notified of, among messages just
 * stored in their inbox or pushed by a group: messages from others, in
 * conversations they have not muted, or (groups) that mention them.
 */
export function notificationsFor(uid: string, messages: readonly StoredMessage[], muted: (chat: "dm" | "group", peer: string) => boolean): Notification[] {
  const out: Notification[] = [];
  for (const m of messages) {
    if (m.type !== "message" || m.from === uid || m.recalled !== undefined) continue;
    const peer = m.chat === "group" ? m.to : m.from;
    const mentioned = m.chat === "group" && mentions(m, uid);
    if (!mentioned && muted(m.chat, peer)) continue;
    out.push([`${m.chat === "group" ? "g" : "d"}:${peer}`, payloadOf(m, peer, mentioned)]);
  }
  return out;
}

/** The messages in a group's live runs (newline-separated frames). */
export function messagesInRuns(runs: readonly { text: string }[]): StoredMessage[] {
  return runs.flatMap((r) => r.text.split("\n").map((l) => JSON.parse(l) as StoredMessage)).filter((f) => f.type === "message");
}
