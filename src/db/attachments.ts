import { and, eq, inArray, isNotNull, isNull, lt, or } from "drizzle-orm";
import type { Db } from "./client";
import { type AttachmentRow, attachments, groupMembers } from "./schema";

export type NewAttachment = Omit<AttachmentRow, "uploadedAt" | "sentAt" | "deletedAt">;

export async function insertAttachment(db: Db, row: NewAttachment): Promise<void> {
  await db.insert(attachments).values(row);
}

/** A live attachment (not deleted), or undefined. */
export async function liveAttachment(db: Db, id: string): Promise<AttachmentRow | undefined> {
  return db.select().from(attachments).where(and(eq(attachments.id, id), isNull(attachments.deletedAt))).get();
}

/** Marks the bytes stored (once); false when the slot was used or is gone. */
export async function markUploaded(db: Db, id: string, now: number): Promise<boolean> {
  const rows = await db
    .update(attachments)
    .set({ uploadedAt: now })
    .where(and(eq(attachments.id, id), isNull(attachments.uploadedAt), isNull(attachments.deletedAt)))
    .returning({ id: attachments.id });
  return rows.length > 0;
}

/**
 * Claims attachment `id` for a message from `owner` in (`chat`, `peer`):
 * one statement that checks it is theirs, for that conversation, uploaded and
 * live, and marks it sent. A resend may claim it again. Undefined when not.
 */
export async function claimForMessage(
  db: Db,
  id: string,
  owner: string,
  chat: "dm" | "group",
  peer: string,
  now: number
): Promise<AttachmentRow | undefined> {
  const rows = await db
    .update(attachments)
    .set({ sentAt: now })
    .where(
      and(
        eq(attachments.id, id),
        eq(attachments.ownerId, owner),
        eq(attachments.chat, chat),
        eq(attachments.peer, peer),
        isNotNull(attachments.uploadedAt),
        isNull(attachments.deletedAt)
      )
    )
    .returning();
  return rows[0];
}

/** Marks attachments deleted; returns the ids that were live. */
export async function markDeleted(db: Db, ids: readonly string[], now: number): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .update(attachments)
    .set({ deletedAt: now })
    .where(and(inArray(attachments.id, [...ids]), isNull(attachments.deletedAt)))
    .returning({ id: attachments.id });
  return rows.map((r) => r.id);
}

/**
 * Live attachments past their time, oldest first: never sent and made before
 * `unsentBefore`; direct ones made before `dmBefore`; group ones before `groupBefore`.
 */
export async function expiredAttachments(
  db: Db,
  cut: { unsentBefore: number; dmBefore: number; groupBefore: number },
  limit: number
): Promise<string[]> {
  const rows = await db
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
