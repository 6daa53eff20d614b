import { newDeviceId } from "../../lib/ids";
import { unwrap } from "../../lib/result";
import {
  addMemberBodySchema,
  countSchema,
  createGroupBodySchema,
  groupInfoSchema,
  groupMessagePathSchema,
  groupReadsSchema,
  groupPathSchema,
  historyPageSchema,
  historyQuerySchema,
  memberPathSchema,
  memberSchema,
  membersSchema,
  onlineMembersSchema,
  patchGroupBodySchema,
  patchMemberBodySchema,
  uidBodySchema
} from "../../protocol";
import { onlineMembers } from "../../realtime/group-clients";
import { groupStub } from "../../rpc/stubs";
import { z } from "zod";
import { newApp } from "../app-env";
import { op } from "../openapi";
import { valid } from "../validate";
import type { GroupCommand } from "../../rpc/calls";

/** Runs a command as the backend (actor null: owner authority, invariants still hold). */
async function asBackend(env: Env, gid: string, cmd: GroupCommand): Promise<unknown> {
  return unwrap(await groupStub(env, gid).command(null, cmd));
}

const tag = "groups";
const base = "/api/v1/groups";
const g = { params: groupPathSchema };
const m = { params: memberPathSchema };
const createOp = op({
  method: "post", path: base, tag, summary: "Create a group owned by `owner`",
  body: createGroupBodySchema, ok: { status: 201, description: "group info", schema: groupInfoSchema },
  errors: ["unknown_user", "conflict", "group_full"]
});
const infoOp = op({ method: "get", path: `${base}/{gid}`, tag, summary: "Group info", ...g, ok: { status: 200, description: "group info", schema: groupInfoSchema }, errors: ["unknown_group"] });
const dismissOp = op({
  method: "delete", path: `${base}/{gid}`, tag, gateway: "ungroup", summary: "Dismiss the group; every member is told",
  ...g, ok: { status: 200, description: "group info", schema: groupInfoSchema }, errors: ["unknown_group", "group_dismissed"]
});
const readsOp = op({
  method: "get", path: `${base}/{gid}/messages/{mid}/reads`, tag,
  summary: "Who of the members read a message and who has not (groups up to GROUP_READ_STATE_MAX members keep the marks)",
  params: groupMessagePathSchema, ok: { status: 200, description: "members who read it, and who did not", schema: groupReadsSchema },
  errors: ["unknown_group", "unknown_message", "bad_request"]
});
const settingsOp = op({
  method: "patch", path: `${base}/{gid}`, tag, summary: "Change the group's settings, one or both: `joinPolicy` `open` or `invite`; `announce` true for announcement mode (only the owner and admins post)",
  ...g, body: patchGroupBodySchema, ok: { status: 200, description: "group info", schema: groupInfoSchema },
  errors: ["unknown_group", "group_dismissed"]
});
const membersOp = op({ method: "get", path: `${base}/{gid}/members`, tag, summary: "Members and roles", ...g, ok: { status: 200, description: "members", schema: membersSchema }, errors: ["unknown_group"] });
const addOp = op({
  method: "post", path: `${base}/{gid}/members`, tag, gateway: "joinGroup", summary: "Add a member (no invite needed)",
  ...g, body: addMemberBodySchema, ok: { status: 201, description: "the member", schema: memberSchema },
  errors: ["unknown_group", "unknown_user", "already_member", "group_full", "group_dismissed"]
});
const removeOp = op({
  method: "delete", path: `${base}/{gid}/members/{uid}`, tag, gateway: "leaveGroup", summary: "Remove a member (members see `kicked`)",
  ...m, ok: { status: 204, description: "removed" }, errors: ["unknown_group", "not_member", "forbidden", "group_dismissed"]
});
const patchOp = op({
  method: "patch", path: `${base}/{gid}/members/{uid}`, tag, summary: "Change a member's role and/or mute them (together or not at all)",
  ...m, body: patchMemberBodySchema, ok: { status: 200, description: "the member", schema: memberSchema },
  errors: ["unknown_group", "not_member", "forbidden", "group_dismissed"]
});
const ownerOp = op({
  method: "post", path: `${base}/{gid}/owner`, tag, summary: "Transfer ownership (the old owner becomes an admin)",
  ...g, body: uidBodySchema, ok: { status: 200, description: "group info", schema: groupInfoSchema },
  errors: ["unknown_group", "not_member", "group_dismissed"]
});
const inviteOp = op({
  method: "post", path: `${base}/{gid}/invites`, tag, summary: "Invite a user (they may then join)",
  ...g, body: uidBodySchema, ok: { status: 201, description: "invited", schema: z.object({ invited: z.string() }) },
  errors: ["unknown_group", "unknown_user", "already_member", "group_dismissed"]
});
const historyOp = op({
  method: "get", path: `${base}/{gid}/messages`, tag, summary: "Page the group's history by gseq (`before` or `after`)",
  ...g, query: historyQuerySchema, ok: { status: 200, description: "history page", schema: historyPageSchema }, errors: ["unknown_group"]
});
const onlineOp = op({
  method: "get", path: `${base}/{gid}/online`, tag: "presence", gateway: "getUidListByGroup", summary: "Members online now",
  ...g, ok: { status: 200, description: "online member ids", schema: onlineMembersSchema }, errors: ["unknown_group"]
});
const onlineCountOp = op({
  method: "get", path: `${base}/{gid}/online/count`, tag: "presence", gateway: "getUidCountByGroup",
  summary: "How many members are online now", ...g, ok: { status: 200, description: "count", schema: countSchema },
  errors: ["unknown_group"]
});

