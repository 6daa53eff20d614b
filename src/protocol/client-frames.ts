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
import { groupFrameSchemas, groupIdSchema, mentionsSchema } from "./groups";
import { mediaFrameSchemas } from "./media";
import { notificationFrameSchemas } from "./notifications";
import { richFrameSchemas } from "./rich";
import { ACK_GROUPS_MAX } from "./streams";

/**
 * `from` is never trusted: identity comes from the token. A frame may carry
 * it (clients ported from the seed do), but if it names anyone else the frame
 * is refused with `forged_sender`.
 */
const claimedSender = userIdSchema.optional();

/**
 * Send a message: to a friend (`chat: "dm"`, the default) or to a group you
 * belong to (`chat: "group"`, `to` = group id). Answered by a reply whose
 * result is a {@link SendAck}.
 */
export const sendFrameSchema = z.object({
  type: z.literal("send"),
  id: requestIdSchema,
  cmid: clientMsgIdSchema,
  chat: chatSchema.default("dm"),
  to: userIdSchema,
  kind: kindSchema.default("text"),
  body: bodySchema,
  /** Group messages only. */
  mentions: mentionsSchema.optional(),
  /** Quote a message of this conversation you can see; the copy carries it as `reply`. */
  replyTo: messageIdSchema.optional(),
  from: claimedSender
});
export type SendFrame = z.infer<typeof sendFrameSchema>;

/**
 * Fetch inbox events with seq > `after`, oldest first, at most `limit`; with
 * `gid`, the events of that group's stream you may see with gseq > `after`
 * (a {@link GroupPage}).
 */
export const syncFrameSchema = z.object({
  type: z.literal("sync"),
  id: requestIdSchema,
  after: seqSchema,
  gid: groupIdSchema.optional(),
  /** At most SYNC_PAGE_MAX (`page_too_large`). */
  limit: z.number().int().min(1).optional()
});
export type SyncFrame = z.infer<typeof syncFrameSchema>;

/**
 * This device has received every inbox event up to `seq`, and every event of
 * each named group up to its gseq. Replies only if `id` is set.
 */
export const ackFrameSchema = z
  .object({
    type: z.literal("ack"),
    id: requestIdSchema.optional(),
    seq: seqSchema.optional(),
    groups: z
      .record(groupIdSchema, seqSchema)
      .refine((g) => Object.keys(g).length <= ACK_GROUPS_MAX, { message: `at most ${ACK_GROUPS_MAX} groups` })
      .optional()
  })
  .refine((f) => f.seq !== undefined || f.groups !== undefined, { message: "give seq or groups", path: ["seq"] });
export type AckFrame = z.infer<typeof ackFrameSchema>;

/**
 * Mark the conversation with `peer` (a friend, or a group with `chat:
 * "group"`) read up to and including message `mid`.
 */
export const readFrameSchema = z.object({
  type: z.literal("read"),
  id: requestIdSchema,
  chat: chatSchema.default("dm"),
  peer: userIdSchema,
  mid: messageIdSchema,
  from: claimedSender
});
export type ReadFrame = z.infer<typeof readFrameSchema>;

/** Which of my friends are online now (the seed's `online` list, friends only). */
export const onlineFrameSchema = z.object({
  type: z.literal("online"),
  id: requestIdSchema
});
export type OnlineFrame = z.infer<typeof onlineFrameSchema>;

/** Most users one `last_seen` asks about. */
export const LAST_SEEN_MAX = 100;

/** When these friends were last online (others are left out of the answer). */
export const lastSeenFrameSchema = z.object({
  type: z.literal("last_seen"),
  id: requestIdSchema,
  uids: z.array(userIdSchema).min(1).max(LAST_SEEN_MAX)
});
export type LastSeenFrame = z.infer<typeof lastSeenFrameSchema>;

/** Who may see when you were last online: your friends (the default) or nobody. */
export const privacyFrameSchema = z.object({
  type: z.literal("privacy"),
  id: requestIdSchema,
  lastSeen: z.enum(["friends", "nobody"])
});
export type PrivacyFrame = z.infer<typeof privacyFrameSchema>;

/**
 * Application-level ping with a reply. The exact text `{"type":"ping"}` is
 * answered `{"type":"pong"}` by the runtime without waking the object.
 */
export const pingFrameSchema = z.object({
  type: z.literal("ping"),
  id: requestIdSchema.optional()
});
export type PingFrame = z.infer<typeof pingFrameSchema>;

/** Every frame a client may send. */
export const clientFrameSchema = z.discriminatedUnion("type", [
  sendFrameSchema,
  syncFrameSchema,
  ackFrameSchema,
  readFrameSchema,
  onlineFrameSchema,
  lastSeenFrameSchema,
  privacyFrameSchema,
  pingFrameSchema,
  ...groupFrameSchemas,
  ...richFrameSchemas,
  ...mediaFrameSchemas,
  ...notificationFrameSchemas
]);
export type ClientFrame = z.infer<typeof clientFrameSchema>;
export type ClientFrameType = ClientFrame["type"];

export const CLIENT_FRAME_TYPES: readonly ClientFrameType[] =
  clientFrameSchema.options.map((o) => o.shape.type.value);

export { HEARTBEAT_REQUEST, HEARTBEAT_RESPONSE } from "./heartbeat";
