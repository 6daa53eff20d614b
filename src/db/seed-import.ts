import type { FriendshipImport } from "../protocol";
import type { Db } from "./client";
import { friendships, users } from "./schema";
import { existingUserIds } from "./users";

/** D1 allows 100 bound parameters per statement. */
const CHUNK = 40;

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Inserts users that do not exist yet; returns the ids that were new. */
export async function importUsers(db: Db, rows: readonly { id: string; name?: string }[]): Promise<Set<string>> {
  const created = new Set<string>();
  for (const part of chunks(rows, CHUNK)) {
    const inserted = await db
      .insert(users)
      .values(part.map((r) => ({ id: r.id, name: r.name ?? null })))
      .onConflictDoNothing()
      .returning({ id: users.id });
    for (const r of inserted) created.add(r.id);
  }
  return created;
}

/** Which of `ids` exist, any number of them. */
export async function existingAmong(db: Db, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const part of chunks([...new Set(ids)], 90)) for (const id of await existingUserIds(db, part)) found.add(id);
  return found;
}

/**
 * Stores seed friendship rows `[uid, frienduid]` (deduplicated by the
 * caller). `both`: as a mutual friendship (both directed rows), counted per
 * pair, new when either row was missing. `as-is`: only that directed row
 * (uid lists frienduid), counted per row. Returns how many were new.
 */
export async function importFriendships(db: Db, rows: readonly [string, string][], mode: FriendshipImport = "both"): Promise<number> {
  const both = mode === "both";
  let created = 0;
  for (const part of chunks(rows, both ? CHUNK / 2 : CHUNK)) {
    const values = part.flatMap(([a, b]) => [{ userId: a, friendId: b }, ...(both ? [{ userId: b, friendId: a }] : [])]);
    const inserted = await db
      .insert(friendships)
      .values(values)
      .onConflictDoNothing()
      .returning({ userId: friendships.userId, friendId: friendships.friendId });
    const key = (r: { userId: string; friendId: string }) => (both ? [r.userId, r.friendId].sort() : [r.userId, r.friendId]).join("\n");
    created += new Set(inserted.map(key)).size;
  }
  return created;
}