/** `/api/v1/groups`: the backend's view of groups; every change is a system event for members. */
export const groupRoutes = newApp()
  .post("/", valid("json", createOp.body), async (c) => {
    const b = c.req.valid("json");
    const gid = b.id ?? `g_${newDeviceId()}`;
    const info = unwrap(
      await groupStub(c.env, gid).create(b.owner, { name: b.name, members: b.members, joinPolicy: b.joinPolicy })
    );
    return c.json(info, 201);
  })
  .get("/:gid", valid("param", infoOp.params), async (c) => c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "info" })))
  .delete("/:gid", valid("param", dismissOp.params), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "dismiss" }))
  )
  .patch("/:gid", valid("param", settingsOp.params), valid("json", settingsOp.body), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "settings", ...c.req.valid("json") }))
  )
  .get("/:gid/members", valid("param", membersOp.params), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "members" }))
  )
  .post("/:gid/members", valid("param", addOp.params), valid("json", addOp.body), async (c) => {
    const { uid, role } = c.req.valid("json");
    return c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "add", uid, role }), 201);
  })
  .delete("/:gid/members/:uid", valid("param", removeOp.params), async (c) => {
    const { gid, uid } = c.req.valid("param");
    await asBackend(c.env, gid, { op: "kick", uid });
    return c.body(null, 204);
  })
  .patch("/:gid/members/:uid", valid("param", patchOp.params), valid("json", patchOp.body), async (c) => {
    const { gid, uid } = c.req.valid("param");
    const { role, muteSeconds } = c.req.valid("json");
    return c.json(await asBackend(c.env, gid, { op: "update", uid, role, seconds: muteSeconds }));
  })
  .post("/:gid/owner", valid("param", ownerOp.params), valid("json", ownerOp.body), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "transfer", uid: c.req.valid("json").uid }))
  )
  .post("/:gid/invites", valid("param", inviteOp.params), valid("json", inviteOp.body), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "invite", uid: c.req.valid("json").uid }), 201)
  )
  .get("/:gid/messages", valid("param", historyOp.params), valid("query", historyOp.query), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "history", ...c.req.valid("query") }))
  )
  .get("/:gid/messages/:mid/reads", valid("param", readsOp.params), async (c) => {
    const { gid, mid } = c.req.valid("param");
    return c.json(unwrap(await groupStub(c.env, gid).reads(null, mid)));
  })
  .get("/:gid/online", valid("param", onlineOp.params), async (c) =>
    c.json({ uids: await onlineMembers(c.env, c.req.valid("param").gid) })
  )
  .get("/:gid/online/count", valid("param", onlineCountOp.params), async (c) =>
    c.json({ count: (await onlineMembers(c.env, c.req.valid("param").gid)).length })
  );
