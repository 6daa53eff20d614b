import { lastSeenSchema, banBodySchema, banResultSchema, disconnectBodySchema, disconnectResultSchema, revokeBodySchema, uidPathSchema, unbanResultSchema, userOnlineSchema } from "../../protocol";
import { newApp } from "../app-env";
import { requireUser } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";
import { userStub } from "../../rpc/stubs";
import { lastSeenAmong } from "../../realtime/presence";
import { limitsOf } from "../../lib/config";

const tag = "presence";
const onlineOp = op({
  method: "get", path: "/api/v1/users/{uid}/online", tag, gateway: "isUidOnline",
  summary: "Whether a user is online now, asked of their own object (exact, not the registry)",
  params: uidPathSchema, ok: { status: 200, description: "online state and devices", schema: userOnlineSchema },
  errors: ["unknown_user"]
});
const devicesOp = op({
  method: "get", path: "/api/v1/users/{uid}/devices", tag, gateway: "getClientIdByUid",
  summary: "A user's connected devices",
  params: uidPathSchema, ok: { status: 200, description: "online state and devices", schema: userOnlineSchema },
  errors: ["unknown_user"]
});
const disconnectOp = op({
  method: "post", path: "/api/v1/users/{uid}/disconnect", tag, gateway: "closeClient",
  summary: "Disconnect one device of a user, or all of them (close code 4501 with the reason)",
  params: uidPathSchema, body: disconnectBodySchema,
  ok: { status: 200, description: "how many sockets were closed", schema: disconnectResultSchema }, errors: ["unknown_user"]
});

const banOp = op({
  method: "post", path: "/api/v1/users/{uid}/ban", tag,
  summary: "Ban a user: their sockets close at once (4503) and no token of theirs opens one (403 banned) until unbanned; tokens issued before the ban stay revoked after it",
  params: uidPathSchema, body: banBodySchema,
  ok: { status: 200, description: "banned, and how many sockets were closed", schema: banResultSchema }, errors: ["unknown_user"]
});
const unbanOp = op({
  method: "delete", path: "/api/v1/users/{uid}/ban", tag,
  summary: "Lift a user's ban (they need new tokens)",
  params: uidPathSchema, ok: { status: 200, description: "whether a ban was lifted", schema: unbanResultSchema }, errors: ["unknown_user"]
});
const revokeOp = op({
  method: "post", path: "/api/v1/users/{uid}/tokens/revoke", tag,
  summary: "Revoke one token of a user by its `jti`, or all their tokens issued so far; the sockets they opened close at once (4003)",
  params: uidPathSchema, body: revokeBodySchema,
  ok: { status: 200, description: "how many sockets were closed", schema: disconnectResultSchema }, errors: ["unknown_user"]
});

const lastSeenOp = op({
  method: "get", path: "/api/v1/users/{uid}/last-seen", tag,
  summary: "Whether a user is online, and when their last device left (null: never seen, or they hide it)",
  params: uidPathSchema, ok: { status: 200, description: "presence and last seen", schema: lastSeenSchema }, errors: ["unknown_user"]
});

async function status(env: Env, uid: string) {
  await requireUser(env, uid);
  return userStub(env, uid).status();
}

/** `/api/v1/users/{uid}/…`: live connections of one user. */
export const sessions = newApp()
  .get("/:uid/online", valid("param", onlineOp.params), async (c) => c.json(await status(c.env, c.req.valid("param").uid)))
  .get("/:uid/devices", valid("param", devicesOp.params), async (c) => c.json(await status(c.env, c.req.valid("param").uid)))
  .post("/:uid/disconnect", valid("param", disconnectOp.params), valid("json", disconnectOp.body), async (c) => {
    const { uid } = c.req.valid("param");
    const { device, reason } = c.req.valid("json");
    await requireUser(c.env, uid);
    return c.json({ closed: await userStub(c.env, uid).disconnect(device, reason) });
  })
  .get("/:uid/last-seen", valid("param", lastSeenOp.params), async (c) => {
    const { uid } = c.req.valid("param");
    await requireUser(c.env, uid);
    const [seen] = await lastSeenAmong(c.env, [uid], limitsOf(c.env).presenceShards);
    return c.json(seen!);
  })
  .post("/:uid/ban", valid("param", banOp.params), valid("json", banOp.body), async (c) => {
    const { uid } = c.req.valid("param");
    await requireUser(c.env, uid);
    return c.json({ banned: true as const, closed: await userStub(c.env, uid).ban(c.req.valid("json").reason) });
  })
  .delete("/:uid/ban", valid("param", unbanOp.params), async (c) => {
    const { uid } = c.req.valid("param");
    await requireUser(c.env, uid);
    return c.json({ lifted: await userStub(c.env, uid).unban() });
  })
  .post("/:uid/tokens/revoke", valid("param", revokeOp.params), valid("json", revokeOp.body), async (c) => {
    const { uid } = c.req.valid("param");
    const { jti, exp } = c.req.valid("json");
    await requireUser(c.env, uid);
    return c.json({ closed: await userStub(c.env, uid).revokeTokens(jti, exp) });
  });
