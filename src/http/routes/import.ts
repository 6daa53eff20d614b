import { createDb } from "../../db/client";
import { existingAmong, importFriendships, importUsers } from "../../db/seed-import";
import { mapLimit } from "../../lib/concurrency";
import { limitsOf } from "../../lib/config";
import { type GroupInfo, type SeedImportResult, seedImportBodySchema, seedImportResultSchema } from "../../protocol";
import { groupStub, userStub } from "../../rpc/stubs";
import { newApp } from "../app-env";
import { op } from "../openapi";
import { valid } from "../validate";

const seedOp = op({
  method: "post", path: "/api/v1/import/seed", tag: "import",
  summary: "Import rows of the seed's MySQL tables (users, `oh_ai_friend`, `oh_ai_group`, `oh_ai_groupfriend`); safe to repeat",
  body: seedImportBodySchema,
  ok: { status: 200, description: "what was created, what existed, what was skipped and why", schema: seedImportResultSchema }
});

type Skip = SeedImportResult["skipped"][number];

/**
 * `POST /api/v1/import/seed`: moves a GatewayWorker deployment's data over,
 * a page of rows at a time. Users first, then friendships (a row makes the
 * pair friends both ways, or with `friendshipImport` `as-is` only as the
 * seed stored it: the row's uid lists its frienduid), then groups (invite-only
 * unless `groupJoinPolicy` says `open`) and their members, through each group's
 * object so its state and D1 agree. Rows naming users or groups that do not
 * exist are skipped and reported, never half-applied.
 */
export const importRoutes = newApp().post("/seed", valid("json", seedOp.body), async (c) => {
  const b = c.req.valid("json");
  const db = createDb(c.env.DB);
  const skipped: Skip[] = [];
  const out: SeedImportResult = {
    users: { created: 0, existing: 0 },
    friendships: { created: 0, existing: 0 },
    groups: { created: 0, existing: 0 },
    members: { created: 0, existing: 0 },
    skipped
  };

  const userRows = [...new Map(b.users.map((u) => [u.id, u])).values()];
  const created = await importUsers(db, userRows);
  out.users.created = created.size;
  out.users.existing = userRows.length - out.users.created;

  const exists = await existingAmong(db, [
    ...b.oh_ai_friend.flatMap((r) => [r.uid, r.frienduid]),
    ...b.oh_ai_groupfriend.map((r) => r.uid),
    ...b.oh_ai_group.flatMap((r) => (r.owner ? [r.owner] : []))
  ]);
  const missing = (ids: string[]) => ids.find((id) => !exists.has(id));

  // `both`: one pair per two users, whichever rows name it; `as-is`: one per directed row.
  const mode = b.friendshipImport ?? limitsOf(c.env).friendshipImport;
  const pairs = new Map<string, [string, string]>();
  b.oh_ai_friend.forEach((r, row) => {
    const absent = missing([r.uid, r.frienduid]);
    if (absent !== undefined) skipped.push({ table: "oh_ai_friend", row, reason: `no user ${absent}` });
    else if (r.uid === r.frienduid) skipped.push({ table: "oh_ai_friend", row, reason: "a user cannot befriend themselves" });
    else pairs.set((mode === "both" ? [r.uid, r.frienduid].sort() : [r.uid, r.frienduid]).join("\n"), [r.uid, r.frienduid]);
  });
  out.friendships.created = await importFriendships(db, [...pairs.values()], mode);
  out.friendships.existing = pairs.size - out.friendships.created;
  // Users who existed before this page may keep a friend list in their object
  // (both ends of a row: who lists whom is cached on each side): it is stale now.
  const stale = new Set([...pairs.values()].flat().filter((uid) => !created.has(uid)));
  await mapLimit([...stale], 16, (uid) => userStub(c.env, uid).invalidateFriends());

  const membersOf = new Map<string, { uid: string; row: number }[]>();
  b.oh_ai_groupfriend.forEach((r, row) => {
    if (!exists.has(r.uid)) return void skipped.push({ table: "oh_ai_groupfriend", row, reason: `no user ${r.uid}` });
    const list = membersOf.get(r.friendguid) ?? [];
    if (!list.some((m) => m.uid === r.uid)) list.push({ uid: r.uid, row });
    membersOf.set(r.friendguid, list);
  });
  const groupRows = new Map(b.oh_ai_group.map((g, row) => [g.guid, { ...g, row }]));

  for (const gid of new Set([...groupRows.keys(), ...membersOf.keys()])) {
    const g = groupRows.get(gid);
    const pending = membersOf.get(gid) ?? [];
    if (g) {
      const owner = g.owner ?? pending[0]?.uid;
      if (owner === undefined || !exists.has(owner)) {
        skipped.push({ table: "oh_ai_group", row: g.row, reason: owner === undefined ? "no owner and no members" : `no user ${owner}` });
        continue;
      }
      const created = await groupStub(c.env, gid).create(owner, {
        name: g.name ?? gid,
        members: pending.map((m) => m.uid),
        joinPolicy: b.groupJoinPolicy,
        imported: true
      });
      if (created.ok) {
        out.groups.created++;
        out.members.created += pending.length;
        continue;
      }
      if (created.error.code !== "conflict") {
        skipped.push({ table: "oh_ai_group", row: g.row, reason: created.error.message });
        continue;
      }
    }
    // A group someone made under this id (e.g. with `create_group` before the
    // import reached it) is not the seed's: never hand it the seed's members.
    const info = await groupStub(c.env, gid).command(null, { op: "info" });
    if (!info.ok || (info.value as GroupInfo).settings.imported !== true) {
      const reason = info.ok ? `group ${gid} exists but was not imported` : info.error.message;
      if (g) skipped.push({ table: "oh_ai_group", row: g.row, reason });
      for (const m of pending) skipped.push({ table: "oh_ai_groupfriend", row: m.row, reason });
      continue;
    }
    if (g) out.groups.existing++;
    for (const m of pending) {
      const added = await groupStub(c.env, gid).command(null, { op: "add", uid: m.uid });
      if (added.ok) out.members.created++;
      else if (added.error.code === "already_member") out.members.existing++;
      else skipped.push({ table: "oh_ai_groupfriend", row: m.row, reason: added.error.message });
    }
  }
  return c.json(out);
});
