import { z } from "zod";
import { chatSchema, requestIdSchema, userIdSchema } from "./primitives";

/**
 * Media attachments: bytes live in R2, a message carries a reference. A
 * client asks for an upload slot for one conversation, PUTs the bytes to
 * the slot's signed URL, then sends a message whose body names the
 * attachment; readers ask for a short-lived signed download link.
 */

/** What an attachment is; each kind has its own size limit and content types. */
export const attachmentKindSchema = z.enum(["image", "voice", "video", "file"]);
export type AttachmentKind = z.infer<typeof attachmentKindSchema>;

/** Server attachment id: `a_` and 26 Crockford base32 characters. */
export const attachmentIdSchema = z.string().regex(/^a_[0-9A-HJKMNP-TV-Z]{26}$/, "an attachment id (a_…)");

/** A MIME type as `type/subtype` (parameters allowed), lower-cased by the server. */
export const contentTypeSchema = z
  .string()
  .max(127)
  .regex(/^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?$/, "a MIME type such as image/png")
  .transform((s) => s.toLowerCase());

/** Where a slot's upload may be sent: a direct chat's peer or a group. */
const slotFields = {
  kind: attachmentKindSchema,
  contentType: contentTypeSchema,
  /** Exact size of the upload in bytes. */
  size: z.number().int().positive(),
  /** A file name to show and to download as. */
  name: z.string().min(1).max(255).optional(),
  chat: chatSchema.default("dm"),
  to: userIdSchema
};

/** `upload`: a slot to upload one attachment for a conversation you may send to. */
export const uploadFrameSchema = z.object({ type: z.literal("upload"), id: requestIdSchema, ...slotFields });
export type UploadFrame = z.infer<typeof uploadFrameSchema>;

/** `POST /api/v1/users/{uid}/uploads`: the same slot, asked by the app's backend for a user. */
export const uploadBodySchema = z.object(slotFields);

/** `media_link`: a download link for an attachment of a conversation you are in. */
export const mediaLinkFrameSchema = z.object({ type: z.literal("media_link"), id: requestIdSchema, attachment: attachmentIdSchema });
export type MediaLinkFrame = z.infer<typeof mediaLinkFrameSchema>;

export const mediaFrameSchemas = [uploadFrameSchema, mediaLinkFrameSchema] as const;

/** An upload slot: PUT exactly `size` bytes with this Content-Type to `url` before `expiresAt`. */
export const uploadSlotSchema = z.object({
  attachment: attachmentIdSchema,
  url: z.string(),
  method: z.literal("PUT"),
  headers: z.object({ "content-type": z.string() }),
  size: z.number().int().positive(),
  expiresAt: z.number().int()
});
export type UploadSlot = z.infer<typeof uploadSlotSchema>;

/** A download link (GET, no other credentials) valid until `expiresAt`. */
export const mediaLinkSchema = z.object({
  attachment: attachmentIdSchema,
  url: z.string(),
  expiresAt: z.number().int(),
  kind: attachmentKindSchema,
  contentType: z.string(),
  size: z.number().int().positive(),
  name: z.string().nullable()
});
export type MediaLink = z.infer<typeof mediaLinkSchema>;

/**
 * The body of a message with an attachment: `attachment` names it; anything
 * else (a caption, dimensions, a thumbnail) is the app's. A body whose
 * `attachment` is a string is checked as one; other bodies (the seed's inline
 * images) are stored as they are.
 */
export const attachmentBodySchema = z.looseObject({ attachment: attachmentIdSchema });

/** The attachment a message body names, if it names one (invalid ids included, so they are refused). */
export function attachmentOf(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const a = (body as { attachment?: unknown }).attachment;
  return typeof a === "string" ? a : undefined;
}
