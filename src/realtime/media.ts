import {
  claimForMessage,
  expiredAttachments,
  insertAttachment,
  isGroupMember,
  liveAttachment,
  markDeleted,
  markUploaded
} from "../db/attachments";
import { createDb } from "../db/client";
import type { AttachmentRow } from "../db/schema";
import { limitsOf } from "../lib/config";
import { newEventId } from "../lib/ids";
import { signMediaPath } from "../lib/media-links";
import { tokenKeys } from "../lib/tokens";
import {
  type AttachmentKind,
  attachmentIdSchema,
  attachmentOf,
  type MediaLink,
  ProtocolError,
  type UploadSlot
} from "../protocol";

/**
 * Attachments (bytes in R2 under their id, a row in D1): upload slots, the
 * upload itself, the claim a message makes, download links and deletion.
 * Callers check that the user may send to the conversation before asking
 * for a slot; everything else is checked here.
 */

export interface SlotRequest {
  kind: AttachmentKind;
  contentType: string;
  size: number;
  name?: string | undefined;
  chat: "dm" | "group";
  to: string;
}

/** Content types each kind accepts (by prefix; "" accepts any). */
const TYPE_PREFIX: Record<AttachmentKind, string> = { image: "image/", voice: "audio/", video: "video/", file: "" };

/** `type/subtype` of a Content-Type, without parameters. */
const baseType = (t: string): string => t.split(";")[0]!.trim().toLowerCase();

/** A slot for `owner` to upload one attachment for (`chat`, `to`). */
export async function createSlot(env: Env, owner: string, req: SlotRequest, now = Date.now()): Promise<UploadSlot> {
  const limits = limitsOf(env);
  const contentType = baseType(req.contentType);
  if (!contentType.startsWith(TYPE_PREFIX[req.kind])) {
    throw new ProtocolError("bad_request", `an ${req.kind} attachment must have a ${TYPE_PREFIX[req.kind]}* content type`, {
      contentType: "does not match kind"
    });
  }
  const max = limits.mediaMaxBytes[req.kind];
  if (req.size > max) throw new ProtocolError("attachment_too_large", `an ${req.kind} attachment is limited to ${max} bytes`);
  const id = `a_${newEventId(now)}`;
  await insertAttachment(createDb(env.DB), {
    id, ownerId: owner, chat: req.chat, peer: req.to, kind: req.kind, contentType, size: req.size, name: req.name ?? null, createdAt: now
  });
  const expiresAt = now + limits.mediaUploadMs;
  const path = await signMediaPath(tokenKeys(env).hmac, "PUT", id, Math.floor(expiresAt / 1000));
  return { attachment: id, url: path, method: "PUT", headers: { "content-type": contentType }, size: req.size, expiresAt };
}

/**
 * Streams an upload into R2 for slot `id` (its signature already checked):
 * the Content-Type must be the slot's and the Content-Length its size, so
 * R2 stores exactly what was declared; a slot takes one upload.
 */
export async function storeUpload(env: Env, id: string, req: Request, now = Date.now()): Promise<AttachmentRow> {
  const db = createDb(env.DB);
  const row = await liveAttachment(db, id);
  if (!row) throw new ProtocolError("unknown_attachment", `no attachment ${id}`);
  if (row.uploadedAt !== null) throw new ProtocolError("conflict", `attachment ${id} was uploaded already`);
  if (baseType(req.headers.get("content-type") ?? "") !== row.contentType) {
    throw new ProtocolError("bad_request", `the upload's Content-Type must be ${row.contentType}`);
  }
  const length = Number(req.headers.get("content-length") ?? NaN);
  if (!Number.isSafeInteger(length)) throw new ProtocolError("bad_request", "the upload needs a Content-Length");
  if (length > row.size) throw new ProtocolError("attachment_too_large", `the slot is for ${row.size} bytes`);
  if (length < row.size || !req.body) throw new ProtocolError("bad_request", `the slot is for exactly ${row.size} bytes`);
  await env.MEDIA.put(id, req.body, {
    httpMetadata: { contentType: row.contentType },
    customMetadata: { owner: row.ownerId, kind: row.kind }
  });
  if (!(await markUploaded(db, id, now))) {
    // Another upload to the same slot won the race: theirs stands, this one never did.
    throw new ProtocolError("conflict", `attachment ${id} was uploaded already`);
  }
  return { ...row, uploadedAt: now };
}

/**
 * Checks a message body's attachment, if it names one, for a message from
 * `owner` to (`chat`, `to`): theirs, made for this conversation, uploaded,
 * not deleted. One D1 query, only for bodies that name an attachment.
 */
