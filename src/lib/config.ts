import { z } from "zod";
import type { LogLevel } from "./log";

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
  /** Structured logs below this level are dropped. */
  logLevel: LogLevel;
}

/** The seed's `sendMsg` skips the friendship check for these kinds. */
const SEED_STRANGER_KINDS = "read,friend_request,friend_response,group_request,group_response";

const positiveInt = (fallback: number) =>
  z.coerce.number().int().positive().catch(fallback);

const limitsSchema = z.object({
  MAX_FRAME_BYTES: positiveInt(65_536),
  INBOX_TTL_SECONDS: positiveInt(7 * 24 * 3600),
  INBOX_MAX: positiveInt(10_000),
  PRESENCE_SHARDS: positiveInt(64),
  TOKEN_TTL_SECONDS: positiveInt(3600),
  MAX_GROUP_MEMBERS: positiveInt(100_000),
  FANOUT_CALLS_PER_RUN: positiveInt(400),
  FANOUT_CONCURRENCY: positiveInt(8),
  FANOUT_RELAY_CHUNK: positiveInt(250),
  GROUP_HISTORY_MAX: positiveInt(100_000),
  GROUP_HISTORY_TTL_SECONDS: positiveInt(30 * 24 * 3600),
  WEBHOOK_RETRY_MS: positiveInt(5_000),
  SEND_RATE_PER_SECOND: positiveInt(20),
  SEND_BURST: positiveInt(60),
  MAX_MESSAGE_BYTES: positiveInt(32_768),
  MAX_MENTIONS: positiveInt(50),
  RECALL_WINDOW_SECONDS: positiveInt(120),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).catch("info"),
  STRANGER_KINDS: z
    .string()
    .catch(SEED_STRANGER_KINDS)
    .default(SEED_STRANGER_KINDS)
    .transform((s) => new Set(s.split(",").map((k) => k.trim()).filter(Boolean)))
});

/** Parses the vars once per env object; malformed values fall back to defaults. */
export function limitsOf(env: Partial<Record<keyof z.infer<typeof limitsSchema>, unknown>>): Limits {
  const v = limitsSchema.parse({
    MAX_FRAME_BYTES: env.MAX_FRAME_BYTES ?? undefined,
    INBOX_TTL_SECONDS: env.INBOX_TTL_SECONDS ?? undefined,
    INBOX_MAX: env.INBOX_MAX ?? undefined,
    PRESENCE_SHARDS: env.PRESENCE_SHARDS ?? undefined,
    TOKEN_TTL_SECONDS: env.TOKEN_TTL_SECONDS ?? undefined,
    MAX_GROUP_MEMBERS: env.MAX_GROUP_MEMBERS ?? undefined,
    FANOUT_CALLS_PER_RUN: env.FANOUT_CALLS_PER_RUN ?? undefined,
    FANOUT_CONCURRENCY: env.FANOUT_CONCURRENCY ?? undefined,
    FANOUT_RELAY_CHUNK: env.FANOUT_RELAY_CHUNK ?? undefined,
    GROUP_HISTORY_MAX: env.GROUP_HISTORY_MAX ?? undefined,
    GROUP_HISTORY_TTL_SECONDS: env.GROUP_HISTORY_TTL_SECONDS ?? undefined,
    WEBHOOK_RETRY_MS: env.WEBHOOK_RETRY_MS ?? undefined,
    STRANGER_KINDS: env.STRANGER_KINDS ?? undefined,
    SEND_RATE_PER_SECOND: env.SEND_RATE_PER_SECOND ?? undefined,
    SEND_BURST: env.SEND_BURST ?? undefined,
    MAX_MESSAGE_BYTES: env.MAX_MESSAGE_BYTES ?? undefined,
    MAX_MENTIONS: env.MAX_MENTIONS ?? undefined,
    RECALL_WINDOW_SECONDS: env.RECALL_WINDOW_SECONDS ?? undefined,
    LOG_LEVEL: env.LOG_LEVEL ?? undefined
  });
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
    logLevel: v.LOG_LEVEL
  };
}

/** Webhook settings: off unless both WEBHOOK_URL and the WEBHOOK_SECRET secret are set. */
export function webhookConfig(env: Env): { url?: string; secret?: string; retryMs: number } {
  const e = env as unknown as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" && v.length > 0 ? v : undefined);
  return { url: str(e.WEBHOOK_URL), secret: str(e.WEBHOOK_SECRET), retryMs: limitsOf(env).webhookRetryMs };
}
