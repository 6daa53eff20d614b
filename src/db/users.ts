import { and, eq, inArray, isNull } from "drizzle-orm";
import type { Db } from "./client";
import { groupMembers, groups, type UserRow, users } from "./schema";

export async function getUser(db: Db, id: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.id, id)).get();
}

/** Inserts a user; returns undefined when the id is taken. */
export async function insertUser(
  db: Db,
  id: string,
  name: string | undefined
): Promise<UserRow | undefined> {
  const rows = await db
    .insert(users)
    .values({ id, name: name ?? null })
    .onConflictDoNothing()
    .returning();
  return rows[0];
}

/** The subset of `ids` that exist. At most 100 ids per call (D1 bound-parameter limit). */
export async function existingUserIds(db: Db, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .select({ id: users.id })
    .from(users)
    .where(inArray(users.id, [...ids]));
  return new Set(rows.map((r) => r.id));
}

/** Renames a user; undefined when there is no such user. */
export async function updateUser(db: Db, id: string, name: string | null): Promise<UserRow | undefined> {
  const rows = await db.update(users).set({ name }).where(eq(users.id, id)).returning();
  return rows[0];
}

/** Deletes a user; friendships, requests and blocks go with it (foreign-key cascade). */
export async function deleteUser(db: Db, id: string): Promise<boolean> {
  const rows = await db.delete(users).where(eq(users.id, id)).returning({ id: users.id });
  return rows.length > 0;
}

/** Live groups `uid` belongs to, with the role held (from the D1 index). */
export async function groupsOf(db: Db, uid: string): Promise<{ id: string; role: string }[]> {
  return db
    .select({ id: groupMembers.groupId, role: groupMembers.role })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .where(and(eq(groupMembers.userId, uid), isNull(groups.dismissedAt)))
    .orderBy(groupMembers.groupId);
}
