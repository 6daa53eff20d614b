import { disconnectBodySchema, disconnectResultSchema, uidPathSchema, userOnlineSchema } from "../../protocol";
import { newApp } from "../app-env";
import { requireUser } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";
import { userStub } from "../../rpc/stubs";

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
  });
