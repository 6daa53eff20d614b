import { z } from "zod";

/** Application user id: the JWT `sub`, the D1 `users.id`, the UserObject name. */
export const userIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "1-64 characters of A-Z a-z 0-9 _ -");
export type UserId = z.infer<typeof userIdSchema>;

/** One connection of a user (a phone, a tab). Chosen by the client or generated. */
export const deviceIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "1-64 characters of A-Z a-z 0-9 _ -");
export type DeviceId = z.infer<typeof deviceIdSchema>;

/** Client-chosen message id; the idempotency key of `send` (per sender). */
export const clientMsgIdSchema = z.string().min(1).max(64);

/** Server message id: 26 Crockford base32 characters, time-sortable. */
export const messageIdSchema = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/);
export type MessageId = z.infer<typeof messageIdSchema>;

/** Position in one user's inbox; starts at 1, strictly increasing, never reused. */
export const seqSchema = z.number().int().nonnegative();

/** Request correlation id chosen by the client, echoed in the reply. */
export const requestIdSchema = z.union([
  z.string().min(1).max(64),
  z.number().int()
]);
export type RequestId = z.infer<typeof requestIdSchema>;

/** Which conversation space a message belongs to: `to` is a user id or a group id. */
export const chatSchema = z.enum(["dm", "group"]);
export type Chat = z.infer<typeof chatSchema>;

/** Free-form application payload of a message: any JSON value. */
export const bodySchema = z.json();
export type MessageBody = z.infer<typeof bodySchema>;

/** Application message kind ("text", "image", ...), opaque to the server. */
export const kindSchema = z.string().min(1).max(32);

/** Largest page a `sync` may ask for. */
export const SYNC_PAGE_MAX = 500;
/** Page size when `sync` gives no `limit`. */
export const SYNC_PAGE_DEFAULT = 200;
/**
 * Soft byte budget of one page of events (`sync`, `group_history`): the JSON
 * of its events stops at about this much (at least one event), so a reply
 * always fits in one WebSocket message.
 */
export const PAGE_BYTES = 1024 * 1024;
