import { z } from "zod";
import { requestIdSchema, userIdSchema } from "./primitives";

/** Group id: same alphabet as user ids; the GroupObject name. */
export const groupIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "1-64 characters of A-Z a-z 0-9 _ -");
export type GroupId = z.infer<typeof groupIdSchema>;

export const roleSchema = z.enum(["owner", "admin", "member"]);
export type Role = z.infer<typeof roleSchema>;

/** Who may join without an invite. */
export const joinPolicySchema = z.enum(["open", "invite"]);
export type JoinPolicy = z.infer<typeof joinPolicySchema>;

export const groupSettingsSchema = z.object({
  joinPolicy: joinPolicySchema.default("invite"),
  /** Created by `POST /api/v1/import/seed`: later import pages may add members. */
  imported: z.literal(true).optional(),
  /** Announcement mode (mute-all): only the owner and admins may post. Absent: everyone may. */
  announce: z.literal(true).optional()
});
export type GroupSettings = z.infer<typeof groupSettingsSchema>;

/**
 * Who a group message mentions. `all` (everyone) is for owners and admins;
 * mentioned users' copies carry `mentioned: true`.
 */
export const mentionsSchema = z.object({
  /** Capped by `MAX_MENTIONS` (`too_many_mentions`); this bound only keeps frames sane. */
  users: z.array(userIdSchema).max(1000).optional(),
  all: z.boolean().optional()
});
export type Mentions = z.infer<typeof mentionsSchema>;

export const groupInfoSchema = z.object({
  id: groupIdSchema,
  name: z.string(),
  owner: userIdSchema,
  settings: groupSettingsSchema,
  createdAt: z.number().int(),
  dismissedAt: z.number().int().nullable(),
  memberCount: z.number().int(),
  /** Highest group seq (messages and system events). */
  head: z.number().int()
});
export type GroupInfo = z.infer<typeof groupInfoSchema>;

export const memberSchema = z.object({
  uid: userIdSchema,
  role: roleSchema,
  joinedAt: z.number().int(),
  /** Muted until this time (ms), or null. */
  mutedUntil: z.number().int().nullable()
});
export type Member = z.infer<typeof memberSchema>;

/** Group name as shown to members. */
export const groupNameSchema = z.string().min(1).max(128);

/** Largest history page (a group's, a direct chat's). */
export const HISTORY_PAGE_MAX = 200;

/** The cursor of a history page (`group_history`, `dm_history`): `before` or `after` a seq, or neither (the newest page). */
export const historyCursor = {
  before: z.number().int().positive().optional(),
  after: z.number().int().nonnegative().optional(),
  limit: z.number().int().min(1).max(HISTORY_PAGE_MAX).default(50)
};

/** A history cursor names one direction. */
export function oneDirection(f: { before?: number; after?: number }): boolean {
  return f.before === undefined || f.after === undefined;
}
export const ONE_DIRECTION = { message: "give before or after, not both", path: ["before"] };

// ---- client frames (socket) ----

const withId = { id: requestIdSchema };
const gid = { gid: groupIdSchema };

/**
 * Create a group; the sender becomes its owner and `members` (the sender's
 * friends: `stranger` for anyone else, `blocked` across a block) its members.
 */
export const groupCreateFrameSchema = z.object({
  type: z.literal("group_create"),
  ...withId,
  gid: groupIdSchema.optional(),
  name: groupNameSchema,
  members: z.array(userIdSchema).max(1000).default([]),
  joinPolicy: joinPolicySchema.default("invite")
});
/** Join an open group, or one you were invited to. */
export const groupJoinFrameSchema = z.object({ type: z.literal("group_join"), ...withId, ...gid });
/** Leave a group (an owner must transfer ownership first). */
export const groupLeaveFrameSchema = z.object({ type: z.literal("group_leave"), ...withId, ...gid });
/** Invite a user (owner or admin). */
export const groupInviteFrameSchema = z.object({
  type: z.literal("group_invite"), ...withId, ...gid, uid: userIdSchema
});
/** Remove a member (owner: anyone but the owner; admin: plain members). */
export const groupKickFrameSchema = z.object({
  type: z.literal("group_kick"), ...withId, ...gid, uid: userIdSchema
});
/** Dismiss the group (owner only); every member is told, later posts are refused. */
export const groupDismissFrameSchema = z.object({ type: z.literal("group_dismiss"), ...withId, ...gid });
/** List members (members only). */
export const groupMembersFrameSchema = z.object({ type: z.literal("group_members"), ...withId, ...gid });
/** Make a member an admin or a plain member again (owner only). */
export const groupRoleFrameSchema = z.object({
  type: z.literal("group_role"), ...withId, ...gid, uid: userIdSchema, role: z.enum(["admin", "member"])
});
/** Hand ownership to another member (owner only); the old owner becomes an admin. */
export const groupTransferFrameSchema = z.object({
  type: z.literal("group_transfer"), ...withId, ...gid, uid: userIdSchema
});
/** Mute a member until a time, or unmute (owner: anyone but the owner; admin: plain members). */
export const groupMuteFrameSchema = z.object({
  type: z.literal("group_mute"),
  ...withId,
  ...gid,
  uid: userIdSchema,
  /** Mute for this many seconds; 0 unmutes. Default: a year. */
  seconds: z.number().int().min(0).max(10 * 365 * 24 * 3600).default(365 * 24 * 3600)
});
/**
 * Page the group's history (members only). With `before`: the newest events
 * below that gseq, returned oldest first. With `after`: the oldest events
 * above it. With neither: the newest page.
 */
export const groupHistoryFrameSchema = z
  .object({
    type: z.literal("group_history"),
    ...withId,
    ...gid,
    ...historyCursor
  })
  .refine(oneDirection, ONE_DIRECTION);
/**
 * Change the group's settings (owner only), one or both: `joinPolicy` opens
 * or closes it to `group_join`; `announce` turns announcement mode (only the
 * owner and admins post) on or off.
 */
export const groupSettingsFrameSchema = z
  .object({
    type: z.literal("group_settings"), ...withId, ...gid,
    joinPolicy: joinPolicySchema.optional(),
    announce: z.boolean().optional()
  })
  .refine((f) => f.joinPolicy !== undefined || f.announce !== undefined, { message: "give joinPolicy or announce", path: ["joinPolicy"] });
/**
 * Who read a group message (members only; groups up to
 * GROUP_READ_STATE_MAX members): of those who were members when it was
 * posted, the sender left out.
 */
export const groupReadsFrameSchema = z.object({ type: z.literal("group_reads"), ...withId, ...gid, mid: z.string().min(1).max(64) });
export const groupReadsSchema = z.object({ mid: z.string(), read: z.array(userIdSchema), unread: z.array(userIdSchema) });
export type GroupReads = z.infer<typeof groupReadsSchema>;

/** Group info (members only). */
export const groupInfoFrameSchema = z.object({ type: z.literal("group_info"), ...withId, ...gid });

export const groupFrameSchemas = [
  groupCreateFrameSchema,
  groupJoinFrameSchema,
  groupLeaveFrameSchema,
  groupInviteFrameSchema,
  groupKickFrameSchema,
  groupDismissFrameSchema,
  groupMembersFrameSchema,
  groupRoleFrameSchema,
  groupTransferFrameSchema,
  groupMuteFrameSchema,
  groupHistoryFrameSchema,
  groupReadsFrameSchema,
  groupInfoFrameSchema,
  groupSettingsFrameSchema
] as const;
