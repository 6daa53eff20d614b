import { and, eq, or } from "drizzle-orm";
import type { Db } from "./client";
import { blocks, friendships } from "./schema";
import type { PeerSets } from "../rules/gate";

/** Ids of everyone `uid` lists (`user_id = uid`): its friend list. */
export async function listFriendIds(db: Db, uid: string): Promise<string[]> {
  const rows = await db
    .select({ id: friendships.friendId })
    .from(friendships)
    .where(eq(friendships.userId, uid));
  return rows.map((r) => r.id);
}

/**
 * A user's peers. `friends` (the gate's input) are the users who list
 * `uid` (`friend_id = uid`): `uid` may reach X when X lists `uid`, the
 * seed's `uid = toUid AND frienduid = fromUid`. `listed` are the users
 * `uid` lists (`user_id = uid`): whose presence `uid` sees. Both exclude
 * anyone blocked in either direction. Our API writes friendships both ways,
 * so the two differ only for one-sided rows an import kept as they were.
 */
export interface Peers extends PeerSets {
  listed: ReadonlySet<string>;
}

/** A directed friendship row: `userId` lists `friendId` (the seed's `oh_ai_friend (uid, frienduid)`). */
export interface FriendEdge {
  userId: string;
  friendId: string;
}

/** `uid`'s {@link Peers} from its friendship rows (either direction) and the blocks it is part of. Pure. */
export function peersFrom(uid: string, edges: readonly FriendEdge[], blockRows: readonly { blocker: string; blocked: string }[]): Peers {
  const blocked = new Set(blockRows.map((r) => (r.blocker === uid ? r.blocked : r.blocker)));
  const friends = new Set<string>();
  const listed = new Set<string>();
  for (const e of edges) {
    if (e.friendId === uid && e.userId !== uid && !blocked.has(e.userId)) friends.add(e.userId);
    if (e.userId === uid && e.friendId !== uid && !blocked.has(e.friendId)) listed.add(e.friendId);
  }
  return { friends, listed, blocked };
}

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
