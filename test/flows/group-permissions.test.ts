import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { GroupInfo, Member, ReplyFrame } from "../../src/protocol";
import type { ImClient } from "../helpers/client";
import { api, connect, createUser, uniqueId } from "../helpers/fixtures";
import { befriendAll, connectedUsers, groupText, makeGroup } from "../helpers/groups";

type Role = "owner" | "admin" | "member" | "outsider";
const ROLES: Role[] = ["owner", "admin", "member", "outsider"];

/**
 * One cast reused by every case: owner O, admins A and A2, members M and T
 * (the usual target), outsiders X and Y. Each case gets a fresh group.
 */
const cast: Record<"O" | "A" | "A2" | "M" | "T" | "X" | "Y", { uid: string; c: ImClient }> = {} as never;
const actorOf: Record<Role, keyof typeof cast> = { owner: "O", admin: "A", member: "M", outsider: "X" };

beforeAll(async () => {
  for (const k of ["O", "A", "A2", "M", "T", "X", "Y"] as const) {
    const uid = await createUser();
    cast[k] = { uid, c: await connect(uid) };
  }
});

async function freshGroup(): Promise<string> {
  await befriendAll(cast.O.uid, [cast.A.uid, cast.A2.uid, cast.M.uid, cast.T.uid]);
  const g = await cast.O.c.ok<GroupInfo>({
    type: "group_create",
    gid: uniqueId("g"),
    name: "matrix",
    members: [cast.A.uid, cast.A2.uid, cast.M.uid, cast.T.uid]
  });
  for (const admin of [cast.A.uid, cast.A2.uid]) {
    const res = await api("PATCH", `/api/v1/groups/${g.id}/members/${admin}`, { role: "admin" });
    expect(res.status).toBe(200);
  }
  return g.id;
}

/** Members, head, invites and the D1 mirror: proof that a refusal changed nothing. */
async function snapshot(gid: string) {
  const info = await (await api("GET", `/api/v1/groups/${gid}`)).json<GroupInfo>();
  const { members } = await (await api("GET", `/api/v1/groups/${gid}/members`)).json<{ members: Member[] }>();
  const invites = await runInDurableObject(env.GROUPS.getByName(gid), (_o, s) =>
    s.storage.sql.exec<{ uid: string }>("SELECT uid FROM invites ORDER BY uid").toArray().map((r) => r.uid)
  );
  const d1 = await env.DB.prepare("SELECT user_id, role, muted_until FROM group_members WHERE group_id = ? ORDER BY user_id")
    .bind(gid)
    .all();
  return {
    head: info.head,
    owner: info.owner,
    dismissed: info.dismissedAt,
    members: members.map((m) => `${m.uid}:${m.role}:${m.mutedUntil ?? "-"}`),
    invites,
    d1: d1.results
  };
}

type Frame = (gid: string) => Record<string, unknown>;
const OK = "ok";

/** Operation → frame → expected outcome for owner, admin, member, outsider. */
const MATRIX: [string, Frame, Record<Role, string>][] = [
  ["post", (gid) => groupText(gid, "hi"), { owner: OK, admin: OK, member: OK, outsider: "not_member" }],
  ["info", (gid) => ({ type: "group_info", gid }), { owner: OK, admin: OK, member: OK, outsider: "not_member" }],
  ["list members", (gid) => ({ type: "group_members", gid }), { owner: OK, admin: OK, member: OK, outsider: "not_member" }],
  ["history", (gid) => ({ type: "group_history", gid }), { owner: OK, admin: OK, member: OK, outsider: "not_member" }],
  ["invite", (gid) => ({ type: "group_invite", gid, uid: cast.Y.uid }), { owner: OK, admin: OK, member: "forbidden", outsider: "not_member" }],
  ["kick a member", (gid) => ({ type: "group_kick", gid, uid: cast.T.uid }), { owner: OK, admin: OK, member: "forbidden", outsider: "not_member" }],
  ["kick an admin", (gid) => ({ type: "group_kick", gid, uid: cast.A2.uid }), { owner: OK, admin: "forbidden", member: "forbidden", outsider: "not_member" }],
  ["kick the owner", (gid) => ({ type: "group_kick", gid, uid: cast.O.uid }), { owner: "bad_request", admin: "forbidden", member: "forbidden", outsider: "not_member" }],
  ["promote to admin", (gid) => ({ type: "group_role", gid, uid: cast.T.uid, role: "admin" }), { owner: OK, admin: "forbidden", member: "forbidden", outsider: "not_member" }],
  ["transfer ownership", (gid) => ({ type: "group_transfer", gid, uid: cast.T.uid }), { owner: OK, admin: "forbidden", member: "forbidden", outsider: "not_member" }],
  ["mute a member", (gid) => ({ type: "group_mute", gid, uid: cast.T.uid, seconds: 60 }), { owner: OK, admin: OK, member: "forbidden", outsider: "not_member" }],
  ["mute an admin", (gid) => ({ type: "group_mute", gid, uid: cast.A2.uid, seconds: 60 }), { owner: OK, admin: "forbidden", member: "forbidden", outsider: "not_member" }],
  ["demote an admin", (gid) => ({ type: "group_role", gid, uid: cast.A2.uid, role: "member" }), { owner: OK, admin: "forbidden", member: "forbidden", outsider: "not_member" }],
  ["unmute a member", (gid) => ({ type: "group_mute", gid, uid: cast.T.uid, seconds: 0 }), { owner: OK, admin: OK, member: "forbidden", outsider: "not_member" }],
  ["dismiss", (gid) => ({ type: "group_dismiss", gid }), { owner: OK, admin: "forbidden", member: "forbidden", outsider: "not_member" }],
  ["leave", (gid) => ({ type: "group_leave", gid }), { owner: "owner_must_transfer", admin: OK, member: OK, outsider: "not_member" }],
  ["join an invite-only group", (gid) => ({ type: "group_join", gid }), { owner: "already_member", admin: "already_member", member: "already_member", outsider: "forbidden" }]
];

