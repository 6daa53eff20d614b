import { newDeviceId } from "../../lib/ids";
import { unwrap } from "../../lib/result";
import {
  addMemberBodySchema,
  createGroupBodySchema,
  groupPathSchema,
  historyQuerySchema,
  memberPathSchema,
  patchMemberBodySchema,
  uidBodySchema
} from "../../protocol";
import type { GroupCommand } from "../../realtime/group-commands";
import { groupStub } from "../../realtime/stubs";
import { newApp } from "../app-env";
import { valid } from "../validate";

/** Runs a command as the backend (actor null: owner authority, invariants still hold). */
async function asBackend(env: Env, gid: string, cmd: GroupCommand): Promise<unknown> {
  return unwrap(await groupStub(env, gid).command(null, cmd));
}

/** `/api/v1/groups`: the backend's view of groups; every change is a system event for members. */
export const groupRoutes = newApp()
  .post("/", valid("json", createGroupBodySchema), async (c) => {
    const b = c.req.valid("json");
    const gid = b.id ?? `g_${newDeviceId()}`;
    const info = unwrap(
      await groupStub(c.env, gid).create(b.owner, { name: b.name, members: b.members, joinPolicy: b.joinPolicy })
    );
    return c.json(info, 201);
  })
  .get("/:gid", valid("param", groupPathSchema), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "info" }))
  )
  .delete("/:gid", valid("param", groupPathSchema), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "dismiss" }))
  )
  .get("/:gid/members", valid("param", groupPathSchema), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "members" }))
  )
  .post("/:gid/members", valid("param", groupPathSchema), valid("json", addMemberBodySchema), async (c) => {
    const { uid, role } = c.req.valid("json");
    return c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "add", uid, role }), 201);
  })
  .delete("/:gid/members/:uid", valid("param", memberPathSchema), async (c) => {
    const { gid, uid } = c.req.valid("param");
    await asBackend(c.env, gid, { op: "kick", uid });
    return c.body(null, 204);
  })
  .patch("/:gid/members/:uid", valid("param", memberPathSchema), valid("json", patchMemberBodySchema), async (c) => {
    const { gid, uid } = c.req.valid("param");
    const { role, muteSeconds } = c.req.valid("json");
    return c.json(await asBackend(c.env, gid, { op: "update", uid, role, seconds: muteSeconds }));
  })
  .post("/:gid/owner", valid("param", groupPathSchema), valid("json", uidBodySchema), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "transfer", uid: c.req.valid("json").uid }))
  )
  .post("/:gid/invites", valid("param", groupPathSchema), valid("json", uidBodySchema), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "invite", uid: c.req.valid("json").uid }), 201)
  )
  .get("/:gid/messages", valid("param", groupPathSchema), valid("query", historyQuerySchema), async (c) =>
    c.json(await asBackend(c.env, c.req.valid("param").gid, { op: "history", ...c.req.valid("query") }))
  );
