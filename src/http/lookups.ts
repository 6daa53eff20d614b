import { createDb } from "../db/client";
import { existingUserIds, getUser } from "../db/users";
import type { UserRow } from "../db/schema";
import { ProtocolError } from "../protocol";

/** The user row, or `unknown_user` (404). */
export async function requireUser(env: Env, uid: string): Promise<UserRow> {
  const row = await getUser(createDb(env.DB), uid);
  if (!row) throw new ProtocolError("unknown_user", `no user ${uid}`);
  return row;
}

/** Of `uids`, those with an account (one D1 query per 100). */
export async function existingUsers(env: Env, uids: readonly string[]): Promise<Set<string>> {
  const db = createDb(env.DB);
  const unique = [...new Set(uids)];
  const found = new Set<string>();
  for (let i = 0; i < unique.length; i += 100) {
    for (const u of await existingUserIds(db, unique.slice(i, i + 100))) found.add(u);
  }
  return found;
}

/** Every uid must exist, or `unknown_user` (404) naming the missing ones in `fields.uids`. */
export async function requireUsers(env: Env, uids: readonly string[]): Promise<void> {
  const found = await existingUsers(env, uids);
  const missing = [...new Set(uids)].filter((u) => !found.has(u));
  if (missing.length > 0) {
    throw new ProtocolError("unknown_user", `no user ${missing.slice(0, 10).join(", ")}`, { uids: missing.join(",") });
  }
}
