import { and, eq, or } from "drizzle-orm";
import type { Db } from "./client";
import { blocks, friendships } from "./schema";
import type { PeerSets } from "../rules/gate";

/** Ids of everyone `uid` is friends with. */
export async function listFriendIds(db: Db, uid: string): Promise<string[]> {
  const rows = await db
    .select({ id: friendships.friendId })
    .from(friendships)
    .where(eq(friendships.userId, uid));
  return rows.map((r) => r.id);
}

/** Who `uid` may talk to directly: friends, minus anyone blocked in either direction (the gate's input). */
export type Peers = PeerSets;

export async function loadPeers(db: Db, uid: string): Promise<Peers> {
  const [friendRows, blockRows] = await db.batch([
    db.select({ id: friendships.friendId }).from(friendships).where(eq(friendships.userId, uid)),
    db
      .select({ blocker: blocks.blockerId, blocked: blocks.blockedId })
      .from(blocks)
      .where(or(eq(blocks.blockerId, uid), eq(blocks.blockedId, uid)))
  ]);
  const blocked = new Set(blockRows.map((r) => (r.blocker === uid ? r.blocked : r.blocker)));
  return { friends: new Set(friendRows.map((r) => r.id).filter((id) => !blocked.has(id))), blocked };
}

/** Makes `a` and `b` friends (both directions, atomically). Returns whether it is new. */
export async function addFriendship(db: Db, a: string, b: string): Promise<boolean> {
  const [ab] = await db.batch([
    db.insert(friendships).values({ userId: a, friendId: b }).onConflictDoNothing().returning(),
    db.insert(friendships).values({ userId: b, friendId: a }).onConflictDoNothing().returning()
  ]);
  return ab.length > 0;
}

/** Ends the friendship in both directions. Returns whether one existed. */
export async function removeFriendship(db: Db, a: string, b: string): Promise<boolean> {
  const rows = await db
    .delete(friendships)
    .where(
      or(
        and(eq(friendships.userId, a), eq(friendships.friendId, b)),
        and(eq(friendships.userId, b), eq(friendships.friendId, a))
      )
    )
    .returning({ userId: friendships.userId });
  return rows.length > 0;
}
