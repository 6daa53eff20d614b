import { z } from "zod";
import { errorBodySchema } from "./server-frames";
import { userIdSchema } from "./primitives";
import { groupIdSchema, groupNameSchema, HISTORY_PAGE_MAX, joinPolicySchema, memberSchema } from "./groups";

/** Longest token lifetime `POST /api/v1/tokens` will mint: 30 days. */
export const TOKEN_TTL_MAX_SECONDS = 30 * 24 * 3600;

/** `POST /api/v1/tokens`: mint a connection token for `uid`. */
export const mintTokenBodySchema = z.object({
  uid: userIdSchema,
  ttlSeconds: z.number().int().min(60).max(TOKEN_TTL_MAX_SECONDS).optional()
});
export type MintTokenBody = z.infer<typeof mintTokenBodySchema>;

export const tokenResponseSchema = z.object({
  token: z.string(),
  /** Unix seconds, the token's `exp`. */
  expiresAt: z.number().int()
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

/** `POST /api/v1/users`. */
export const createUserBodySchema = z.object({
  id: userIdSchema,
  name: z.string().min(1).max(128).optional()
});
export type CreateUserBody = z.infer<typeof createUserBodySchema>;

export const userSchema = z.object({
  id: userIdSchema,
  name: z.string().nullable(),
  createdAt: z.number().int()
});
export type User = z.infer<typeof userSchema>;

/** `POST /api/v1/friendships`: make `a` and `b` friends (mutual). */
export const createFriendshipBodySchema = z
  .object({ a: userIdSchema, b: userIdSchema })
  .refine((v) => v.a !== v.b, { message: "a user cannot befriend themselves", path: ["b"] });
export type CreateFriendshipBody = z.infer<typeof createFriendshipBodySchema>;

export const friendshipSchema = z.object({
  a: userIdSchema,
  b: userIdSchema,
  created: z.boolean()
});

/** Every HTTP error body. */
export const httpErrorSchema = z.object({ error: errorBodySchema });
export type HttpError = z.infer<typeof httpErrorSchema>;

/** `POST /api/v1/groups`: create a group owned by `owner`. */
export const createGroupBodySchema = z.object({
  id: groupIdSchema.optional(),
  name: groupNameSchema,
  owner: userIdSchema,
  members: z.array(userIdSchema).max(10_000).default([]),
  joinPolicy: joinPolicySchema.default("invite")
});
export type CreateGroupBody = z.infer<typeof createGroupBodySchema>;

/** `PATCH /api/v1/groups/{gid}`: change the group's settings. */
export const patchGroupBodySchema = z
  .object({ joinPolicy: joinPolicySchema.optional(), announce: z.boolean().optional() })
  .refine((b) => b.joinPolicy !== undefined || b.announce !== undefined, { message: "give joinPolicy or announce", path: ["joinPolicy"] });

/** `POST /api/v1/groups/{gid}/members`: add a user directly (no invite needed). */
export const addMemberBodySchema = z.object({
  uid: userIdSchema,
  role: z.enum(["admin", "member"]).default("member")
});

/** `PATCH /api/v1/groups/{gid}/members/{uid}`: change role and/or mute (seconds; 0 unmutes). */
export const patchMemberBodySchema = z
  .object({
    role: z.enum(["admin", "member"]).optional(),
    muteSeconds: z.number().int().min(0).max(10 * 365 * 24 * 3600).optional()
  })
  .refine((b) => b.role !== undefined || b.muteSeconds !== undefined, {
    message: "give role and/or muteSeconds"
  });

/** `POST /api/v1/groups/{gid}/owner` and `.../invites`: the user concerned. */
export const uidBodySchema = z.object({ uid: userIdSchema });

/** `GET /api/v1/groups/{gid}/messages?before=&after=&limit=`. */
export const historyQuerySchema = z
  .object({
    before: z.coerce.number().int().positive().optional(),
    after: z.coerce.number().int().nonnegative().optional(),
    limit: z.coerce.number().int().min(1).max(HISTORY_PAGE_MAX).default(50)
  })
  .refine((q) => q.before === undefined || q.after === undefined, {
    message: "give before or after, not both",
    path: ["before"]
  });

export const groupPathSchema = z.object({ gid: groupIdSchema });
export const memberPathSchema = z.object({ gid: groupIdSchema, uid: userIdSchema });
/** A message of a group. */
export const groupMessagePathSchema = z.object({ gid: groupIdSchema, mid: z.string().min(1).max(64) });

/** Path of routes about one user. */
export const uidPathSchema = z.object({ uid: userIdSchema });
/** A user and one of their direct-chat peers. */
export const uidPeerPathSchema = z.object({ uid: userIdSchema, peer: userIdSchema });

export const friendListSchema = z.object({ friends: z.array(userIdSchema) });
export const userGroupsSchema = z.object({
  groups: z.array(z.object({ id: groupIdSchema, role: z.enum(["owner", "admin", "member"]) }))
});
export const blockListSchema = z.object({ blocked: z.array(userIdSchema) });
export const membersSchema = z.object({ members: z.array(memberSchema) });
export const historyPageSchema = z.object({ events: z.array(z.record(z.string(), z.unknown())), more: z.boolean() });
export const onlineMembersSchema = z.object({ uids: z.array(userIdSchema) });

/** `GET /api/v1/stats`: the whole deployment, summed over the registry shards. */
export const deploymentStatsSchema = z.object({
  onlineUsers: z.number().int(),
  connections: z.number().int(),
  /** Messages sent (direct and group), as users report them with their presence: at most 5 minutes behind for users still online. */
  messages: z.number().int(),
  broadcastsPending: z.number().int(),
  shards: z.number().int()
});
export type DeploymentStats = z.infer<typeof deploymentStatsSchema>;

/**
 * `GET /api/v1/metrics`: what this isolate's objects cost so far (see
 * src/lib/meter.ts); under `wrangler dev`, the whole deployment.
 */
export const costsSchema = z.object({
  rowsRead: z.number().int(),
  rowsWritten: z.number().int(),
  kvReads: z.number().int(),
  kvWrites: z.number().int(),
  alarmsSet: z.number().int(),
  /** Invocations of objects by `Class.method` (RPC, fetch, alarm, socket events). */
  calls: z.record(z.string(), z.number().int()),
  d1Statements: z.number().int(),
  d1Queries: z.number().int()
});
export type Costs = z.infer<typeof costsSchema>;
export const metricsQuerySchema = z.object({
  /** `1`: zero the counters after reading them. */
  reset: z.enum(["0", "1"]).optional()
});

/** `GET /api/v1/users/{uid}/stats`: one user's object. */
export const userStatsSchema = z.object({
  uid: z.string(),
  connections: z.number().int(),
  /** Highest inbox seq: every event this user ever received or sent. */
  head: z.number().int(),
  retained: z.number().int(),
  /** Own messages and receipts stored but not yet confirmed by their recipient. */
  pendingDeliveries: z.number().int()
});
export type UserStats = z.infer<typeof userStatsSchema>;

/** `GET /api/v1/groups/{gid}/stats`: one group's object. */
export const groupStatsSchema = z.object({
  gid: z.string(),
  members: z.number().int(),
  /** Members whose objects have sockets: the live fan-out's recipients. */
  online: z.number().int(),
  /** Highest gseq: messages and system events. */
  head: z.number().int(),
  /** Highest gseq retention dropped (members syncing from before it get a gap). */
  trimmed: z.number().int(),
  /** Every member online has been pushed everything up to this gseq. */
  fanoutCursor: z.number().int(),
  fanoutPending: z.number().int(),
  retryingMembers: z.number().int()
});
export type GroupStats = z.infer<typeof groupStatsSchema>;
