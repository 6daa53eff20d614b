import { z } from "zod";
import { groupIdSchema } from "./groups";
import { bodySchema, deviceIdSchema, kindSchema, seqSchema, userIdSchema } from "./primitives";

/**
 * A push from the app's backend (GatewayWorker's sendToUid/Group/All),
 * stored in the inbox like any event. `gid` when pushed to a group; `from`
 * when the backend attributes it to a user.
 */
export const noticeEventSchema = z.object({
  type: z.literal("notice"),
  seq: seqSchema,
  eid: z.string(),
  kind: kindSchema,
  body: bodySchema,
  ts: z.number().int(),
  from: userIdSchema.optional(),
  gid: groupIdSchema.optional(),
  gseq: seqSchema.optional()
});
export type NoticeEvent = z.infer<typeof noticeEventSchema>;

/**
 * Largest batch of users one push may name: each costs a rate-limit check and
 * a call to the user's object, and one request stays within 1,000 such calls.
 */
export const PUSH_USERS_MAX = 400;

const pushContent = {
  kind: kindSchema.default("notice"),
  body: bodySchema,
  from: userIdSchema.optional()
};

/** `POST /api/v1/push/users`: store and push to these users (sendToUid). */
export const pushUsersBodySchema = z.object({
  uids: z.array(userIdSchema).min(1).max(PUSH_USERS_MAX),
  ...pushContent
});
export type PushUsersBody = z.infer<typeof pushUsersBodySchema>;

export const pushUserResultSchema = z.object({
  uid: userIdSchema,
  seq: seqSchema,
  /** Devices the push reached live (0: stored for the next sync). */
  devices: z.number().int(),
  /** Already stored by an earlier attempt with the same push id. */
  duplicate: z.boolean()
});

export const pushUsersResultSchema = z.object({
  pushId: z.string(),
  users: z.number().int(),
  devices: z.number().int(),
  results: z.array(pushUserResultSchema)
});
export type PushUsersResult = z.infer<typeof pushUsersResultSchema>;

/** `POST /api/v1/push/groups/{gid}` (sendToGroup): to members, minus users or devices. */
export const pushGroupBodySchema = z.object({
  ...pushContent,
  exceptUids: z.array(userIdSchema).max(PUSH_USERS_MAX).default([]),
  /** Stored for these users but not pushed live to these devices (the seed's excluded client_id). */
  exceptDevices: z.array(z.object({ uid: userIdSchema, device: deviceIdSchema })).max(PUSH_USERS_MAX).default([])
});
export type PushGroupBody = z.infer<typeof pushGroupBodySchema>;

export const pushGroupResultSchema = z.object({
  pushId: z.string(),
  gseq: seqSchema,
  /** Members it is being stored for. */
  recipients: z.number().int(),
  /** Group delivery is durable and asynchronous (the group's fan-out). */
  delivery: z.literal("queued")
});

/** `POST /api/v1/push/all` (sendToAll): every user online now. */
export const pushAllBodySchema = z.object(pushContent);

export const pushAllResultSchema = z.object({
  pushId: z.string(),
  /** Users online when the push was queued, over all registry shards. */
  users: z.number().int(),
  shards: z.number().int(),
  delivery: z.literal("queued")
});

/** `GET /api/v1/online`: a page of online users; pass `next` as `after`. */
export const onlineQuerySchema = z.object({
  after: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500)
});
export const onlinePageSchema = z.object({ uids: z.array(userIdSchema), next: z.string().nullable() });
export const countSchema = z.object({ count: z.number().int() });

export const deviceSchema = z.object({ device: deviceIdSchema, connectedAt: z.number().int() });
/** A user's live connections, from their own object (not the registry). */
export const userOnlineSchema = z.object({
  uid: userIdSchema,
  online: z.boolean(),
  devices: z.array(deviceSchema)
});
export type UserOnline = z.infer<typeof userOnlineSchema>;

/** `POST /api/v1/users/{uid}/disconnect` (closeClient): one device, or all. */
export const disconnectBodySchema = z.object({
  device: deviceIdSchema.optional(),
  reason: z.string().max(100).default("disconnected by the server")
});
export const disconnectResultSchema = z.object({ closed: z.number().int() });

/** `POST /api/v1/users/{uid}/ban`. */
export const banBodySchema = z.object({ reason: z.string().max(100).optional() });
export const banResultSchema = z.object({ banned: z.literal(true), closed: z.number().int() });
/** `DELETE /api/v1/users/{uid}/ban`: whether there was a ban to lift. */
export const unbanResultSchema = z.object({ lifted: z.boolean() });

/**
 * `POST /api/v1/users/{uid}/tokens/revoke`: one token by its `jti` (kept
 * revoked until `exp`, unix s, by default the longest token lifetime), or
 * with no `jti` every token issued to the user so far.
 */
export const revokeBodySchema = z.object({
  jti: z.string().min(1).max(128).optional(),
  exp: z.number().int().positive().optional()
});

/** Who a scheduled push goes to. */
export const scheduleTargetSchema = z.union([
  z.object({ uids: z.array(userIdSchema).min(1).max(PUSH_USERS_MAX) }),
  z.object({ gid: groupIdSchema }),
  z.object({ all: z.literal(true) })
]);
export type ScheduleTarget = z.infer<typeof scheduleTargetSchema>;

/** `POST /api/v1/schedules`: once at `at` (or after `delaySeconds`), or every `everySeconds`. */
export const createScheduleBodySchema = z
  .object({
    target: scheduleTargetSchema,
    kind: kindSchema.default("notice"),
    body: bodySchema,
    /** First run, unix ms. */
    at: z.number().int().positive().optional(),
    delaySeconds: z.number().int().min(0).max(366 * 24 * 3600).optional(),
    /** Repeat interval; at least a minute. */
    everySeconds: z.number().int().min(60).max(366 * 24 * 3600).optional(),
    /** How many runs in all (repeating schedules); unlimited when absent. */
    times: z.number().int().min(1).max(100_000).optional()
  })
  .refine((b) => (b.at === undefined) !== (b.delaySeconds === undefined), {
    message: "give exactly one of at or delaySeconds",
    path: ["at"]
  });
export type CreateScheduleBody = z.infer<typeof createScheduleBodySchema>;

export const scheduleSchema = z.object({
  id: z.string(),
  target: scheduleTargetSchema,
  kind: kindSchema,
  body: bodySchema,
  /** Next run, unix ms. */
  next: z.number().int(),
  everySeconds: z.number().int().nullable(),
  /** Runs left, or null for unlimited. */
  remaining: z.number().int().nullable(),
  /** Runs done so far. */
  runs: z.number().int(),
  createdAt: z.number().int()
});
export type Schedule = z.infer<typeof scheduleSchema>;
