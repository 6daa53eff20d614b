import { describe, expect, it } from "vitest";
import type { SeedImportResult } from "../../src/protocol";
import { connectSeed } from "../helpers/compat";
import { api, expectJson } from "../helpers/fixtures";

const base = 500_000 + Math.floor(Math.random() * 1e6);
const [u1, u2, u3, u4] = [0, 1, 2, 3].map((i) => base + i);
const guid = 900_000 + Math.floor(Math.random() * 1e6);

/** Rows as the seed's MySQL tables hold them (integer ids), plus one bad row of each kind. */
const dump = {
  users: [{ id: u1, name: "Ann" }, { id: u2 }, { id: u3 }, { id: u4 }],
  oh_ai_friend: [
    { uid: u1, frienduid: u2 },
    { uid: u2, frienduid: u1 },
    { uid: u3, frienduid: u1 },
    { uid: u1, frienduid: 42 }
  ],
  oh_ai_group: [{ guid, name: "Team", is_at: 0, ai_id: 7 }],
  oh_ai_groupfriend: [
    { uid: u1, friendguid: guid },
    { uid: u2, friendguid: guid },
    { uid: u3, friendguid: guid },
    { uid: 43, friendguid: guid }
  ]
};

describe("importing the seed's tables", () => {
  it("creates users, mutual friendships and open groups, skips bad rows, and is safe to repeat", async () => {
    const first = await expectJson<SeedImportResult>(await api("POST", "/api/v1/import/seed", dump), 200);
    expect(first).toEqual({
      users: { created: 4, existing: 0 },
      friendships: { created: 2, existing: 0 },
      groups: { created: 1, existing: 0 },
      members: { created: 3, existing: 0 },
      skipped: [
        { table: "oh_ai_friend", row: 3, reason: "no user 42" },
        { table: "oh_ai_groupfriend", row: 3, reason: "no user 43" }
      ]
    });
    expect(await expectJson(await api("GET", `/api/v1/users/${u3}/friends`), 200)).toEqual({ friends: [String(u1)] });
    expect(await expectJson(await api("GET", `/api/v1/groups/${guid}`), 200)).toMatchObject({
      owner: String(u1),
      name: "Team",
      memberCount: 3,
      settings: { joinPolicy: "invite", imported: true }
    });

    const again = await expectJson<SeedImportResult>(await api("POST", "/api/v1/import/seed", dump), 200);
    expect(again).toMatchObject({
      users: { created: 0, existing: 4 },
      friendships: { created: 0, existing: 2 },
      groups: { created: 0, existing: 1 },
      members: { created: 0, existing: 3 }
    });

    // A later page adds a member to the existing group.
    const more = await expectJson<SeedImportResult>(
      await api("POST", "/api/v1/import/seed", { oh_ai_groupfriend: [{ uid: u4, friendguid: guid }, { uid: u4, friendguid: 1 }] }),
      200
    );
    expect(more.members).toEqual({ created: 1, existing: 0 });
    expect(more.skipped).toMatchObject([{ table: "oh_ai_groupfriend", row: 1 }]);
  });

  it("lets imported users chat with the seed's frames at once, and opens groups when asked", async () => {
    await api("POST", "/api/v1/import/seed", { ...dump, groupJoinPolicy: "open" });
    const a = await connectSeed(String(u1));
    const b = await connectSeed(String(u2));
    const dm = { fromUid: u1, toUid: u2, isGroup: 0, type: "text", id: 1, content: "migrated" };
    a.send(dm);
    expect(await b.next("text")).toEqual(dm);
    const post = { fromUid: u2, toUid: guid, isGroup: 1, type: "text", id: 2, content: "group too" };
    b.send(post);
    expect(await a.next("text", (f) => f.isGroup === 1)).toEqual(post);
  });

  it("never hands the seed's members to a group someone created under that id first", async () => {
    const squatter = String(base + 10);
    await api("POST", "/api/v1/import/seed", { users: [{ id: u1 }, { id: u2 }, { id: squatter }] });
    const gid = String(guid + 1);
    const s = await connectSeed(squatter);
    s.send({ toUid: gid, isGroup: 1, type: "create_group" });
    await s.settle();
    const res = await expectJson<SeedImportResult>(
      await api("POST", "/api/v1/import/seed", {
        oh_ai_group: [{ guid: gid, owner: u1 }],
        oh_ai_groupfriend: [{ uid: u1, friendguid: gid }, { uid: u2, friendguid: gid }]
      }),
      200
    );
    expect(res.groups).toEqual({ created: 0, existing: 0 });
    expect(res.skipped.map((x) => x.table)).toEqual(["oh_ai_group", "oh_ai_groupfriend", "oh_ai_groupfriend"]);
    expect(res.skipped[0]!.reason).toContain("was not imported");
    const { members } = await expectJson<{ members: { uid: string }[] }>(await api("GET", `/api/v1/groups/${gid}/members`), 200);
    expect(members.map((m) => m.uid)).toEqual([squatter]);
  });

  it("refuses a body that is not the seed's rows", async () => {
    expect(await expectJson(await api("POST", "/api/v1/import/seed", { users: [{ id: "has space" }] }), 400)).toMatchObject({
      error: { code: "bad_request", fields: { "users.0.id": expect.any(String) } }
    });
    const tooMany = { oh_ai_friend: Array.from({ length: 501 }, () => ({ uid: 1, frienduid: 2 })) };
    expect((await api("POST", "/api/v1/import/seed", tooMany)).status).toBe(400);
  });
});
