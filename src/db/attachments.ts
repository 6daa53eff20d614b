import { and, count, eq, gt, inArray, isNotNull, isNull, lt, or } from "drizzle-orm";
import type { Db } from "./client";
import { type AttachmentRow, attachments, groupMembers } from "./schema";

export type NewAttachment = Omit<AttachmentRow, "uploadStartedAt" | "uploadedAt" | "cmid" | "mid" | "sentAt" | "deletedAt">;

export async function insertAttachment(db: Db, row: NewAttachment): Promise<void> {
  await db.insert(attachments).values(row);
}

/** How many attachments `owner` made since `since` that no message has named yet (live ones). */
export async function unsentSince(db: Db, owner: string, since: number): Promise<number> {
  const row = await db
    .select({ n: count() })
    .from(attachments)
    .where(and(eq(attachments.ownerId, owner), isNull(attachments.sentAt), isNull(attachments.deletedAt), gt(attachments.createdAt, since)))
    .get();
  return row?.n ?? 0;
}

/** A live attachment (not deleted), or undefined. */
export async function liveAttachment(db: Db, id: string): Promise<AttachmentRow | undefined> {
  return db.select().from(attachments).where(and(eq(attachments.id, id), isNull(attachments.deletedAt))).get();
}

/** Takes the slot's one upload, before its bytes are written; false when it was taken or is gone. */
export async function startUpload(db: Db, id: string, now: number): Promise<boolean> {
  const rows = await db
    .update(attachments)
    .set({ uploadStartedAt: now })
    .where(and(eq(attachments.id, id), isNull(attachments.uploadStartedAt), isNull(attachments.deletedAt)))
    .returning({ id: attachments.id });
  return rows.length > 0;
}

/** Gives the slot back after a failed write, so the client can upload again. */
export async function abortUpload(db: Db, id: string): Promise<void> {
  await db.update(attachments).set({ uploadStartedAt: null }).where(and(eq(attachments.id, id), isNull(attachments.uploadedAt)));
}

export async function markUploaded(db: Db, id: string, now: number): Promise<void> {
  await db.update(attachments).set({ uploadedAt: now }).where(eq(attachments.id, id));
}

/**
 * Attachment `id` if a message from `owner` to (`chat`, `peer`) with client
 * id `cmid` may name it: theirs, made for this conversation, uploaded, live,
 * and named by no other message (a resend of the same cmid may).
 */
export async function usableAttachment(
  db: Db,
  id: string,
  q: { owner: string; chat: "dm" | "group"; peer: string; cmid: string }
): Promise<AttachmentRow | undefined> {
  return db
    .select()
    .from(attachments)
    .where(
      and(
        eq(attachments.id, id),
        eq(attachments.ownerId, q.owner),
        eq(attachments.chat, q.chat),
        eq(attachments.peer, q.peer),
        isNotNull(attachments.uploadedAt),
        isNull(attachments.deletedAt),
        or(isNull(attachments.cmid), eq(attachments.cmid, q.cmid))
      )
    )
    .get();
}

/** Records the message that names `id` (once it is stored); false when another message named it first. */
export async function markSent(db: Db, id: string, cmid: string, mid: string, now: number): Promise<boolean> {
  const rows = await db
    .update(attachments)
    .set({ cmid, mid, sentAt: now })
    .where(and(eq(attachments.id, id), isNull(attachments.deletedAt), or(isNull(attachments.cmid), eq(attachments.cmid, cmid))))
    .returning({ id: attachments.id });
  return rows.length > 0;
}

/** Marks attachments deleted (only the one message `mid` names, when given); returns the ids that were live. */
export async function markDeleted(db: Db, ids: readonly string[], now: number, mid?: string): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .update(attachments)
    .set({ deletedAt: now })
    .where(and(inArray(attachments.id, [...ids]), isNull(attachments.deletedAt), mid === undefined ? undefined : eq(attachments.mid, mid)))
    .returning({ id: attachments.id });
  return rows.map((r) => r.id);
}

/**
 * Marks deleted, in one statement, up to `limit` live attachments past their
 * time, oldest first: never sent and made before `unsentBefore`; direct ones
 * made before `dmBefore`; group ones before `groupBefore`. A message cannot
 * claim one of them after this (claims need it live). Returns their ids.
 */
export async function sweepExpired(
  db: Db,
  cut: { unsentBefore: number; dmBefore: number; groupBefore: number },
  limit: number,
  now: number
): Promise<string[]> {
  const due = db
    .select({ id: attachments.id })
    .from(attachments)
    .where(
      and(
        isNull(attachments.deletedAt),
        or(
          and(isNull(attachments.sentAt), lt(attachments.createdAt, cut.unsentBefore)),
          and(eq(attachments.chat, "dm"), lt(attachments.createdAt, cut.dmBefore)),
          and(eq(attachments.chat, "group"), lt(attachments.createdAt, cut.groupBefore))
        )
      )
    )
    .orderBy(attachments.createdAt)
    .limit(limit);
  const rows = await db.update(attachments).set({ deletedAt: now }).where(inArray(attachments.id, due)).returning({ id: attachments.id });
  return rows.map((r) => r.id);
}

/** Whether `uid` is a member of group `gid` now (the D1 mirror of the group's object). */
export async function isGroupMember(db: Db, gid: string, uid: string): Promise<boolean> {
  const row = await db
    .select({ uid: groupMembers.userId })
    .from(groupMembers)
    .where(and(eq(groupMembers.groupId, gid), eq(groupMembers.userId, uid)))
    .get();
  return row !== undefined;
}
