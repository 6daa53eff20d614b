import { and, eq, or } from "drizzle-orm";
import type { Db } from "./client";
import { blocks, type FriendRequestRow, friendRequests } from "./schema";

/** The pending request between `a` and `b`, in either direction. */
export async function pendingRequestBetween(db: Db, a: string, b: string): Promise<FriendRequestRow | undefined> {
  return db
    .select()
    .from(friendRequests)
    .where(
      and(
        eq(friendRequests.status, "pending"),
        or(
          and(eq(friendRequests.fromId, a), eq(friendRequests.toId, b)),
          and(eq(friendRequests.fromId, b), eq(friendRequests.toId, a))
        )
      )
    )
    .get();
}

export async function insertRequest(db: Db, row: typeof friendRequests.$inferInsert): Promise<FriendRequestRow> {
  const [r] = await db.insert(friendRequests).values(row).returning();
  return r!;
}

export async function getRequest(db: Db, id: string): Promise<FriendRequestRow | undefined> {
  return db.select().from(friendRequests).where(eq(friendRequests.id, id)).get();
}

/** Moves a pending request to `status`; undefined if it was no longer pending. */
export async function decideRequest(
  db: Db,
  id: string,
  status: "accepted" | "rejected",
  at: number
): Promise<FriendRequestRow | undefined> {
  const rows = await db
    .update(friendRequests)
    .set({ status, decidedAt: at })
    .where(and(eq(friendRequests.id, id), eq(friendRequests.status, "pending")))
    .returning();
  return rows[0];
}

export async function pendingRequestsOf(db: Db, uid: string, direction: "incoming" | "outgoing"): Promise<FriendRequestRow[]> {
  const who = direction === "incoming" ? friendRequests.toId : friendRequests.fromId;
  return db
    .select()
    .from(friendRequests)
    .where(and(eq(who, uid), eq(friendRequests.status, "pending")))
    .orderBy(friendRequests.createdAt);
}

/** Records a block; false if it already existed. */
export async function addBlock(db: Db, blocker: string, blocked: string): Promise<boolean> {
  const rows = await db
    .insert(blocks)
    .values({ blockerId: blocker, blockedId: blocked, createdAt: Date.now() })
    .onConflictDoNothing()
    .returning({ b: blocks.blockedId });
  return rows.length > 0;
}

export async function removeBlock(db: Db, blocker: string, blocked: string): Promise<boolean> {
  const rows = await db
    .delete(blocks)
    .where(and(eq(blocks.blockerId, blocker), eq(blocks.blockedId, blocked)))
    .returning({ b: blocks.blockedId });
  return rows.length > 0;
}

/** Whom `uid` has blocked. */
export async function blockedBy(db: Db, uid: string): Promise<string[]> {
  const rows = await db.select({ id: blocks.blockedId }).from(blocks).where(eq(blocks.blockerId, uid)).orderBy(blocks.blockedId);
  return rows.map((r) => r.id);
}

/** Whether either of `a`, `b` blocked the other. */
export async function blockedBetween(db: Db, a: string, b: string): Promise<boolean> {
  const row = await db
    .select({ b: blocks.blockedId })
    .from(blocks)
    .where(
      or(and(eq(blocks.blockerId, a), eq(blocks.blockedId, b)), and(eq(blocks.blockerId, b), eq(blocks.blockedId, a)))
    )
    .get();
  return row !== undefined;
}