export async function claimAttachment(env: Env, owner: string, chat: "dm" | "group", to: string, body: unknown): Promise<void> {
  const id = attachmentOf(body);
  if (id === undefined) return;
  const claimed = attachmentIdSchema.safeParse(id).success && (await claimForMessage(createDb(env.DB), id, owner, chat, to, Date.now()));
  if (!claimed) {
    throw new ProtocolError("unknown_attachment", `no uploaded attachment ${id} of yours for this conversation`, {
      "body.attachment": "upload it for this conversation first"
    });
  }
}

/**
 * A download link for `uid`: the uploader's always; once a message named it,
 * the direct peer's or a current member's of the group. Anyone else gets
 * `unknown_attachment`, so ids cannot be probed.
 */
export async function linkFor(env: Env, uid: string, id: string, now = Date.now()): Promise<MediaLink> {
  const db = createDb(env.DB);
  const row = await liveAttachment(db, id);
  const unknown = () => new ProtocolError("unknown_attachment", `no attachment ${id}`);
  if (!row || row.uploadedAt === null) throw unknown();
  if (uid !== row.ownerId) {
    if (row.sentAt === null) throw unknown();
    const member = row.chat === "dm" ? uid === row.peer : await isGroupMember(db, row.peer, uid);
    if (!member) throw unknown();
  }
  const exp = Math.floor(now / 1000) + limitsOf(env).mediaLinkSeconds;
  return {
    attachment: id,
    url: await signMediaPath(tokenKeys(env).hmac, "GET", id, exp),
    expiresAt: exp * 1000,
    kind: row.kind,
    contentType: row.contentType,
    size: row.size,
    name: row.name
  };
}

/** Kinds a browser may show inline; anything else downloads (an uploaded HTML page never runs on this origin). */
const INLINE = /^(image\/(png|jpeg|gif|webp|avif)|audio\/|video\/)/;

/** The bytes of attachment `id` (signature already checked), honouring Range and conditional headers. */
export async function serveDownload(env: Env, id: string, req: Request, expiresAt: number): Promise<Response> {
  const obj = await env.MEDIA.get(id, { range: req.headers, onlyIf: req.headers });
  if (!obj) throw new ProtocolError("unknown_attachment", `no attachment ${id}`);
  const headers = new Headers();
  obj.writeHttpMetadata(headers);
  headers.set("etag", obj.httpEtag);
  headers.set("accept-ranges", "bytes");
  headers.set("cache-control", `private, max-age=${Math.max(0, Math.floor((expiresAt - Date.now()) / 1000))}`);
  headers.set("x-content-type-options", "nosniff");
  headers.set("content-security-policy", "default-src 'none'; sandbox");
  if (!INLINE.test(headers.get("content-type") ?? "")) headers.set("content-disposition", "attachment");
  if (!("body" in obj)) return new Response(null, { status: 304, headers });
  const range = obj.range as { offset?: number; length?: number } | undefined;
  if (range && req.headers.has("range")) {
    const start = range.offset ?? 0;
    const length = range.length ?? obj.size - start;
    headers.set("content-range", `bytes ${start}-${start + length - 1}/${obj.size}`);
    return new Response(obj.body, { status: 206, headers });
  }
  return new Response(obj.body, { headers });
}

/** Deletes the attachment a recalled message's body names (its object and its row), if any. */
export async function discardAttachment(env: Env, body: unknown): Promise<void> {
  const id = attachmentOf(body);
  if (id === undefined || !attachmentIdSchema.safeParse(id).success) return;
  await deleteAttachments(env, [id]);
}

/** Deletes objects and marks their rows; returns how many were live. */
export async function deleteAttachments(env: Env, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  await env.MEDIA.delete([...ids]);
  return (await markDeleted(createDb(env.DB), ids, Date.now())).length;
}

/**
 * The cron's sweep: attachments no message named within twice their upload
 * window (a slot used at its last second still has time to be sent), and those older than their conversation's retention (a direct
 * chat's INBOX_TTL_SECONDS, a group's GROUP_HISTORY_TTL_SECONDS), up to
 * 1,000 per run (R2 deletes at most 1,000 keys per call).
 */
export async function sweepMedia(env: Env, now = Date.now()): Promise<number> {
  const limits = limitsOf(env);
  const ids = await expiredAttachments(
    createDb(env.DB),
    { unsentBefore: now - 2 * limits.mediaUploadMs, dmBefore: now - limits.inboxTtlMs, groupBefore: now - limits.groupHistoryTtlMs },
    1000
  );
  return deleteAttachments(env, ids);
}
