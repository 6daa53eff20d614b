import { z } from "zod";
import type { ErrorCode } from "./errors";
import {
  bodySchema,
  chatSchema,
  clientMsgIdSchema,
  deviceIdSchema,
  kindSchema,
  messageIdSchema,
  requestIdSchema,
  seqSchema,
  userIdSchema
} from "./primitives";

/**
 * A message as stored in an inbox and pushed to devices. The sender's own
 * devices get a copy too (in the sender's inbox, with the sender's seq);
 * `device` then tells which of them sent it.
 */
export const messageEventSchema = z.object({
  type: z.literal("message"),
  seq: seqSchema,
  mid: messageIdSchema,
  chat: chatSchema,
  from: userIdSchema,
  to: userIdSchema,
  kind: kindSchema,
  body: bodySchema,
  ts: z.number().int(),
  cmid: clientMsgIdSchema.optional(),
  device: deviceIdSchema.optional()
});
export type MessageEvent = z.infer<typeof messageEventSchema>;

/**
 * `from` read the conversation with `to` up to and including message `mid`.
 * Reaches `to`'s devices and `from`'s other devices.
 */
export const receiptEventSchema = z.object({
  type: z.literal("receipt"),
  seq: seqSchema,
  eid: z.string(),
  chat: chatSchema,
  from: userIdSchema,
  to: userIdSchema,
  mid: messageIdSchema,
  ts: z.number().int()
});
export type ReceiptEvent = z.infer<typeof receiptEventSchema>;

/** Everything durable: stored in an inbox, carries a seq, replayed by sync. */
export const inboxEventSchema = z.discriminatedUnion("type", [
  messageEventSchema,
  receiptEventSchema
]);
export type InboxEvent = z.infer<typeof inboxEventSchema>;
/** An inbox event before the recipient's inbox assigns its seq. */
export type UnsequencedEvent = WithoutSeq<InboxEvent>;
type WithoutSeq<E> = E extends unknown ? Omit<E, "seq"> : never;

/** Seqs `from`..`to` (inclusive) were dropped by retention before being synced. */
export const gapSchema = z.object({ from: seqSchema, to: seqSchema });

/** One page of inbox events, as answered to `sync` and pushed as `catchup`. */
export const syncResultSchema = z.object({
  events: z.array(inboxEventSchema),
  /** More events exist after the last one: sync again from its seq. */
  more: z.boolean(),
  /** Highest seq in the inbox right now. */
  head: seqSchema,
  gap: gapSchema.optional()
});
export type SyncResult = z.infer<typeof syncResultSchema>;

/** Result of `send`: the server's id, the sender's inbox seq and time. */
export const sendAckSchema = z.object({
  mid: messageIdSchema,
  seq: seqSchema,
  ts: z.number().int()
});
export type SendAck = z.infer<typeof sendAckSchema>;

/** First frame on every connection. */
export const welcomeFrameSchema = z.object({
  type: z.literal("welcome"),
  uid: userIdSchema,
  device: deviceIdSchema,
  head: seqSchema,
  maxFrameBytes: z.number().int(),
  ts: z.number().int()
});
export type WelcomeFrame = z.infer<typeof welcomeFrameSchema>;

export const errorBodySchema = z.object({
  code: z.string() as z.ZodType<ErrorCode>,
  num: z.number().int(),
  message: z.string(),
  retryable: z.boolean(),
  fields: z.record(z.string(), z.string()).optional()
});

/** Answer to a client request, correlated by `id` (null when it was unreadable). */
export const replyFrameSchema = z.discriminatedUnion("ok", [
  z.object({
    type: z.literal("reply"),
    id: requestIdSchema,
    ok: z.literal(true),
    result: z.unknown()
  }),
  z.object({
    type: z.literal("reply"),
    id: requestIdSchema.nullable(),
    ok: z.literal(false),
    error: errorBodySchema
  })
]);
export type ReplyFrame = z.infer<typeof replyFrameSchema>;

/** A friend's first device connected or last device disconnected. Not stored. */
export const presenceFrameSchema = z.object({
  type: z.literal("presence"),
  uid: userIdSchema,
  online: z.boolean(),
  ts: z.number().int()
});
export type PresenceFrame = z.infer<typeof presenceFrameSchema>;

/** Missed events pushed right after `welcome` when the client connected with `?since=`. */
export const catchupFrameSchema = syncResultSchema.extend({
  type: z.literal("catchup")
});
export type CatchupFrame = z.infer<typeof catchupFrameSchema>;

/** Every frame the server may send. Pushes without `seq` are ephemeral. */
export const serverFrameSchema = z.union([
  welcomeFrameSchema,
  replyFrameSchema,
  messageEventSchema,
  receiptEventSchema,
  presenceFrameSchema,
  catchupFrameSchema
]);
export type ServerFrame = z.infer<typeof serverFrameSchema>;
