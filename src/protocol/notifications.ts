import { z } from "zod";
import { chatSchema, requestIdSchema, userIdSchema } from "./primitives";

/**
 * Offline push notifications: a device registers a subscription (Web Push
 * or FCM); when a message reaches the user while none of their devices has a
 * socket, each subscription gets a notification, collapsed per conversation.
 */

const b64urlBytes = (n: number, what: string) =>
  z.string().regex(/^[A-Za-z0-9_-]+$/, "base64url").refine((s) => Math.floor((s.length * 3) / 4) === n, `${what}: ${n} bytes, base64url`);

/** A browser's PushSubscription (its `toJSON()`), as RFC 8030 push services issue them. */
export const webPushSubscriptionSchema = z.object({
  type: z.literal("webpush"),
  endpoint: z.url({ protocol: /^https?$/ }).max(2048),
  keys: z.object({ p256dh: b64urlBytes(65, "p256dh"), auth: b64urlBytes(16, "auth") })
});

/** An Android or iOS app's FCM registration token. */
export const fcmSubscriptionSchema = z.object({ type: z.literal("fcm"), token: z.string().min(1).max(4096) });

export const pushSubscriptionSchema = z.discriminatedUnion("type", [webPushSubscriptionSchema, fcmSubscriptionSchema]);
export type PushSubscription = z.infer<typeof pushSubscriptionSchema>;

/** A stored subscription as listed (its keys are never read back). */
export const subscriptionInfoSchema = z.object({
  id: z.string(),
  type: z.enum(["webpush", "fcm"]),
  /** The push service's origin (Web Push) or "fcm". */
  service: z.string(),
  createdAt: z.number().int()
});
export type SubscriptionInfo = z.infer<typeof subscriptionInfoSchema>;

/** `push_subscribe`: register this device's subscription (again: the same id, refreshed keys). */
export const pushSubscribeFrameSchema = z.object({ type: z.literal("push_subscribe"), id: requestIdSchema, subscription: pushSubscriptionSchema });
/** `push_unsubscribe`: remove one by id. */
export const pushUnsubscribeFrameSchema = z.object({ type: z.literal("push_unsubscribe"), id: requestIdSchema, subscription: z.string().min(1).max(64) });
export type PushSubscribeFrame = z.infer<typeof pushSubscribeFrameSchema>;
export type PushUnsubscribeFrame = z.infer<typeof pushUnsubscribeFrameSchema>;

export const notificationFrameSchemas = [pushSubscribeFrameSchema, pushUnsubscribeFrameSchema] as const;

export const pushSubscribeResultSchema = z.object({ subscription: z.string(), created: z.boolean() });
export const pushUnsubscribeResultSchema = z.object({ removed: z.boolean() });
export const subscriptionListSchema = z.object({ subscriptions: z.array(subscriptionInfoSchema) });

/**
 * What a notification carries (the Web Push payload, decrypted by the
 * browser; FCM's `data`, as strings): the newest message of a conversation
 * the user has not seen, and how many arrived since the last notification.
 * `text` is a preview of a text message (never of a recalled one).
 */
export const notificationPayloadSchema = z.object({
  v: z.literal(1),
  type: z.literal("message"),
  chat: chatSchema,
  /** The other user (dm) or the group. */
  conv: userIdSchema,
  from: userIdSchema,
  mid: z.string(),
  kind: z.string(),
  text: z.string().optional(),
  mentioned: z.boolean().optional(),
  count: z.number().int().positive(),
  ts: z.number().int()
});
export type NotificationPayload = z.infer<typeof notificationPayloadSchema>;
