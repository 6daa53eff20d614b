import { eq, inArray } from "drizzle-orm";
import type { Db } from "./client";
import { type UserRow, users } from "./schema";

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
