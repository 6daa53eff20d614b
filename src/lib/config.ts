import { z } from "zod";
import type { LogLevel } from "./log";

/** Whether a send goes through when the before-send hook fails (timeout, non-2xx, an answer that does not parse). */
export type HookFailure = "open" | "closed";

/** Runtime limits, read from `[vars]` in wrangler.toml; each has a default. */
export interface Limits {
  maxFrameBytes: number;
  inboxTtlMs: number;
  inboxMax: number;
  presenceShards: number;
  tokenTtlSeconds: number;
  maxGroupMembers: number;
  fanoutCallsPerRun: number;
  fanoutConcurrency: number;
  /** Online members one relay object pushes to; a group with more online fans out through relays. */
  fanoutRelayChunk: number;
  /** Group history retention: newest N events, for this long. */
  groupHistoryMax: number;
  groupHistoryTtlMs: number;
  webhookRetryMs: number;
  /** Direct-message kinds a non-friend may send (blocks still apply). */
  strangerKinds: ReadonlySet<string>;
  /** Per-user send budget: tokens per second and bucket size. */
  sendRatePerSecond: number;
  sendBurst: number;
  /** Largest message body (UTF-8 bytes of its JSON). */
  maxMessageBytes: number;
  /** Most users one group message may mention. */
  maxMentions: number;
  /** How long after sending its author may recall a message. */
  recallWindowMs: number;
  /** Sockets silent (no frame, no heartbeat) this long are reaped; 0: never. */
  idleSocketMs: number;
  /** Groups up to this size keep per-member read marks (0: none). */
  groupReadStateMax: number;
  /** Whether acks send delivered receipts to the senders of direct messages. */
  deliveredReceipts: boolean;
  /** The before-send hook's timeout, and what a send does when the hook fails. */
  sendHookTimeoutMs: number;
  sendHookFailure: HookFailure;
  /** Lower-case words no message text may contain. */
  blockedWords: readonly string[];
  /** Structured logs below this level are dropped. */
  logLevel: LogLevel;
  /** Attachments: the largest upload per kind, how long an upload slot and a download link live. */
  mediaMaxBytes: Readonly<Record<"image" | "voice" | "video" | "file", number>>;
  mediaUploadMs: number;
  mediaLinkSeconds: number;
  /** Most attachments one user may have uploaded (or be uploading) and not sent yet. */
  mediaMaxPending: number;
  /** Offline notifications: how long push services keep one (and retries go on), the VAPID contact, FCM's API base. */
  pushTtlSeconds: number;
  vapidSubject: string;
  fcmApiUrl: string;
  /** Hosts (or parent domains) of the Web Push services subscriptions may name. */
  webPushHosts: readonly string[];
  /** How an imported seed friendship row counts: both ways, or only as the seed checks it (the recipient lists the sender). */
  friendshipImport: "both" | "as-is";
  /** The group whose online devices the seed's `heart` answer lists (its `Gateway::getClientSessionsByGroup(10000)`). */
  compatHeartGroup: string;
}

/**
 * Every setting's default: the one home of these values. wrangler.toml's
 * `[vars]` (or the dashboard) overrides any of them; docs/configuration.md
 * lists them (a test checks it does, with these values).
 */
