import type { BatchItem } from "drizzle-orm/batch";
import { eq, and } from "drizzle-orm";
import { type GroupSettings, groupSettingsSchema, type Role } from "../protocol";
import type { Db } from "./client";
import { groupMembers, groups } from "./schema";

/** The group's own record. */
export interface GroupMeta {
  id: string;
  name: string;
  owner: string;
  settings: GroupSettings;
  createdAt: number;
  dismissedAt: number | null;
}

export interface MemberRow {
  uid: string;
  role: Role;
  joinedAt: number;
  /** Head gseq when the member joined: they receive events with a higher gseq. */
  joinedGseq: number;
  mutedUntil: number | null;
}

/** Writes to replay into D1, in order ({@link mirrorStatements}). */
export type MirrorOp =
  | { op: "group"; meta: GroupMeta }
  | { op: "member"; gid: string; member: MemberRow }
  | { op: "unmember"; gid: string; uid: string }
  | { op: "unmember_all"; gid: string };

/** D1 statements replaying a GroupObject's mirror ops; each is idempotent. */
export function mirrorStatements(db: Db, ops: readonly MirrorOp[]): BatchItem<"sqlite">[] {
  return ops.map((o) => {
    switch (o.op) {
      case "group": {
        const row = {
          id: o.meta.id,
          name: o.meta.name,
          ownerId: o.meta.owner,
          settings: JSON.stringify(o.meta.settings),
          createdAt: o.meta.createdAt,
          dismissedAt: o.meta.dismissedAt
        };
        return db.insert(groups).values(row).onConflictDoUpdate({ target: groups.id, set: row });
      }
      case "member": {
        const row = {
          groupId: o.gid,
          userId: o.member.uid,
          role: o.member.role,
          joinedAt: o.member.joinedAt,
          mutedUntil: o.member.mutedUntil
        };
        return db
          .insert(groupMembers)
          .values(row)
          .onConflictDoUpdate({
            target: [groupMembers.groupId, groupMembers.userId],
            set: { role: row.role, mutedUntil: row.mutedUntil }
          });
      }
      case "unmember":
        return db
          .delete(groupMembers)
          .where(and(eq(groupMembers.groupId, o.gid), eq(groupMembers.userId, o.uid)));
      case "unmember_all":
        return db.delete(groupMembers).where(eq(groupMembers.groupId, o.gid));
    }
  });
}

/** Runs statements as one D1 batch (a transaction); no-op when empty. */
export async function runBatch(db: Db, stmts: BatchItem<"sqlite">[]): Promise<void> {
  if (stmts.length === 0) return;
  await db.batch(stmts as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
}

/** A group as D1 knows it, for an object whose own storage is empty. */
export async function loadGroup(
  db: Db,
  gid: string
): Promise<{ meta: GroupMeta; members: MemberRow[] } | undefined> {
  const g = await db.select().from(groups).where(eq(groups.id, gid)).get();
  if (!g) return undefined;
  const rows = await db.select().from(groupMembers).where(eq(groupMembers.groupId, gid));
  const settings = groupSettingsSchema.safeParse(JSON.parse(g.settings));
  return {
    meta: {
      id: g.id,
      name: g.name,
      owner: g.ownerId,
      settings: settings.success ? settings.data : groupSettingsSchema.parse({}),
      createdAt: g.createdAt,
      dismissedAt: g.dismissedAt
    },
    members: rows.map((r) => ({
      uid: r.userId,
      role: r.role as Role,
      joinedAt: r.joinedAt,
      joinedGseq: 0,
      mutedUntil: r.mutedUntil
    }))
  };
}
