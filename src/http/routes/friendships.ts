import { z } from "zod";
import { createDb } from "../../db/client";
import { addFriendship, removeFriendship } from "../../db/friendships";
import { existingUserIds } from "../../db/users";
import { createFriendshipBodySchema, ProtocolError, userIdSchema } from "../../protocol";
import { newApp } from "../app-env";
import { valid } from "../validate";

/**
 * Both users' objects drop their cached friend lists (and, when it ended,
 * anything still pending for the other) before the request returns, so a
 * removed friendship stops delivery for every later send.
 */
async function invalidate(env: Env, a: string, b: string, ended: boolean): Promise<void> {
  try {
    await Promise.all([
      env.USERS.getByName(a).invalidateFriends(ended ? b : undefined),
      env.USERS.getByName(b).invalidateFriends(ended ? a : undefined)
    ]);
  } catch (err) {
    console.error("friend cache invalidation failed", err);
    throw new ProtocolError("unavailable", "friendship stored; caches not yet refreshed, retry");
  }
}

export const friendships = newApp()
  /** `POST /api/v1/friendships {a, b}`: 201 if new, 200 if they already were friends. */
  .post("/", valid("json", createFriendshipBodySchema), async (c) => {
    const { a, b } = c.req.valid("json");
    const db = createDb(c.env.DB);
    const found = await existingUserIds(db, [a, b]);
    for (const uid of [a, b]) {
      if (!found.has(uid)) throw new ProtocolError("unknown_user", `no user ${uid}`);
    }
    const created = await addFriendship(db, a, b);
    await invalidate(c.env, a, b, false);
    return c.json({ a, b, created }, created ? 201 : 200);
  })
  /** `DELETE /api/v1/friendships/:a/:b`: 204, or 404 if they were not friends. */
  .delete("/:a/:b", valid("param", z.object({ a: userIdSchema, b: userIdSchema })), async (c) => {
    const { a, b } = c.req.valid("param");
    const removed = await removeFriendship(createDb(c.env.DB), a, b);
    // Also when nothing was removed: this may be the retry of a DELETE whose
    // invalidation failed after the rows were gone.
    await invalidate(c.env, a, b, true);
    if (!removed) throw new ProtocolError("not_found", `${a} and ${b} are not friends`);
    return c.body(null, 204);
  });
