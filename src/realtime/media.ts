import {
  abortUpload,
  insertAttachment,
  isGroupMember,
  liveAttachment,
  markDeleted,
  markSent,
  markUploaded,
  startUpload,
  sweepExpired,
  unsentSince,
  usableAttachment
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
  const db = createDb(env.DB);
  // Uploads nobody sent hold R2 space until the sweep: a user may have only so many at once.
  if ((await unsentSince(db, owner, now - 2 * limits.mediaUploadMs)) >= limits.mediaMaxPending) {
    throw new ProtocolError("rate_limited", `at most ${limits.mediaMaxPending} uploads may wait to be sent; send or let some expire`, undefined, limits.mediaUploadMs);
  }
  const id = `a_${newEventId(now)}`;
  await insertAttachment(db, {
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
  if (row.uploadStartedAt !== null) throw new ProtocolError("conflict", `attachment ${id} was uploaded already`);
  if (baseType(req.headers.get("content-type") ?? "") !== row.contentType) {
    throw new ProtocolError("bad_request", `the upload's Content-Type must be ${row.contentType}`);
  }
  const length = Number(req.headers.get("content-length") ?? NaN);
  if (!Number.isSafeInteger(length)) throw new ProtocolError("bad_request", "the upload needs a Content-Length");
  if (length > row.size) throw new ProtocolError("attachment_too_large", `the slot is for ${row.size} bytes`);
  if (length < row.size || !req.body) throw new ProtocolError("bad_request", `the slot is for exactly ${row.size} bytes`);
  // The slot's one upload is taken before any byte is written: a second PUT can never replace what a message names.
  if (!(await startUpload(db, id, now))) throw new ProtocolError("conflict", `attachment ${id} was uploaded already`);
  try {
    await env.MEDIA.put(id, req.body, {
      httpMetadata: { contentType: row.contentType, contentDisposition: dispositionOf(row.contentType, row.name) },
      customMetadata: { owner: row.ownerId, kind: row.kind }
    });
  } catch (err) {
    await abortUpload(db, id);
    throw err;
  }
  await markUploaded(db, id, now);
  return { ...row, uploadStartedAt: now, uploadedAt: now };
}

/** Kinds a browser may show inline; anything else downloads (an uploaded HTML page never runs on this origin). */
const INLINE = /^(image\/(png|jpeg|gif|webp|avif)|audio\/|video\/)/;

/** How a download presents itself: inline for media a browser shows safely, else as a file, with its name. */
function dispositionOf(contentType: string, name: string | null): string {
  const how = INLINE.test(contentType) ? "inline" : "attachment";
  return name ? `${how}; filename*=UTF-8''${encodeURIComponent(name)}` : how;
}

/**
 * The attachment a message body names, checked for a message from `owner`
 * to (`chat`, `to`) with client id `cmid`: theirs, made for this
 * conversation, uploaded, live, named by no other message. One D1 read, only
 * for bodies that name one; {@link attachmentSent} records the message once
 * it is stored, so a send refused later leaves the attachment unclaimed.
 */
export async function checkAttachment(env: Env, owner: string, f: { chat: "dm" | "group"; to: string; cmid: string; body: unknown }): Promise<string | undefined> {
  const id = attachmentOf(f.body);
  if (id === undefined) return undefined;
  const ok = attachmentIdSchema.safeParse(id).success && (await usableAttachment(createDb(env.DB), id, { owner, chat: f.chat, peer: f.to, cmid: f.cmid }));
  if (!ok) {
    throw new ProtocolError("unknown_attachment", `no uploaded attachment ${id} of yours for this conversation that another message has not named`, {
      "body.attachment": "upload it for this message first"
    });
  }
  return id;
}

/** Records the stored message `mid` (client id `cmid`) as the one naming attachment `id`. */
export async function attachmentSent(env: Env, id: string, cmid: string, mid: string): Promise<void> {
  if (!(await markSent(createDb(env.DB), id, cmid, mid, Date.now()))) {
    console.warn("attachment named by two messages at once; the first keeps it", id, mid);
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

/** The one byte range a `Range` header asks of `size` bytes; undefined to ignore it (malformed, several ranges). */
export function rangeOf(header: string, size: number): { offset: number; length: number } | "unsatisfiable" | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    return suffix === 0 ? "unsatisfiable" : { offset: Math.max(0, size - suffix), length: Math.min(suffix, size) };
  }
  const start = Number(m[1]);
  if (start >= size) return "unsatisfiable";
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  return end < start ? undefined : { offset: start, length: end - start + 1 };
}

/**
 * The bytes of attachment `id` (signature already checked). One `Range`
 * (206, or 416 past the end) and `If-None-Match` (304) are honoured; other
 * conditional headers are ignored.
 */
export async function serveDownload(env: Env, id: string, req: Request, expiresAt: number): Promise<Response> {
  const gone = () => new ProtocolError("unknown_attachment", `no attachment ${id}`);
  const rangeHeader = req.headers.get("range");
  const ifNoneMatch = req.headers.get("if-none-match");
  const head = rangeHeader || ifNoneMatch ? await env.MEDIA.head(id) : undefined;
  if (head === null) throw gone();
  const headers = new Headers({
    "accept-ranges": "bytes",
    "cache-control": `private, max-age=${Math.max(0, Math.floor((expiresAt - Date.now()) / 1000))}`,
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox"
  });
  if (head && ifNoneMatch && ifNoneMatch.split(",").some((t) => t.trim() === head.httpEtag || t.trim() === "*")) {
    headers.set("etag", head.httpEtag);
    return new Response(null, { status: 304, headers });
  }
  const range = head && rangeHeader ? rangeOf(rangeHeader, head.size) : undefined;
  if (range === "unsatisfiable") {
    headers.set("content-range", `bytes */${head!.size}`);
    return new Response(null, { status: 416, headers });
  }
  const obj = await env.MEDIA.get(id, range ? { range } : {});
  if (!obj) throw gone();
  obj.writeHttpMetadata(headers);
  headers.set("etag", obj.httpEtag);
  if (range) {
    headers.set("content-range", `bytes ${range.offset}-${range.offset + range.length - 1}/${obj.size}`);
    return new Response(obj.body, { status: 206, headers });
  }
  return new Response(obj.body, { headers });
}

/** Deletes the attachment a recalled message `mid` names (its object and its row), if that message is the one that named it. */
export async function discardAttachment(env: Env, body: unknown, mid: string): Promise<void> {
  const id = attachmentOf(body);
  if (id === undefined || !attachmentIdSchema.safeParse(id).success) return;
  const deleted = await markDeleted(createDb(env.DB), [id], Date.now(), mid);
  if (deleted.length > 0) await env.MEDIA.delete(deleted);
}

/** Deletes objects and marks their rows; returns how many were live. */
export async function deleteAttachments(env: Env, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const deleted = await markDeleted(createDb(env.DB), ids, Date.now());
  await env.MEDIA.delete([...ids]);
  return deleted.length;
}

/**
 * The cron's sweep: attachments no message named within twice their upload
 * window (a slot used at its last second still has time to be sent), and those older than their conversation's retention (a direct
 * chat's INBOX_TTL_SECONDS, a group's GROUP_HISTORY_TTL_SECONDS), up to
 * 1,000 per run (R2 deletes at most 1,000 keys per call).
 */
export async function sweepMedia(env: Env, now = Date.now()): Promise<number> {
  const limits = limitsOf(env);
  const ids = await sweepExpired(
    createDb(env.DB),
    { unsentBefore: now - 2 * limits.mediaUploadMs, dmBefore: now - limits.inboxTtlMs, groupBefore: now - limits.groupHistoryTtlMs },
    1000,
    now
  );
  if (ids.length > 0) await env.MEDIA.delete(ids);
  return ids.length;
}