export const DEFAULTS = {
  MAX_FRAME_BYTES: 65_536,
  INBOX_TTL_SECONDS: 7 * 24 * 3600,
  INBOX_MAX: 10_000,
  PRESENCE_SHARDS: 64,
  TOKEN_TTL_SECONDS: 3600,
  MAX_GROUP_MEMBERS: 100_000,
  FANOUT_CALLS_PER_RUN: 400,
  FANOUT_CONCURRENCY: 8,
  FANOUT_RELAY_CHUNK: 250,
  GROUP_HISTORY_MAX: 100_000,
  GROUP_HISTORY_TTL_SECONDS: 30 * 24 * 3600,
  WEBHOOK_RETRY_MS: 5_000,
  SEND_RATE_PER_SECOND: 20,
  SEND_BURST: 60,
  MAX_MESSAGE_BYTES: 32_768,
  MAX_MENTIONS: 50,
  RECALL_WINDOW_SECONDS: 120,
  /** A socket with no frame and no heartbeat for this long is closed (4002) and stops counting as online; 0: never. */
  IDLE_SOCKET_SECONDS: 90,
  /** Groups up to this many members keep each member's read mark, so senders see who read (group_reads). */
  GROUP_READ_STATE_MAX: 100,
  /** "on": an ack from any device of a recipient sends the senders delivered receipts; "off": none (they cost rows). */
  DELIVERED_RECEIPTS: "on",
  /** How long a send waits for the before-send hook (SEND_HOOK_URL). */
  SEND_HOOK_TIMEOUT_MS: 1000,
  /** When the hook fails: "closed" refuses the send (retryable), "open" lets it through. */
  SEND_HOOK_FAILURE: "closed",
  /** Messages whose text contains one of these (comma-separated, any case) are refused; "" for none. */
  BLOCKED_WORDS: "",
  LOG_LEVEL: "info",
  /** Largest attachment per kind, in bytes (a Worker takes request bodies up to 100 MB on the Free and Pro plans). */
  MEDIA_MAX_IMAGE_BYTES: 10 * 1024 * 1024,
  MEDIA_MAX_VOICE_BYTES: 5 * 1024 * 1024,
  MEDIA_MAX_VIDEO_BYTES: 90 * 1024 * 1024,
  MEDIA_MAX_FILE_BYTES: 50 * 1024 * 1024,
  /** An upload slot's URL works this long; an attachment no message names within twice this is deleted. */
  MEDIA_UPLOAD_SECONDS: 900,
  /** A download link works this long. */
  MEDIA_LINK_SECONDS: 300,
  /** Most upload slots one user may hold that no message has named yet; more are `rate_limited`. */
  MEDIA_MAX_PENDING: 20,
  /** A notification a push service could not hand over yet is kept this long (Web Push `TTL`); retries stop then too. */
  PUSH_TTL_SECONDS: 86_400,
  /** The contact push services may use about this server's notifications (RFC 8292 `sub`): set yours. */
  VAPID_SUBJECT: "mailto:push@example.com",
  /** Push services a browser subscription may name (its endpoint's host, or a parent domain of it). */
  WEB_PUSH_HOSTS: "fcm.googleapis.com,push.services.mozilla.com,notify.windows.com,push.apple.com",
  /** Where FCM's HTTP v1 API is (a test points it at a local server). */
  FCM_API_URL: "https://fcm.googleapis.com",
  /** The seed's `sendMsg` skips the friendship check for these kinds. */
  STRANGER_KINDS: "read,friend_request,friend_response,group_request,group_response",
  /**
   * `both`: an imported `oh_ai_friend` row makes the pair friends both ways.
   * `as-is`: it is kept one-sided, and a direct message passes the gate as
   * the seed's does (`uid = toUid AND frienduid = fromUid`: the recipient lists the sender).
   */
  FRIENDSHIP_IMPORT: "both",
  /** The group whose members' online sessions the seed's `heart` answer carries (the seed's group 10000). */
  COMPAT_HEART_GROUP: "10000"
} as const;

type IntSetting = { [K in keyof typeof DEFAULTS]: (typeof DEFAULTS)[K] extends number ? K : never }[keyof typeof DEFAULTS];

const positiveInt = (key: IntSetting) => z.coerce.number().int().positive().catch(DEFAULTS[key]).default(DEFAULTS[key]);

