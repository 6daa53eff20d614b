import { createDb } from "../../db/client";
import { listFriendIds } from "../../db/friendships";
import { deleteUser, groupsOf, insertUser, updateUser } from "../../db/users";
import { mapLimit } from "../../lib/concurrency";
import { unwrap } from "../../lib/result";
import {
  createUserBodySchema,
  friendListSchema,
  ProtocolError,
  uidPathSchema,
  updateUserBodySchema,
  type User,
  userGroupsSchema,
  userSchema
} from "../../protocol";
import { groupStub, userStub } from "../../rpc/stubs";
import { newApp } from "../app-env";
import { requireUser } from "../lookups";
import { op } from "../openapi";
import { valid } from "../validate";

const tag = "users";
const createOp = op({
  method: "post", path: "/api/v1/users", tag, summary: "Create a user",
  body: createUserBodySchema, ok: { status: 201, description: "the user", schema: userSchema }, errors: ["conflict"]
});
const getOp = op({
  method: "get", path: "/api/v1/users/{uid}", tag, summary: "Get a user",
  params: uidPathSchema, ok: { status: 200, description: "the user", schema: userSchema }, errors: ["unknown_user"]
});
const updateOp = op({
  method: "patch", path: "/api/v1/users/{uid}", tag, summary: "Rename a user",
  params: uidPathSchema, body: updateUserBodySchema, ok: { status: 200, description: "the user", schema: userSchema },
  errors: ["unknown_user"]
});
const deleteOp = op({
  method: "delete", path: "/api/v1/users/{uid}", tag,
  summary: "Delete a user: leaves their groups, ends friendships, requests and blocks, closes their sockets (4502) and erases their inbox. Refused while they own a group.",
  params: uidPathSchema, ok: { status: 204, description: "deleted" }, errors: ["unknown_user", "conflict"]
});
const friendsOp = op({
  method: "get", path: "/api/v1/users/{uid}/friends", tag, summary: "A user's friends",
  params: uidPathSchema, ok: { status: 200, description: "friend ids", schema: friendListSchema }, errors: ["unknown_user"]
});
const groupsOp = op({
  method: "get", path: "/api/v1/users/{uid}/groups", tag, summary: "The live groups a user belongs to, with their role",
  params: uidPathSchema, ok: { status: 200, description: "groups", schema: userGroupsSchema }, errors: ["unknown_user"]
});

const view = (r: { id: string; name: string | null; createdAt: number }): User => ({ id: r.id, name: r.name, createdAt: r.createdAt });

async function leaveGroups(env: Env, uid: string, memberships: { id: string }[]): Promise<void> {
  for (const g of memberships) {
    const r = await groupStub(env, g.id).command(null, { op: "kick", uid });
    if (!r.ok && r.error.code !== "not_member" && r.error.code !== "group_dismissed") unwrap(r);
  }
}

/** `/api/v1/users`: accounts and their relations. */
export const users = newApp()
  .post("/", valid("json", createOp.body), async (c) => {
    const { id, name } = c.req.valid("json");
    const row = await insertUser(createDb(c.env.DB), id, name);
    if (!row) throw new ProtocolError("conflict", `user ${id} already exists`);
    return c.json(view(row), 201);
  })
  .get("/:uid", valid("param", getOp.params), async (c) => c.json(view(await requireUser(c.env, c.req.valid("param").uid))))
  .patch("/:uid", valid("param", updateOp.params), valid("json", updateOp.body), async (c) => {
    const row = await updateUser(createDb(c.env.DB), c.req.valid("param").uid, c.req.valid("json").name);
    if (!row) throw new ProtocolError("unknown_user", `no user ${c.req.valid("param").uid}`);
    return c.json(view(row));
  })
  .delete("/:uid", valid("param", deleteOp.params), async (c) => {
    const { uid } = c.req.valid("param");
    const db = createDb(c.env.DB);
    await requireUser(c.env, uid);
    const memberships = await groupsOf(db, uid);
    const owned = memberships.filter((g) => g.role === "owner").map((g) => g.id);
    if (owned.length > 0) {
      throw new ProtocolError("conflict", `${uid} owns ${owned.join(", ")}: transfer or dismiss first`, { groups: owned.join(",") });
    }
    // Every step can be repeated: a failed DELETE is retried until the D1 row is gone, and that comes last but one.
    await userStub(c.env, uid).purge();
    await leaveGroups(c.env, uid, memberships);
    const friends = await listFriendIds(db, uid);
    await deleteUser(db, uid);
    await mapLimit(friends, 16, (f) => userStub(c.env, f).invalidateFriends(uid));
    // The D1 index can lag a join by a moment: look once more.
    await leaveGroups(c.env, uid, await groupsOf(db, uid));
    return c.body(null, 204);
  })
  .get("/:uid/friends", valid("param", friendsOp.params), async (c) => {
    const { uid } = c.req.valid("param");
    await requireUser(c.env, uid);
    return c.json({ friends: (await listFriendIds(createDb(c.env.DB), uid)).sort() });
  })
  .get("/:uid/groups", valid("param", groupsOp.params), async (c) => {
    const { uid } = c.req.valid("param");
    await requireUser(c.env, uid);
    return c.json({ groups: await groupsOf(createDb(c.env.DB), uid) });
  });
