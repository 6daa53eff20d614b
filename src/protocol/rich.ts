import { z } from "zod";
import {
  bodySchema,
  chatSchema,
  clientMsgIdSchema,
  kindSchema,
  messageIdSchema,
  requestIdSchema,
  seqSchema,
  userIdSchema
} from "./primitives";
import { historyCursor, ONE_DIRECTION, oneDirection } from "./groups";

/**
 * Rich messaging: typing, edit, recall, delete-for-me, reactions, replies,
 * forwards, conversations and search. Message changes travel as durable
 * `update` events (stored, seq'd, replayed by sync); the message copies an
 * inbox holds are rewritten in place, so a sync page always shows the
 * current version and the updates after it say what changed.
 */

/** One reaction: a short emoji string (no whitespace). */
export const emojiSchema = z.string().min(1).max(16).regex(/^\S+$/, "no whitespace");

/** Most distinct emoji one message may carry (`too_many_reactions`). */
export const MAX_REACTION_KINDS = 20;
/** Most edits one message may have. */
export const MAX_EDITS = 50;
/** Characters of text a reply's quote carries. */
export const QUOTE_CHARS = 120;
/** Largest page of `conversations` and `search`. */
export const CONVERSATION_PAGE_MAX = 100;

/** The message a reply quotes: enough to render it without fetching. */
export const quoteSchema = z.object({
  mid: messageIdSchema,
  from: userIdSchema,
  kind: kindSchema,
  /** Its text (first {@link QUOTE_CHARS} characters), null when it has none. */
  text: z.string().nullable()
});
export type Quote = z.infer<typeof quoteSchema>;

/** Where a forwarded message first came from; a forward of a forward keeps the first origin. */
export const originSchema = z.object({
  mid: messageIdSchema,
  from: userIdSchema,
  chat: chatSchema,
  ts: z.number().int()
});
export type Origin = z.infer<typeof originSchema>;

/** Fields a stored message gains over its life (see `update`). */
export const messageStateFields = {
  /** `send` with `replyTo`: the quoted message. */
  reply: quoteSchema.optional(),
  /** `forward`: the original message. */
  forwarded: originSchema.optional(),
  /** How many times it was edited (the current version number). */
  edited: z.number().int().positive().optional(),
  editedAt: z.number().int().optional(),
  /** Recalled: the body is gone for everyone. */
  recalled: z.object({ by: userIdSchema, at: z.number().int() }).optional(),
  /** Deleted by this user for themselves (only in their own copy); the body is gone. */
  deleted: z.literal(true).optional(),
  /** emoji → users who reacted with it (counts are the lengths). */
  reactions: z.record(z.string(), z.array(userIdSchema)).optional()
};

// ---- client frames ----

const withId = { id: requestIdSchema };
const target = { mid: messageIdSchema };

/** Replace the body of your own message; recipients' devices get an `update` (op `edit`). */
export const editFrameSchema = z.object({ type: z.literal("edit"), ...withId, ...target, body: bodySchema });
/**
 * Take back a message for everyone: your own within RECALL_WINDOW_SECONDS
 * (`recall_expired` after); a group's owner and admins, any message in it.
 */
export const recallFrameSchema = z.object({ type: z.literal("recall"), ...withId, ...target });
/** Remove a message from your own devices only. */
export const deleteFrameSchema = z.object({ type: z.literal("delete"), ...withId, ...target });
/** Add (default) or remove your reaction `emoji` on a message you can see. */
export const reactFrameSchema = z.object({
  type: z.literal("react"),
  ...withId,
  ...target,
  emoji: emojiSchema,
  remove: z.boolean().default(false)
});
/**
 * Send a copy of a message you can see to a friend or group; the copy keeps
 * its kind and body and carries `forwarded` (its origin). Answered like `send`.
 */
export const forwardFrameSchema = z.object({
  type: z.literal("forward"),
  ...withId,
  ...target,
  cmid: clientMsgIdSchema,
  chat: chatSchema.default("dm"),
  to: userIdSchema
});
/** The edit history of a message you can see: every earlier version. */
export const editsFrameSchema = z.object({ type: z.literal("edits"), ...withId, ...target });
/**
 * "I am typing" (or stopped, `active: false`) in a conversation. Never
 * stored; relayed to the peer's (or the group's online members') devices at
 * most once per TYPING_RELAY_MS per conversation; receivers drop it after
 * `expiresAt` unless renewed.
 */
export const typingFrameSchema = z.object({
  type: z.literal("typing"),
  id: requestIdSchema.optional(),
  chat: chatSchema.default("dm"),
  to: userIdSchema,
  active: z.boolean().default(true)
});
/** One page of your conversations, most recently active first. */
export const conversationsFrameSchema = z.object({
  type: z.literal("conversations"),
  ...withId,
  /** `next` of the previous page. */
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(CONVERSATION_PAGE_MAX).default(20)
});
/** Mute (or unmute) notifications of one conversation, on all your devices. */
export const muteConversationFrameSchema = z.object({
  type: z.literal("conversation_mute"),
  ...withId,
  chat: chatSchema.default("dm"),
  peer: userIdSchema,
  muted: z.boolean()
});
/** Messages you can see whose text contains `q` (case-insensitive for ASCII), newest first. */
export const searchFrameSchema = z.object({
  type: z.literal("search"),
  ...withId,
  q: z.string().min(1).max(100),
  /** Only this conversation (with `peer`). */
  chat: chatSchema.optional(),
  peer: userIdSchema.optional(),
  /** `next` of the previous page: results older than it (message ids grow with time). */
  before: messageIdSchema.optional(),
  limit: z.number().int().min(1).max(CONVERSATION_PAGE_MAX).default(20)
});

