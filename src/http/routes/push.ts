import { limitsOf } from "../../lib/config";
import {
  groupPathSchema,
  pushAllBodySchema,
  pushAllResultSchema,
  pushGroupBodySchema,
  pushGroupResultSchema,
  pushUsersBodySchema,
  pushUsersResultSchema
} from "../../protocol";
import { pushToAll, pushToGroup, pushToUsers } from "../../realtime/push";
import { newApp } from "../app-env";
import { idempotent } from "../idempotency";
import { assertFits, spendPush } from "../push-limits";
import { requireUsers } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";

const tag = "push";
const usersOp = op({
  method: "post", path: "/api/v1/push/users", tag, gateway: "sendToUid", idempotent: true,
  summary: "Store a push in each user's inbox (offline users get it on sync) and push it to their devices",
  body: pushUsersBodySchema, ok: { status: 200, description: "per user: inbox seq and devices reached live", schema: pushUsersResultSchema },
  errors: ["unknown_user", "conflict"]
});
const groupOp = op({
  method: "post", path: "/api/v1/push/groups/{gid}", tag, gateway: "sendToGroup", idempotent: true,
  summary: "Store a push in the group's history and deliver it to members, except users or devices (durably, in the background)",
  params: groupPathSchema, body: pushGroupBodySchema,
  ok: { status: 200, description: "queued for the members", schema: pushGroupResultSchema },
  errors: ["unknown_group", "group_dismissed", "conflict"]
});
const allOp = op({
  method: "post", path: "/api/v1/push/all", tag, gateway: "sendToAll", idempotent: true,
  summary: "Push to every user online now: each registry shard stores and pushes to its own online users",
  body: pushAllBodySchema, ok: { status: 200, description: "queued for the online users", schema: pushAllResultSchema },
  errors: ["conflict"]
});

export const push = newApp()
  .post("/users", valid("json", usersOp.body), async (c) => {
    const b = c.req.valid("json");
    assertFits(c.env, b.body);
    const uids = [...new Set(b.uids)];
    await requireUsers(c.env, uids);
    return idempotent(c, b, async (pushId) => {
      await spendPush(c, uids.map((uid) => `u:${uid}`));
      return { status: 200, body: await pushToUsers(c.env, pushId, uids, b) };
    });
  })
  .post("/groups/:gid", valid("param", groupOp.params), valid("json", groupOp.body), async (c) => {
    const { gid } = c.req.valid("param");
    const b = c.req.valid("json");
    assertFits(c.env, b.body);
    return idempotent(c, { gid, ...b }, async (pushId) => {
      await spendPush(c, [`g:${gid}`]);
      return { status: 200, body: await pushToGroup(c.env, gid, pushId, b, { uids: b.exceptUids, devices: b.exceptDevices }) };
    });
  })
  .post("/all", valid("json", allOp.body), async (c) => {
    const b = c.req.valid("json");
    assertFits(c.env, b.body);
    return idempotent(c, b, async (pushId) => {
      await spendPush(c, ["all"]);
      return { status: 200, body: await pushToAll(c.env, pushId, b, limitsOf(c.env).presenceShards) };
    });
  });