const limitsSchema = z.object({
  MAX_FRAME_BYTES: positiveInt("MAX_FRAME_BYTES"),
  INBOX_TTL_SECONDS: positiveInt("INBOX_TTL_SECONDS"),
  INBOX_MAX: positiveInt("INBOX_MAX"),
  PRESENCE_SHARDS: positiveInt("PRESENCE_SHARDS"),
  TOKEN_TTL_SECONDS: positiveInt("TOKEN_TTL_SECONDS"),
  MAX_GROUP_MEMBERS: positiveInt("MAX_GROUP_MEMBERS"),
  FANOUT_CALLS_PER_RUN: positiveInt("FANOUT_CALLS_PER_RUN"),
  FANOUT_CONCURRENCY: positiveInt("FANOUT_CONCURRENCY"),
  FANOUT_RELAY_CHUNK: positiveInt("FANOUT_RELAY_CHUNK"),
  GROUP_HISTORY_MAX: positiveInt("GROUP_HISTORY_MAX"),
  GROUP_HISTORY_TTL_SECONDS: positiveInt("GROUP_HISTORY_TTL_SECONDS"),
  WEBHOOK_RETRY_MS: positiveInt("WEBHOOK_RETRY_MS"),
  SEND_RATE_PER_SECOND: positiveInt("SEND_RATE_PER_SECOND"),
  SEND_BURST: positiveInt("SEND_BURST"),
  MAX_MESSAGE_BYTES: positiveInt("MAX_MESSAGE_BYTES"),
  MAX_MENTIONS: positiveInt("MAX_MENTIONS"),
  RECALL_WINDOW_SECONDS: positiveInt("RECALL_WINDOW_SECONDS"),
  IDLE_SOCKET_SECONDS: z.coerce.number().int().min(0).catch(DEFAULTS.IDLE_SOCKET_SECONDS).default(DEFAULTS.IDLE_SOCKET_SECONDS),
  GROUP_READ_STATE_MAX: z.coerce.number().int().min(0).catch(DEFAULTS.GROUP_READ_STATE_MAX).default(DEFAULTS.GROUP_READ_STATE_MAX),
  DELIVERED_RECEIPTS: z.enum(["on", "off"]).catch(DEFAULTS.DELIVERED_RECEIPTS).default(DEFAULTS.DELIVERED_RECEIPTS),
  SEND_HOOK_TIMEOUT_MS: positiveInt("SEND_HOOK_TIMEOUT_MS"),
  SEND_HOOK_FAILURE: z.enum(["open", "closed"]).catch(DEFAULTS.SEND_HOOK_FAILURE).default(DEFAULTS.SEND_HOOK_FAILURE),
  BLOCKED_WORDS: z.string().catch(DEFAULTS.BLOCKED_WORDS).default(DEFAULTS.BLOCKED_WORDS).transform((s) => s.split(",").map((w) => w.trim().toLowerCase()).filter(Boolean)),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).catch(DEFAULTS.LOG_LEVEL).default(DEFAULTS.LOG_LEVEL),
  MEDIA_MAX_IMAGE_BYTES: positiveInt("MEDIA_MAX_IMAGE_BYTES"),
  MEDIA_MAX_VOICE_BYTES: positiveInt("MEDIA_MAX_VOICE_BYTES"),
  MEDIA_MAX_VIDEO_BYTES: positiveInt("MEDIA_MAX_VIDEO_BYTES"),
  MEDIA_MAX_FILE_BYTES: positiveInt("MEDIA_MAX_FILE_BYTES"),
  MEDIA_UPLOAD_SECONDS: positiveInt("MEDIA_UPLOAD_SECONDS"),
  MEDIA_LINK_SECONDS: positiveInt("MEDIA_LINK_SECONDS"),
  MEDIA_MAX_PENDING: positiveInt("MEDIA_MAX_PENDING"),
  PUSH_TTL_SECONDS: positiveInt("PUSH_TTL_SECONDS"),
  VAPID_SUBJECT: z.string().regex(/^(mailto:|https:)/).catch(DEFAULTS.VAPID_SUBJECT).default(DEFAULTS.VAPID_SUBJECT),
  FCM_API_URL: z.url().catch(DEFAULTS.FCM_API_URL).default(DEFAULTS.FCM_API_URL),
  WEB_PUSH_HOSTS: z.string().catch(DEFAULTS.WEB_PUSH_HOSTS).default(DEFAULTS.WEB_PUSH_HOSTS).transform((s) => s.split(",").map((h) => h.trim().toLowerCase()).filter(Boolean)),
  STRANGER_KINDS: z
    .string()
    .catch(DEFAULTS.STRANGER_KINDS)
    .default(DEFAULTS.STRANGER_KINDS)
    .transform((s) => new Set(s.split(",").map((k) => k.trim()).filter(Boolean))),
  FRIENDSHIP_IMPORT: z.enum(["both", "as-is"]).catch(DEFAULTS.FRIENDSHIP_IMPORT).default(DEFAULTS.FRIENDSHIP_IMPORT),
  COMPAT_HEART_GROUP: z.coerce.string().catch(DEFAULTS.COMPAT_HEART_GROUP).default(DEFAULTS.COMPAT_HEART_GROUP)
});