/**
 * A page of the direct chat with `peer`, by inbox seq. With `before`: the
 * newest messages below that seq, returned oldest first. With `after`: the
 * oldest above it. With neither: the newest page. Messages you deleted for
 * yourself are left out; recalled ones stay, without their text.
 */
export const dmHistoryFrameSchema = z
  .object({
    type: z.literal("dm_history"),
    ...withId,
    peer: userIdSchema,
    ...historyCursor
  })
  .refine(oneDirection, ONE_DIRECTION);
export type DmHistoryFrame = z.infer<typeof dmHistoryFrameSchema>;

export const richFrameSchemas = [
  editFrameSchema,
  recallFrameSchema,
  deleteFrameSchema,
  reactFrameSchema,
  forwardFrameSchema,
  editsFrameSchema,
  typingFrameSchema,
  conversationsFrameSchema,
  muteConversationFrameSchema,
  searchFrameSchema,
  dmHistoryFrameSchema
] as const;

export type EditFrame = z.infer<typeof editFrameSchema>;
export type RecallFrame = z.infer<typeof recallFrameSchema>;
export type DeleteFrame = z.infer<typeof deleteFrameSchema>;
export type ReactFrame = z.infer<typeof reactFrameSchema>;
export type ForwardFrame = z.infer<typeof forwardFrameSchema>;
export type EditsFrame = z.infer<typeof editsFrameSchema>;
export type TypingFrame = z.infer<typeof typingFrameSchema>;
export type ConversationsFrame = z.infer<typeof conversationsFrameSchema>;
export type MuteConversationFrame = z.infer<typeof muteConversationFrameSchema>;
export type SearchFrame = z.infer<typeof searchFrameSchema>;
/** What a search asks, over the socket or HTTP. */
export type SearchQuery = Omit<SearchFrame, "type" | "id">;

// ---- server events ----

export const updateOpSchema = z.enum(["edit", "recall", "delete", "react", "unreact"]);
export type UpdateOp = z.infer<typeof updateOpSchema>;

/**
 * A change to message `mid` of the conversation between `from` (who made the
 * change) and `to` (the peer; the group for `chat: "group"`). Applied to
 * every copy of the message the recipient's inbox holds, then stored and
 * pushed like any event, so a device that was away learns of it on sync.
 * `edit` carries the new `body` and `version`; `react`/`unreact` the `emoji`;
 * `delete` reaches only the deleting user's own devices. Group updates carry
 * the group's `gseq` and the message's `mgseq`.
 */
export const updateEventSchema = z.object({
  type: z.literal("update"),
  seq: seqSchema,
  eid: z.string(),
  op: updateOpSchema,
  chat: chatSchema,
  from: userIdSchema,
  to: userIdSchema,
  mid: messageIdSchema,
  ts: z.number().int(),
  body: bodySchema.optional(),
  version: z.number().int().positive().optional(),
  emoji: emojiSchema.optional(),
  gseq: seqSchema.optional(),
  mgseq: seqSchema.optional()
});
export type UpdateEvent = z.infer<typeof updateEventSchema>;

/** This user changed a conversation's settings (mute) on one device: every device learns it. */
export const conversationEventSchema = z.object({
  type: z.literal("conversation"),
  seq: seqSchema,
  eid: z.string(),
  chat: chatSchema,
  peer: userIdSchema,
  muted: z.boolean(),
  ts: z.number().int()
});
export type ConversationEvent = z.infer<typeof conversationEventSchema>;

/** `from` is typing (or stopped) in the conversation; hide it after `expiresAt`. Never stored. */
export const typingEventSchema = z.object({
  type: z.literal("typing"),
  chat: chatSchema,
  from: userIdSchema,
  /** Your user id (dm) or the group's id. */
  to: userIdSchema,
  active: z.boolean(),
  ts: z.number().int(),
  expiresAt: z.number().int()
});
export type TypingEvent = z.infer<typeof typingEventSchema>;

// ---- results ----

/** Result of `edit`, `recall`, `delete`, `react`: what changed (`changed: false` when nothing did). */
export const updateResultSchema = z.object({
  mid: messageIdSchema,
  changed: z.boolean(),
  version: z.number().int().optional(),
  gseq: seqSchema.optional()
});
export type UpdateResult = z.infer<typeof updateResultSchema>;

export const editVersionSchema = z.object({ version: z.number().int().nonnegative(), body: bodySchema, at: z.number().int() });
export const editsResultSchema = z.object({ mid: messageIdSchema, versions: z.array(editVersionSchema) });
export type EditsResult = z.infer<typeof editsResultSchema>;

