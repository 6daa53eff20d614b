import { z } from "zod";
import { createDb } from "../../db/client";
import { addFriendship, removeFriendship } from "../../db/friendships";
import { existingUserIds } from "../../db/users";
import { createFriendshipBodySchema, friendshipSchema, ProtocolError, userIdSchema } from "../../protocol";
import { newApp } from "../app-env";
import { op } from "../openapi";
import { valid } from "../validate";
import { userStub } from "../../rpc/stubs";

/**
 * Both users' objects drop their cached friend lists (and, when it ended,
 * anything still pending for the other) before the request returns, so a
 * removed friendship stops delivery for every later send.
 */
export async function invalidate(env: Env, a: string, b: string, ended: boolean): Promise<void> {
  try {
    await Promise.all([
      userStub(env, a).invalidateFriends(ended ? b : undefined),
      userStub(env, b).invalidateFriends(ended ? a : undefined)
    ]);
  } catch (err) {
    console.error("friend cache invalidation failed", err);
    throw new ProtocolError("unavailable", "friendship stored; caches not yet refreshed, retry");
  }
}

const tag = "friends";
const createOp = op({
  method: "post", path: "/api/v1/friendships", tag, summary: "Make two users friends (mutual); 200 if they already were",
  body: createFriendshipBodySchema,
  ok: { status: 201, description: "the friendship", schema: friendshipSchema, also: { status: 200, description: "they already were friends" } },
  errors: ["unknown_user", "unavailable"]
});
const deleteOp = op({
  method: "delete", path: "/api/v1/friendships/{a}/{b}", tag,
  summary: "End a friendship; delivery between them stops at once (pending messages are dropped)",
  params: z.object({ a: userIdSchema, b: userIdSchema }), ok: { status: 204, description: "ended" },
  errors: ["not_found", "unavailable"]
});

export const friendships = newApp()
  /** `POST /api/v1/friendships {a, b}`: 201 if new, 200 if they already were friends. */
  .post("/", valid("json", createOp.body), async (c) => {
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
  .delete("/:a/:b", valid("param", deleteOp.params), async (c) => {
    const { a, b } = c.req.valid("param");
    const removed = await removeFriendship(createDb(c.env.DB), a, b);
    // Also when nothing was removed: this may be the retry of a DELETE whose
    // invalidation failed after the rows were gone.
    await invalidate(c.env, a, b, true);
    if (!removed) throw new ProtocolError("not_found", `${a} and ${b} are not friends`);
    return c.body(null, 204);
  });