/** Parses the vars once per env object; missing or malformed values fall back to {@link DEFAULTS}. */
export function limitsOf(env: object): Limits {
  const vars = env as Partial<Record<keyof typeof DEFAULTS, unknown>>;
  const input: Partial<Record<keyof typeof DEFAULTS, unknown>> = {};
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) input[key] = vars[key] ?? undefined;
  const v = limitsSchema.parse(input);
  return {
    maxFrameBytes: v.MAX_FRAME_BYTES,
    inboxTtlMs: v.INBOX_TTL_SECONDS * 1000,
    inboxMax: v.INBOX_MAX,
    presenceShards: v.PRESENCE_SHARDS,
    tokenTtlSeconds: v.TOKEN_TTL_SECONDS,
    maxGroupMembers: v.MAX_GROUP_MEMBERS,
    fanoutCallsPerRun: v.FANOUT_CALLS_PER_RUN,
    fanoutConcurrency: v.FANOUT_CONCURRENCY,
    fanoutRelayChunk: v.FANOUT_RELAY_CHUNK,
    groupHistoryMax: v.GROUP_HISTORY_MAX,
    groupHistoryTtlMs: v.GROUP_HISTORY_TTL_SECONDS * 1000,
    webhookRetryMs: v.WEBHOOK_RETRY_MS,
    strangerKinds: v.STRANGER_KINDS,
    sendRatePerSecond: v.SEND_RATE_PER_SECOND,
    sendBurst: v.SEND_BURST,
    maxMessageBytes: v.MAX_MESSAGE_BYTES,
    maxMentions: v.MAX_MENTIONS,
    recallWindowMs: v.RECALL_WINDOW_SECONDS * 1000,
    idleSocketMs: v.IDLE_SOCKET_SECONDS * 1000,
    groupReadStateMax: v.GROUP_READ_STATE_MAX,
    deliveredReceipts: v.DELIVERED_RECEIPTS === "on",
    sendHookTimeoutMs: v.SEND_HOOK_TIMEOUT_MS,
    sendHookFailure: v.SEND_HOOK_FAILURE,
    blockedWords: v.BLOCKED_WORDS,
    logLevel: v.LOG_LEVEL,
    mediaMaxBytes: {
      image: v.MEDIA_MAX_IMAGE_BYTES,
      voice: v.MEDIA_MAX_VOICE_BYTES,
      video: v.MEDIA_MAX_VIDEO_BYTES,
      file: v.MEDIA_MAX_FILE_BYTES
    },
    mediaUploadMs: v.MEDIA_UPLOAD_SECONDS * 1000,
    mediaLinkSeconds: v.MEDIA_LINK_SECONDS,
    mediaMaxPending: v.MEDIA_MAX_PENDING,
    pushTtlSeconds: v.PUSH_TTL_SECONDS,
    vapidSubject: v.VAPID_SUBJECT,
    fcmApiUrl: v.FCM_API_URL.replace(/\/$/, ""),
    webPushHosts: v.WEB_PUSH_HOSTS,
    friendshipImport: v.FRIENDSHIP_IMPORT,
    compatHeartGroup: v.COMPAT_HEART_GROUP
  };
}

/** Webhook settings: off unless both WEBHOOK_URL and the WEBHOOK_SECRET secret are set. */
export function webhookConfig(env: object): { url?: string; secret?: string; retryMs: number } {
  const e = env as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" && v.length > 0 ? v : undefined);
  return { url: str(e.WEBHOOK_URL), secret: str(e.WEBHOOK_SECRET), retryMs: limitsOf(env).webhookRetryMs };
}

/** The before-send hook: off unless both SEND_HOOK_URL and the SEND_HOOK_SECRET secret are set. */
export function sendHookConfig(env: object): { url: string; secret: string } | undefined {
  const e = env as Record<string, unknown>;
  const url = typeof e.SEND_HOOK_URL === "string" ? e.SEND_HOOK_URL : "";
  const secret = typeof e.SEND_HOOK_SECRET === "string" ? e.SEND_HOOK_SECRET : "";
  return url && secret ? { url, secret } : undefined;
}

/** Web Push keys (the VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY secrets, base64url), when both are set. */
export function vapidKeysOf(env: object): { publicKey: string; privateKey: string } | undefined {
  const e = env as Record<string, unknown>;
  const pub = typeof e.VAPID_PUBLIC_KEY === "string" ? e.VAPID_PUBLIC_KEY.trim() : "";
  const priv = typeof e.VAPID_PRIVATE_KEY === "string" ? e.VAPID_PRIVATE_KEY.trim() : "";
  return pub && priv ? { publicKey: pub, privateKey: priv } : undefined;
}
