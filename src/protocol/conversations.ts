import { z } from "zod";
import { groupIdSchema } from "./groups";
import { chatSchema, userIdSchema } from "./primitives";
import { CONVERSATION_PAGE_MAX } from "./rich";
import { messageIdSchema } from "./primitives";
import { messageEventSchema, storedMessageSchema } from "./server-frames";
import { HISTORY_PAGE_MAX, ONE_DIRECTION, oneDirection } from "./groups";

/** A conversation from this user's side: `peer` is the friend or the group id. */
export const conversationSchema = z.object({
  chat: chatSchema,
  peer: z.union([userIdSchema, groupIdSchema]),
  /** The newest message you can see (current version), null if retention dropped it. */
  last: storedMessageSchema.nullable(),
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
  messages: z.array(storedMessageSchema),
  /** Pass as `before` for older results (the id of the last one); absent when there are none. */
  next: messageIdSchema.optional()
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
  before: messageIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(CONVERSATION_PAGE_MAX).default(20)
});

/** A page of a direct chat (`dm_history`), oldest first; `more`: there is more beyond it, away from its cursor. */
export const dmHistoryPageSchema = z.object({
  messages: z.array(messageEventSchema),
  more: z.boolean()
});
export type DmHistoryPage = z.infer<typeof dmHistoryPageSchema>;

/** `GET /api/v1/users/{uid}/conversations/{peer}/messages` query: as the `dm_history` frame. */
export const dmHistoryQuerySchema = z
  .object({
    before: z.coerce.number().int().positive().optional(),
    after: z.coerce.number().int().nonnegative().optional(),
    limit: z.coerce.number().int().min(1).max(HISTORY_PAGE_MAX).default(50)
  })
  .refine(oneDirection, ONE_DIRECTION);
export type DmHistoryQuery = z.infer<typeof dmHistoryQuerySchema>;
