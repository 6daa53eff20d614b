import { z } from "zod";
import { createDb } from "../../db/client";
import { addBlock, blockedBy, removeBlock } from "../../db/social";
import { blockBodySchema, blockListSchema, blockSchema, ProtocolError, uidPathSchema, userIdSchema } from "../../protocol";
import { newApp } from "../app-env";
import { requireUser, requireUsers } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";
import { invalidate } from "./friendships";

const tag = "friends";
const createOp = op({
  method: "post", path: "/api/v1/blocks", tag,
  summary: "Block: direct messages, receipts and friend requests between the two are refused (`blocked`); 200 if it existed",
  body: blockBodySchema,
  ok: { status: 201, description: "the block", schema: blockSchema, also: { status: 200, description: "it already existed" } },
  errors: ["unknown_user", "unavailable"]
});
const deleteOp = op({
  method: "delete", path: "/api/v1/blocks/{blocker}/{blocked}", tag, summary: "Unblock",
  params: z.object({ blocker: userIdSchema, blocked: userIdSchema }), ok: { status: 204, description: "removed" },
  errors: ["not_found", "unavailable"]
});
const listOp = op({
  method: "get", path: "/api/v1/users/{uid}/blocks", tag, summary: "Whom a user has blocked",
  params: uidPathSchema, ok: { status: 200, description: "blocked ids", schema: blockListSchema }, errors: ["unknown_user"]
});

export const blockRoutes = newApp()
  .post("/", valid("json", createOp.body), async (c) => {
    const { blocker, blocked } = c.req.valid("json");
    await requireUsers(c.env, [blocker, blocked]);
    const created = await addBlock(createDb(c.env.DB), blocker, blocked);
    // Both sides' caches drop the peer, and anything pending between them.
    await invalidate(c.env, blocker, blocked, true);
    return c.json({ blocker, blocked, created }, created ? 201 : 200);
  })
  .delete("/:blocker/:blocked", valid("param", deleteOp.params), async (c) => {
    const { blocker, blocked } = c.req.valid("param");
    const removed = await removeBlock(createDb(c.env.DB), blocker, blocked);
    await invalidate(c.env, blocker, blocked, false);
    if (!removed) throw new ProtocolError("not_found", `${blocker} has not blocked ${blocked}`);
    return c.body(null, 204);
  });

/** `/api/v1/users/{uid}/blocks`. */
export const userBlocks = newApp().get("/:uid/blocks", valid("param", listOp.params), async (c) => {
  const { uid } = c.req.valid("param");
  await requireUser(c.env, uid);
  return c.json({ blocked: await blockedBy(createDb(c.env.DB), uid) });
});