describe("group permission matrix", () => {
  for (const [op, frame, expected] of MATRIX) {
    for (const role of ROLES) {
      const want = expected[role];
      it(`${role} × ${op} → ${want}`, async () => {
        const gid = await freshGroup();
        const actor = cast[actorOf[role]];
        const before = await snapshot(gid);
        const reply: ReplyFrame = await actor.c.request(frame(gid));
        if (want === OK) {
          expect(reply.ok, JSON.stringify(reply)).toBe(true);
        } else {
          expect(reply).toMatchObject({ ok: false, error: { code: want } });
          expect(await snapshot(gid)).toEqual(before);
        }
      });
    }
  }

  it("lets an invited outsider join, once", async () => {
    const gid = await freshGroup();
    await cast.A.c.ok({ type: "group_invite", gid, uid: cast.Y.uid });
    expect(await cast.Y.c.next("group", (e) => e.action === "invited" && e.gid === gid)).toMatchObject({ target: cast.Y.uid });
    const joined = await cast.Y.c.ok<GroupInfo>({ type: "group_join", gid });
    expect(joined.memberCount).toBe(6);
    expect(await cast.Y.c.request({ type: "group_join", gid })).toMatchObject({ ok: false, error: { code: "already_member" } });
  });

  it("lets anyone join an open group and tells every member", async () => {
    await befriendAll(cast.O.uid, [cast.M.uid]);
    const g = await cast.O.c.ok<GroupInfo>({ type: "group_create", gid: uniqueId("g"), name: "open", members: [cast.M.uid], joinPolicy: "open" });
    await cast.X.c.ok({ type: "group_join", gid: g.id });
    for (const who of [cast.O, cast.M, cast.X]) {
      expect(await who.c.next("group", (e) => e.gid === g.id && e.action === "joined")).toMatchObject({ target: cast.X.uid, actor: cast.X.uid });
    }
  });

  it("refuses posts from a muted member until unmuted, and tells members about mutes, role changes and kicks", async () => {
    const gid = await freshGroup();
    await cast.A.c.ok({ type: "group_mute", gid, uid: cast.T.uid, seconds: 3600 });
    expect(await cast.M.c.next("group", (e) => e.gid === gid && e.action === "muted")).toMatchObject({ target: cast.T.uid, until: expect.any(Number) });
    expect(await cast.T.c.request(groupText(gid, "let me talk"))).toMatchObject({ ok: false, error: { code: "muted" } });
    await cast.O.c.ok({ type: "group_mute", gid, uid: cast.T.uid, seconds: 0 });
    expect(await cast.T.c.request(groupText(gid, "thanks"))).toMatchObject({ ok: true });

    await cast.O.c.ok({ type: "group_role", gid, uid: cast.M.uid, role: "admin" });
    expect(await cast.T.c.next("group", (e) => e.gid === gid && e.action === "role_changed" && e.target === cast.M.uid)).toMatchObject({ role: "admin", actor: cast.O.uid });
    await cast.O.c.ok({ type: "group_kick", gid, uid: cast.T.uid });
    // The kicked member is told too, and posts are refused afterwards.
    expect(await cast.T.c.next("group", (e) => e.gid === gid && e.action === "kicked")).toMatchObject({ target: cast.T.uid });
    expect(await cast.M.c.next("group", (e) => e.gid === gid && e.action === "kicked")).toMatchObject({ target: cast.T.uid });
    expect(await cast.T.c.request(groupText(gid, "still here?"))).toMatchObject({ ok: false, error: { code: "not_member" } });
  });

  it("transfers ownership: the new owner can dismiss, the old owner is an admin who may leave", async () => {
    const gid = await freshGroup();
    await cast.O.c.ok({ type: "group_transfer", gid, uid: cast.M.uid });
    expect(await cast.T.c.next("group", (e) => e.gid === gid && e.action === "owner_changed")).toMatchObject({ target: cast.M.uid });
    const { members } = await cast.M.c.ok<{ members: Member[] }>({ type: "group_members", gid });
    const roles = Object.fromEntries(members.map((m) => [m.uid, m.role]));
    expect(roles[cast.M.uid]).toBe("owner");
    expect(roles[cast.O.uid]).toBe("admin");
    expect(await cast.O.c.request({ type: "group_dismiss", gid })).toMatchObject({ ok: false, error: { code: "forbidden" } });
    await cast.O.c.ok({ type: "group_leave", gid });
    await cast.M.c.ok({ type: "group_dismiss", gid });
  });
});

describe("group settings", () => {
  it("lets only the owner open or close a group to joins, telling members", async () => {
    const [owner, admin, outsider] = await connectedUsers(3);
    const g = await makeGroup(owner!.c, [admin!.uid], { joinPolicy: "invite" });
    await owner!.c.ok({ type: "group_role", gid: g.id, uid: admin!.uid, role: "admin" });
    expect(await admin!.c.request({ type: "group_settings", gid: g.id, joinPolicy: "open" })).toMatchObject({
      ok: false,
      error: { code: "forbidden" }
    });
    expect(await outsider!.c.request({ type: "group_join", gid: g.id })).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect(await owner!.c.ok({ type: "group_settings", gid: g.id, joinPolicy: "open" })).toMatchObject({ settings: { joinPolicy: "open" } });
    expect(await admin!.c.next("group", (e) => e.action === "settings_changed")).toMatchObject({ joinPolicy: "open", actor: owner!.uid });
    await outsider!.c.ok({ type: "group_join", gid: g.id });
  });
});
