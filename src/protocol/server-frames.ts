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
import { groupIdSchema, joinPolicySchema, mentionsSchema, roleSchema } from "./groups";
import { noticeEventSchema } from "./push";
import { friendRequestEventSchema, friendResponseEventSchema } from "./social";
import { conversationEventSchema, messageStateFields, typingEventSchema, updateEventSchema } from "./rich";

/**
 * A message as stored in an inbox and pushed to devices. The sender's own
 * devices get a copy too (in the sender's inbox, with the sender's seq);
 * `device` then tells which of them sent it. Group messages (`chat: "group"`,
 * `to` = group id) also carry the group's `gseq`, the `mentions`, and
 * `mentioned: true` on the copies of mentioned users.
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
  gseq: seqSchema.optional(),
  mentions: mentionsSchema.optional(),
  mentioned: z.literal(true).optional(),
  cmid: clientMsgIdSchema.optional(),
  device: deviceIdSchema.optional(),
  ...messageStateFields
});
export type MessageEvent = z.infer<typeof messageEventSchema>;

/**
 * A message as a conversation list or a search shows it: a direct one with
 * your inbox `seq`, a group one (stored once, in the group) with its `gseq`.
 */
export const storedMessageSchema = messageEventSchema.extend({ seq: seqSchema.optional() });
export type StoredMessage = z.infer<typeof storedMessageSchema>;

/**
 * `from` read the conversation with `to` up to and including message `mid`.
 * Reaches `to`'s devices and `from`'s other devices (a group read, only
 * `from`'s other devices). On the reader's own copy `unread` is what is left
 * unread in that conversation.
 */
export const receiptEventSchema = z.object({
  type: z.literal("receipt"),
  seq: seqSchema,
  eid: z.string(),
  chat: chatSchema,
  from: userIdSchema,
  to: userIdSchema,
  mid: messageIdSchema,
  ts: z.number().int(),
  unread: z.number().int().nonnegative().optional(),
  /**
   * `delivered`: a device of `from` received `to`'s direct messages up to
   * `mid` (not read yet). Absent: `from` read them up to `mid`.
   */
  kind: z.literal("delivered").optional()
});
export type ReceiptEvent = z.infer<typeof receiptEventSchema>;

/** What happened in a group; `actor` is null when the app's backend did it over HTTP. */
export const groupActionSchema = z.enum([
  "created",
  "joined",
  "invited",
  "left",
  "kicked",
  "role_changed",
  "owner_changed",
  "muted",
  "unmuted",
  "settings_changed",
  "dismissed"
]);
export type GroupAction = z.infer<typeof groupActionSchema>;

/**
 * A group system event, delivered to every member (and to the user it is
 * about, e.g. the one kicked) and kept in the group's history.
 */
export const groupEventSchema = z.object({
  type: z.literal("group"),
  seq: seqSchema,
  eid: z.string(),
  gid: groupIdSchema,
  gseq: seqSchema,
  action: groupActionSchema,
  actor: userIdSchema.nullable(),
  target: userIdSchema.optional(),
  role: roleSchema.optional(),
  /** `muted`: until when (ms). */
  until: z.number().int().optional(),
  /** `created`: the group's name. */
  name: z.string().optional(),
  /** `settings_changed`: the new join policy. */
  joinPolicy: joinPolicySchema.optional(),
  /** With `settings_changed`: announcement mode turned on (true) or off (false). */
  announce: z.boolean().optional(),
  ts: z.number().int()
});
export type GroupEvent = z.infer<typeof groupEventSchema>;

