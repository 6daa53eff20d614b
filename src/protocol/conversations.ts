import { z } from "zod";
import { groupIdSchema } from "./groups";
import { chatSchema, seqSchema, userIdSchema } from "./primitives";
import { CONVERSATION_PAGE_MAX } from "./rich";
import { messageEventSchema } from "./server-frames";

/** A conversation from this user's side: `peer` is the friend or the group id. */
export const conversationSchema = z.object({
  chat: chatSchema,
  peer: z.union([userIdSchema, groupIdSchema]),
  /** The newest message you can see (current version), null if retention dropped it. */
  last: messageEventSchema.nullable(),
  lastAt: z.number().int(),
  /** Messages from others after your read mark (recalled and deleted ones excluded). */
  unread: z.number().int().nonnegative(),
  muted: z.boolean()
});
export type Conversation = z.infer<typeof conversationSchema>;

export const conversationPageSchema = z.object({
  conversations: z.array(conversationSchema),
  /** Pass as `cursor` for the next page; absent on the last page. */
  next: z.string().optional(),
  /** Unread messages over all conversations that are not muted. */
  totalUnread: z.number().int().nonnegative()
});
export type ConversationPage = z.infer<typeof conversationPageSchema>;

export const searchPageSchema = z.object({
  /** Matching messages (current versions), newest first. */
  messages: z.array(messageEventSchema),
  /** Pass as `before` for older results; absent when there are none. */
  next: seqSchema.optional()
});
export type SearchPage = z.infer<typeof searchPageSchema>;

/** `GET /api/v1/users/{uid}/conversations` query. */
export const conversationsQuerySchema = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(CONVERSATION_PAGE_MAX).default(20)
});
/** `GET /api/v1/users/{uid}/search` query. */
export const searchQuerySchema = z.object({
  q: z.string().min(1).max(100),
  chat: chatSchema.optional(),
  peer: userIdSchema.optional(),
  before: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(CONVERSATION_PAGE_MAX).default(20)
});
