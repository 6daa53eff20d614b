import { z } from "zod";
import type { ClientFrame, ClientFrameType, clientFrameSchema } from "./client-frames";
import { conversationPageSchema, dmHistoryPageSchema, searchPageSchema } from "./conversations";
import { groupIdSchema, groupInfoSchema, groupReadsSchema, memberSchema } from "./groups";
import { mediaLinkSchema, uploadSlotSchema } from "./media";
import { pushSubscribeResultSchema, pushUnsubscribeResultSchema } from "./notifications";
import { seqSchema, userIdSchema } from "./primitives";
import { editsResultSchema, updateResultSchema } from "./rich";
import {
  type GroupPage,
  groupHistoryPageSchema,
  groupPageSchema,
  sendAckSchema,
  type SyncResult,
  syncResultSchema
} from "./server-frames";


/** `ack` with an `id`: how far this device's positions now stand (inbox seq, gseq per group named). */
export const ackResultSchema = z.object({
  acked: seqSchema.optional(),
  groups: z.record(groupIdSchema, seqSchema).optional()
});
/** `read`: the receipt's seq in your inbox (null when the mark did not move) and what is left unread. */
export const readResultSchema = z.object({
  seq: seqSchema.nullable(),
  unread: z.number().int().nonnegative().optional()
});
/** `online`: your friends online now, sorted. */
export const onlineResultSchema = z.object({ friends: z.array(userIdSchema) });
/** A user online now or not, and when their last device left (null: unknown, or they hide it). */
export const lastSeenSchema = z.object({ uid: userIdSchema, online: z.boolean(), lastSeen: z.number().int().nullable() });
/** `last_seen`: each friend asked about. */
export const lastSeenResultSchema = z.object({ users: z.array(lastSeenSchema) });
/** `privacy`: the setting now, and whether this frame changed it. */
export const privacyResultSchema = z.object({ lastSeen: z.enum(["friends", "nobody"]), changed: z.boolean() });
/** `ping` with an `id`: the server's time. */
export const pingResultSchema = z.object({ ts: z.number().int() });
/** `typing` with an `id`: false when the throttle held the signal back (not an error). */
export const typingResultSchema = z.object({ relayed: z.boolean() });
/** `conversation_mute`: the setting now, and whether this request changed it. */
export const muteResultSchema = z.object({ muted: z.boolean(), changed: z.boolean() });
/** `group_members`. */
export const groupMembersResultSchema = z.object({ members: z.array(memberSchema) });
/** `group_role`: the member after the change; `changed: false` when they had that role. */
export const groupRoleResultSchema = memberSchema.extend({ changed: z.boolean() });

/**
 * The `result` of a successful reply, per client frame type. One row per
 * frame type (a missing one does not compile): the server's handler table
 * returns `ReplyOf<type>`, and the SDK's `request` is typed by it, so a
 * reply type that drifts from its schema breaks the build on both sides
 * (types only: the tests check real replies against these schemas).
 */
export const REPLY_SCHEMAS = {
  send: sendAckSchema,
  /** A SyncResult; with `gid`, a GroupPage (see {@link ReplyTo}). */
  sync: z.union([syncResultSchema, groupPageSchema]),
  ack: ackResultSchema,
  read: readResultSchema,
  online: onlineResultSchema,
  last_seen: lastSeenResultSchema,
  privacy: privacyResultSchema,
  ping: pingResultSchema,
  group_create: groupInfoSchema,
  group_join: groupInfoSchema,
  group_leave: z.object({ left: groupIdSchema }),
  group_invite: z.object({ invited: userIdSchema }),
  group_kick: z.object({ kicked: userIdSchema }),
  group_dismiss: groupInfoSchema,
  group_members: groupMembersResultSchema,
  group_role: groupRoleResultSchema,
  group_transfer: groupInfoSchema,
  group_mute: memberSchema,
  group_history: groupHistoryPageSchema,
  group_reads: groupReadsSchema,
  group_info: groupInfoSchema,
  group_settings: groupInfoSchema,
  edit: updateResultSchema,
  recall: updateResultSchema,
  delete: updateResultSchema,
  react: updateResultSchema,
  forward: sendAckSchema,
  edits: editsResultSchema,
  typing: typingResultSchema,
  conversations: conversationPageSchema,
  conversation_mute: muteResultSchema,
  search: searchPageSchema,
  dm_history: dmHistoryPageSchema,
  upload: uploadSlotSchema,
  media_link: mediaLinkSchema,
  push_subscribe: pushSubscribeResultSchema,
  push_unsubscribe: pushUnsubscribeResultSchema
} as const satisfies { [K in ClientFrameType]: z.ZodType };

/** The result of a successful reply to a frame of type `K`. */
export type ReplyOf<K extends ClientFrameType> = z.infer<(typeof REPLY_SCHEMAS)[K]>;

/** The frame of type `K`, as the server's handlers get it (parsed: defaults filled in). */
export type FrameOf<K extends ClientFrameType> = Extract<ClientFrame, { type: K }>;

/**
 * A client frame as a client writes it: fields with defaults may be left
 * out, and the connection sets the request `id`.
 */
export type ClientRequest = WithoutId<z.input<typeof clientFrameSchema>>;
type WithoutId<F> = F extends unknown ? Omit<F, "id"> : never;
/** The {@link ClientRequest} of type `K`. */
export type ClientRequestOf<K extends ClientFrameType> = Extract<ClientRequest, { type: K }>;

/**
 * The result a request resolves with: {@link ReplyOf} its type, narrowed
 * for `sync`, whose reply is a GroupPage with `gid` and a SyncResult without.
 */
export type ReplyTo<F extends { type: ClientFrameType }> = F extends { type: "sync" }
  ? F extends { gid: string }
    ? GroupPage
    : SyncResult
  : ReplyOf<F["type"]>;