/** Everything durable: stored in an inbox, carries a seq, replayed by sync. */
export const inboxEventSchema = z.discriminatedUnion("type", [
  messageEventSchema,
  receiptEventSchema,
  groupEventSchema,
  noticeEventSchema,
  friendRequestEventSchema,
  friendResponseEventSchema,
  updateEventSchema,
  conversationEventSchema
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

/**
 * Result of `send`: the server's id and time; for a direct message the
 * sender's inbox `seq`, for a group message the group's `gseq` (a group
 * message is stored once, in the group, and has no inbox seq).
 */
export const sendAckSchema = z.object({
  mid: messageIdSchema,
  seq: seqSchema.optional(),
  ts: z.number().int(),
  gseq: seqSchema.optional(),
  /** With `gseq`: nothing of the group lies between `prev` and it, so a client at `prev` may move to `gseq` (its own post is not pushed back to it). */
  prev: seqSchema.optional()
});

export type SendAck = z.infer<typeof sendAckSchema>;

/** An entry of a group's history: a message, system event, backend push or message change, ordered by `gseq`. */
export const historyEventSchema = z.discriminatedUnion("type", [
  messageEventSchema.omit({ seq: true }),
  groupEventSchema.omit({ seq: true }),
  noticeEventSchema.omit({ seq: true }),
  updateEventSchema.omit({ seq: true })
]);
export type HistoryEvent = z.infer<typeof historyEventSchema>;

/** A page of a group's history, oldest first; `more`: there is more beyond it, away from its cursor. */
export const groupHistoryPageSchema = z.object({
  events: z.array(historyEventSchema),
  more: z.boolean()
});
export type GroupHistoryPage = z.infer<typeof groupHistoryPageSchema>;

/**
 * Where an event sits in its group's stream. A group's events are stored
 * once, in the group, and reach a member in `gseq` order per group, never
 * with an inbox `seq`. `prev`: no event of this group that you may see lies
 * between `prev` and `gseq`, so an event whose `prev` is above the last
 * `gseq` you have means you missed some: `sync` with `gid` from there.
 */
const streamFields = { gseq: seqSchema, prev: seqSchema };

/** A group message as a member's devices get it. */
export const groupMessageEventSchema = messageEventSchema.omit({ seq: true }).extend({ chat: z.literal("group"), ...streamFields });
/** A group system event as a member's devices get it. */
export const groupSystemEventSchema = groupEventSchema.omit({ seq: true }).extend(streamFields);
/** A backend push to a group as a member's devices get it. */
export const groupNoticeEventSchema = noticeEventSchema.omit({ seq: true }).extend({ gid: groupIdSchema, ...streamFields });
/** A change to a group message as a member's devices get it. */
export const groupUpdateEventSchema = updateEventSchema.omit({ seq: true }).extend({ chat: z.literal("group"), ...streamFields });

/** An event of a group's stream: pushed to online members, synced by `gid` and `gseq`. */
export const groupStreamEventSchema = z.discriminatedUnion("type", [
  groupMessageEventSchema,
  groupSystemEventSchema,
  groupNoticeEventSchema,
  groupUpdateEventSchema
]);
export type GroupStreamEvent = z.infer<typeof groupStreamEventSchema>;
export type GroupMessageEvent = z.infer<typeof groupMessageEventSchema>;
export type GroupSystemEvent = z.infer<typeof groupSystemEventSchema>;
export type GroupNoticeEvent = z.infer<typeof groupNoticeEventSchema>;
export type GroupUpdateEvent = z.infer<typeof groupUpdateEventSchema>;

/**
 * One page of a group's events that you may see after `after`, oldest
 * first: answered to `sync` with `gid`, pushed as `group_catchup`. `head` is
 * the last gseq of your stream of this group (the group's newest, or where you
 * left it); `gap`: gseqs retention dropped before you synced them.
 */
export const groupPageSchema = z.object({
  gid: groupIdSchema,
  events: z.array(groupStreamEventSchema),
  more: z.boolean(),
  head: seqSchema,
  gap: gapSchema.optional()
});
export type GroupPage = z.infer<typeof groupPageSchema>;

/** Missed events of one group, pushed after `catchup` to a device that connected with `?since=`. */
export const groupCatchupFrameSchema = groupPageSchema.extend({ type: z.literal("group_catchup") });
export type GroupCatchupFrame = z.infer<typeof groupCatchupFrameSchema>;

/** First frame on every connection. */
export const welcomeFrameSchema = z.object({
  type: z.literal("welcome"),
  uid: userIdSchema,
  device: deviceIdSchema,
  head: seqSchema,
  maxFrameBytes: z.number().int(),
  ts: z.number().int(),
  /** The server's VAPID public key (base64url), for a browser's pushManager.subscribe; absent when Web Push is off. */
  vapidPublicKey: z.string().optional()
});
export type WelcomeFrame = z.infer<typeof welcomeFrameSchema>;

export const errorBodySchema = z.object({
  code: z.string() as z.ZodType<ErrorCode>,
  num: z.number().int(),
  message: z.string(),
  retryable: z.boolean(),
  fields: z.record(z.string(), z.string()).optional(),
  retryAfterMs: z.number().int().optional()
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
  groupEventSchema,
  noticeEventSchema,
  friendRequestEventSchema,
  friendResponseEventSchema,
  updateEventSchema,
  conversationEventSchema,
  presenceFrameSchema,
  typingEventSchema,
  catchupFrameSchema,
  groupCatchupFrameSchema,
  groupMessageEventSchema,
  groupSystemEventSchema,
  groupNoticeEventSchema,
  groupUpdateEventSchema
]);
export type ServerFrame = z.infer<typeof serverFrameSchema>;
