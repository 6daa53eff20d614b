import { unwrap } from "../../lib/result";
import {
  conversationPageSchema,
  conversationsQuerySchema,
  dmHistoryPageSchema,
  dmHistoryQuerySchema,
  searchPageSchema,
  searchQuerySchema,
  uidPathSchema,
  uidPeerPathSchema
} from "../../protocol";
import { userStub } from "../../rpc/stubs";
import { newApp } from "../app-env";
import { requireUser } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";

const tag = "conversations";
const listOp = op({
  method: "get", path: "/api/v1/users/{uid}/conversations", tag,
  summary: "A user's conversations (friends and groups) with last message, unread count and mute state, most recently active first; pass `next` as `cursor`",
  params: uidPathSchema, query: conversationsQuerySchema,
  ok: { status: 200, description: "a page of conversations", schema: conversationPageSchema }, errors: ["unknown_user"]
});
const searchOp = op({
  method: "get", path: "/api/v1/users/{uid}/search", tag,
  summary: "Messages a user can see whose text contains `q`, newest first; pass `next` as `before`",
  params: uidPathSchema, query: searchQuerySchema,
  ok: { status: 200, description: "a page of messages", schema: searchPageSchema }, errors: ["unknown_user"]
});

const historyOp = op({
  method: "get", path: "/api/v1/users/{uid}/conversations/{peer}/messages", tag,
  summary: "A page of a user's direct chat with `peer`, oldest first (as the `dm_history` frame): `before` / `after` an inbox seq, or the newest page",
  params: uidPeerPathSchema, query: dmHistoryQuerySchema,
  ok: { status: 200, description: "a page of messages", schema: dmHistoryPageSchema }, errors: ["unknown_user"]
});

/** `/api/v1/users/{uid}/…`: what a user's own inbox knows of their conversations, for the app's backend. */
export const conversationRoutes = newApp()
  .get("/:uid/conversations", valid("param", listOp.params), valid("query", listOp.query), async (c) => {
    const { uid } = c.req.valid("param");
    const { cursor, limit } = c.req.valid("query");
    await requireUser(c.env, uid);
    return c.json(unwrap(await userStub(c.env, uid).conversations(cursor, limit)));
  })
  .get("/:uid/conversations/:peer/messages", valid("param", historyOp.params), valid("query", historyOp.query), async (c) => {
    const { uid, peer } = c.req.valid("param");
    await requireUser(c.env, uid);
    return c.json(unwrap(await userStub(c.env, uid).history(peer, c.req.valid("query"))));
  })
  .get("/:uid/search", valid("param", searchOp.params), valid("query", searchOp.query), async (c) => {
    const { uid } = c.req.valid("param");
    await requireUser(c.env, uid);
    return c.json(unwrap(await userStub(c.env, uid).search(c.req.valid("query"))));
  });
