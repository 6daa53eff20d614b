import { and, eq, or } from "drizzle-orm";
import type { Db } from "./client";
import { blocks, friendships } from "./schema";
import { peersFrom, type Peers } from "../rules/gate";

/** Ids of everyone `uid` lists (`user_id = uid`): its friend list. */
export async function listFriendIds(db: Db, uid: string): Promise<string[]> {
  const rows = await db
    .select({ id: friendships.friendId })
    .from(friendships)
    .where(eq(friendships.userId, uid));
  return rows.map((r) => r.id);
}

export type { FriendEdge, Peers } from "../rules/gate";

export async function loadPeers(db: Db, uid: string): Promise<Peers> {
  const [listedBy, listing, blockRows] = await db.batch([
    db.select({ userId: friendships.userId, friendId: friendships.friendId }).from(friendships).where(eq(friendships.friendId, uid)),
    db.select({ userId: friendships.userId, friendId: friendships.friendId }).from(friendships).where(eq(friendships.userId, uid)),
    db
      .select({ blocker: blocks.blockerId, blocked: blocks.blockedId })
      .from(blocks)
      .where(or(eq(blocks.blockerId, uid), eq(blocks.blockedId, uid)))
  ]);
  return peersFrom(uid, [...listedBy, ...listing], blockRows);
}

/** Whether `a` and `b` list each other (both directed rows). */
export async function areFriends(db: Db, a: string, b: string): Promise<boolean> {
  const rows = await db
    .select({ userId: friendships.userId })
    .from(friendships)
    .where(
      or(
        and(eq(friendships.userId, a), eq(friendships.friendId, b)),
        and(eq(friendships.userId, b), eq(friendships.friendId, a))
      )
    );
  return rows.length === 2;
}

/** Makes `a` and `b` friends (both directions, atomically). Returns whether it is new (also when it completes a one-sided row). */
export async function addFriendship(db: Db, a: string, b: string): Promise<boolean> {
  const [ab, ba] = await db.batch([
    db.insert(friendships).values({ userId: a, friendId: b }).onConflictDoNothing().returning(),
    db.insert(friendships).values({ userId: b, friendId: a }).onConflictDoNothing().returning()
  ]);
  return ab.length > 0 || ba.length > 0;
}

/** Ends the friendship in both directions. Returns whether one existed (either direction). */
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
