import { z } from "zod";
import { createDb } from "../../db/client";
import { areFriends } from "../../db/friendships";
import { blockedBetween, decideRequest, getRequest, insertRequest, pendingRequestBetween, pendingRequestsOf } from "../../db/social";
import { newEventId } from "../../lib/ids";
import {
  type FriendRequest,
  friendRequestBodySchema,
  friendRequestListQuerySchema,
  friendRequestSchema,
  ProtocolError,
  uidPathSchema
} from "../../protocol";
import type { FriendRequestRow } from "../../db/schema";
import { newApp } from "../app-env";
import { requireUser, requireUsers } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";
import { invalidate } from "./friendships";
import { userStub } from "../../rpc/stubs";

const tag = "friends";
const idPath = z.object({ id: z.string().min(1).max(64) });
const createOp = op({
  method: "post", path: "/api/v1/friend-requests", tag,
  summary: "Ask `to` to be friends; `to`'s devices get a `friend_request` event. Repeating it answers 200 with the same request",
  body: friendRequestBodySchema,
  ok: { status: 201, description: "the pending request", schema: friendRequestSchema, also: { status: 200, description: "the same request, already pending" } },
  errors: ["unknown_user", "conflict", "blocked"]
});
const acceptOp = op({
  method: "post", path: "/api/v1/friend-requests/{id}/accept", tag,
  summary: "Accept: they become friends; both sides' devices get `friend_response` {accepted: true}. Repeating it is harmless",
  params: idPath, ok: { status: 200, description: "the request", schema: friendRequestSchema }, errors: ["not_found", "conflict", "blocked"]
});
const rejectOp = op({
  method: "post", path: "/api/v1/friend-requests/{id}/reject", tag,
  summary: "Reject: both sides' devices get `friend_response` {accepted: false}",
  params: idPath, ok: { status: 200, description: "the request", schema: friendRequestSchema }, errors: ["not_found", "conflict"]
});
const listOp = op({
  method: "get", path: "/api/v1/users/{uid}/friend-requests", tag, summary: "A user's pending requests, incoming or outgoing",
  params: uidPathSchema, query: friendRequestListQuerySchema,
  ok: { status: 200, description: "pending requests", schema: z.object({ requests: z.array(friendRequestSchema) }) },
  errors: ["unknown_user"]
});

const view = (r: FriendRequestRow): FriendRequest => ({
  id: r.id, from: r.fromId, to: r.toId, message: r.message, status: r.status, createdAt: r.createdAt, decidedAt: r.decidedAt
});

/** Both users' inboxes get the answer, so every device of each learns it. */
async function announceAnswer(env: Env, r: FriendRequestRow, accepted: boolean): Promise<void> {
  const ts = Date.now();
  const event = { type: "friend_response" as const, eid: `fr_${r.id}`, rid: r.id, from: r.toId, to: r.fromId, accepted, ts };
  await Promise.all([r.fromId, r.toId].map((uid) => userStub(env, uid).deliver([event])));
}

/**
 * Accepts or rejects. Repeating the same answer redoes the cache update and
 * the announcement (recipients dedupe it) and answers 200, so a retry after a
 * failure half-way completes the job; the other answer is a conflict.
 */
async function decide(env: Env, id: string, accepted: boolean): Promise<FriendRequest> {
  const db = createDb(env.DB);
  const r = await getRequest(db, id);
  if (!r) throw new ProtocolError("not_found", `no friend request ${id}`);
  const wanted = accepted ? "accepted" : "rejected";
  let decided: FriendRequestRow | undefined = r.status === wanted ? r : undefined;
  if (!decided) {
    if (r.status !== "pending") throw new ProtocolError("conflict", `request ${id} was already ${r.status}`);
    if (accepted && (await blockedBetween(db, r.fromId, r.toId))) {
      throw new ProtocolError("blocked", `${r.fromId} and ${r.toId} have a block between them`);
    }
    decided = await decideRequest(db, r, wanted, Date.now());
    if (!decided) throw new ProtocolError("conflict", `request ${id} is no longer pending`);
  }
  if (accepted) await invalidate(env, r.fromId, r.toId, false);
  await announceAnswer(env, decided, accepted);
  return view(decided);
}

export const friendRequests = newApp()
  .post("/", valid("json", createOp.body), async (c) => {
    const { from, to, message } = c.req.valid("json");
    const db = createDb(c.env.DB);
    await requireUsers(c.env, [from, to]);
    if (await blockedBetween(db, from, to)) throw new ProtocolError("blocked", `${from} and ${to} have a block between them`);
    if (await areFriends(db, from, to)) throw new ProtocolError("conflict", `${from} and ${to} are already friends`);
    const now = Date.now();
    const inserted = await insertRequest(db, {
      id: newEventId(now), fromId: from, toId: to, message: message ?? null, status: "pending", createdAt: now, decidedAt: null
    });
    // The same request again (a retry) is announced again, deduped by its event id, and answered 200.
    const row = inserted ?? (await pendingRequestBetween(db, from, to));
    if (!row || row.fromId !== from) {
      throw new ProtocolError("conflict", `${to} has already asked ${from}: answer that request`);
    }
    await userStub(c.env, to).deliver([
      { type: "friend_request", eid: `fq_${row.id}`, rid: row.id, from, to, ...(row.message ? { message: row.message } : {}), ts: row.createdAt }
    ]);
    return c.json(view(row), inserted ? 201 : 200);
  })
  .post("/:id/accept", valid("param", acceptOp.params), async (c) => c.json(await decide(c.env, c.req.valid("param").id, true)))
  .post("/:id/reject", valid("param", rejectOp.params), async (c) => c.json(await decide(c.env, c.req.valid("param").id, false)));

/** `/api/v1/users/{uid}/friend-requests`. */
export const userFriendRequests = newApp().get(
  "/:uid/friend-requests",
  valid("param", listOp.params),
  valid("query", listOp.query),
  async (c) => {
    const { uid } = c.req.valid("param");
    await requireUser(c.env, uid);
    const rows = await pendingRequestsOf(createDb(c.env.DB), uid, c.req.valid("query").direction);
    return c.json({ requests: rows.map(view) });
  }
);
