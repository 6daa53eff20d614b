import { z } from "zod";
import { seqSchema, userIdSchema } from "./primitives";

/** Someone asked `to` to be friends (the seed's `friend_request`). */
export const friendRequestEventSchema = z.object({
  type: z.literal("friend_request"),
  seq: seqSchema,
  eid: z.string(),
  /** Request id, for accept/reject. */
  rid: z.string(),
  from: userIdSchema,
  to: userIdSchema,
  message: z.string().optional(),
  ts: z.number().int()
});

export type FriendRequestEvent = z.infer<typeof friendRequestEventSchema>;

/** `from` answered `to`'s request (the seed's `friend_response`). Both sides get it. */
export const friendResponseEventSchema = z.object({
  type: z.literal("friend_response"),
  seq: seqSchema,
  eid: z.string(),
  rid: z.string(),
  from: userIdSchema,
  to: userIdSchema,
  accepted: z.boolean(),
  ts: z.number().int()
});
export type FriendResponseEvent = z.infer<typeof friendResponseEventSchema>;

/** `POST /api/v1/friend-requests`. */
export const friendRequestBodySchema = z
  .object({ from: userIdSchema, to: userIdSchema, message: z.string().max(500).optional() })
  .refine((b) => b.from !== b.to, { message: "a user cannot befriend themselves", path: ["to"] });

export const friendRequestSchema = z.object({
  id: z.string(),
  from: userIdSchema,
  to: userIdSchema,
  message: z.string().nullable(),
  status: z.enum(["pending", "accepted", "rejected"]),
  createdAt: z.number().int(),
  decidedAt: z.number().int().nullable()
});
export type FriendRequest = z.infer<typeof friendRequestSchema>;

export const friendRequestListQuerySchema = z.object({
  direction: z.enum(["incoming", "outgoing"]).default("incoming")
});

/** `POST /api/v1/blocks`: `blocker` blocks `blocked`. */
export const blockBodySchema = z
  .object({ blocker: userIdSchema, blocked: userIdSchema })
  .refine((b) => b.blocker !== b.blocked, { message: "a user cannot block themselves", path: ["blocked"] });

export const blockSchema = z.object({ blocker: userIdSchema, blocked: userIdSchema, created: z.boolean() });

/** `PATCH /api/v1/users/{uid}`. */
export const updateUserBodySchema = z.object({ name: z.string().min(1).max(128).nullable() });
