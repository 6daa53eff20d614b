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

/** Inserts a pending request; undefined if one is already pending between the two. */
export async function insertRequest(db: Db, row: typeof friendRequests.$inferInsert): Promise<FriendRequestRow | undefined> {
  const [r] = await db
    .insert(friendRequests)
    .values({ ...row, pairKey: pairKey(row.fromId, row.toId) })
    .onConflictDoNothing()
    .returning();
  return r;
}

export async function getRequest(db: Db, id: string): Promise<FriendRequestRow | undefined> {
  return db.select().from(friendRequests).where(eq(friendRequests.id, id)).get();
}

/**
 * Moves a pending request to `status`, and on acceptance makes the two
 * friends in the same D1 transaction; undefined if it was no longer pending.
 */
export async function decideRequest(
  db: Db,
  r: FriendRequestRow,
  status: "accepted" | "rejected",
  at: number
): Promise<FriendRequestRow | undefined> {
  const decide = db
    .update(friendRequests)
    .set({ status, decidedAt: at })
    .where(and(eq(friendRequests.id, r.id), eq(friendRequests.status, "pending")))
    .returning();
  if (status === "rejected") return (await decide)[0];
  // Friendship rows only while the request is still pending, decided in the same transaction.
  const d1 = db.$client;
  const befriend = d1.prepare(
    `INSERT INTO friendships (user_id, friend_id, created_at)
     SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM friend_requests WHERE id = ?4 AND status = 'pending')
     ON CONFLICT DO NOTHING`
  );
  const accept = d1.prepare(
    "UPDATE friend_requests SET status = 'accepted', decided_at = ?2 WHERE id = ?1 AND status = 'pending'"
  );
  const [, , changed] = await d1.batch([
    befriend.bind(r.fromId, r.toId, at, r.id),
    befriend.bind(r.toId, r.fromId, at, r.id),
    accept.bind(r.id, at)
  ]);
  return changed!.meta.changes > 0 ? { ...r, status: "accepted", decidedAt: at } : undefined;
}

/** The sorted pair of ids, the same for a request in either direction. */
export function pairKey(a: string, b: string): string {
  return a < b ? `${a}\n${b}` : `${b}\n${a}`;
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
