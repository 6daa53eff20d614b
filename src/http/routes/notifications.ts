import { z } from "zod";
import {
  ProtocolError,
  pushSubscribeResultSchema,
  pushSubscriptionSchema,
  subscriptionListSchema,
  uidPathSchema,
  userIdSchema
} from "../../protocol";
import { userStub } from "../../rpc/stubs";
import { newApp } from "../app-env";
import { requireUsers } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";

const tag = "notifications";
const addOp = op({
  method: "post", path: "/api/v1/users/{uid}/push-subscriptions", tag,
  summary: "Register a device's push subscription for the user (Web Push or FCM), as the `push_subscribe` frame does",
  params: uidPathSchema, body: pushSubscriptionSchema,
  ok: { status: 201, description: "registered", schema: pushSubscribeResultSchema, also: { status: 200, description: "already registered: keys refreshed" } },
  errors: ["unknown_user"]
});
op({
  method: "get", path: "/api/v1/users/{uid}/push-subscriptions", tag, summary: "The user's push subscriptions (keys are never returned)",
  params: uidPathSchema, ok: { status: 200, description: "subscriptions", schema: subscriptionListSchema }, errors: ["unknown_user"]
});
const removeParams = z.object({ uid: userIdSchema, id: z.string().min(1).max(64) });
const removeOp = op({
  method: "delete", path: "/api/v1/users/{uid}/push-subscriptions/{id}", tag, summary: "Remove one push subscription",
  params: removeParams, ok: { status: 204, description: "removed" }, errors: ["not_found", "unknown_user"]
});

export const pushSubscriptions = newApp()
  .post("/:uid/push-subscriptions", valid("param", addOp.params), valid("json", addOp.body), async (c) => {
    const { uid } = c.req.valid("param");
    await requireUsers(c.env, [uid]);
    const r = await userStub(c.env, uid).pushSubscribe(c.req.valid("json"));
    return c.json(r, r.created ? 201 : 200);
  })
  .get("/:uid/push-subscriptions", valid("param", uidPathSchema), async (c) => {
    const { uid } = c.req.valid("param");
    await requireUsers(c.env, [uid]);
    return c.json({ subscriptions: await userStub(c.env, uid).pushSubscriptions() });
  })
  .delete("/:uid/push-subscriptions/:id", valid("param", removeOp.params), async (c) => {
    const { uid, id } = c.req.valid("param");
    await requireUsers(c.env, [uid]);
    if (!(await userStub(c.env, uid).pushUnsubscribe(id))) throw new ProtocolError("not_found", `no push subscription ${id}`);
    return c.body(null, 204);
  });
