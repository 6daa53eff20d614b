import { describe, expect, it } from "vitest";
import type { GroupEvent, GroupInfo, SendAck } from "../../src/protocol";
import { api, expectJson } from "../helpers/fixtures";
import { connectedUsers, groupText, makeGroup } from "../helpers/groups";

/** Owner O, admin A, member M of a fresh group. */
async function group() {
  const [O, A, M] = await connectedUsers(3);
  const g = await makeGroup(O!.c, [A!.uid, M!.uid]);
  expect((await api("PATCH", `/api/v1/groups/${g.id}/members/${A!.uid}`, { role: "admin" })).status).toBe(200);
  return { gid: g.id, O: O!, A: A!, M: M! };
}

describe("announcement mode (mute-all)", () => {
  it("lets only the owner and admins post while it is on, and everyone again once it is off", async () => {
    const { gid, O, A, M } = await group();
    const on = await O.c.ok<GroupInfo>({ type: "group_settings", gid, announce: true });
    expect(on.settings).toMatchObject({ announce: true, joinPolicy: "invite" });
    const told = (await M.c.next("group", (e) => e.action === "settings_changed")) as GroupEvent;
    expect(told).toMatchObject({ announce: true });
    expect(told.joinPolicy).toBeUndefined();

    const refused = await M.c.request(groupText(gid, "may I?"));
    expect(refused).toMatchObject({ ok: false, error: { code: "forbidden" } });
    await O.c.ok<SendAck>(groupText(gid, "from the owner"));
    await A.c.ok<SendAck>(groupText(gid, "from an admin"));
    await M.c.next("message", (m) => (m.body as { text: string }).text === "from an admin");
    // Nothing of the refused post was stored: the member's stream holds only the two.
    const page = await M.c.ok<{ events: { type: string; body?: { text: string } }[] }>({ type: "sync", gid, after: 0 });
    expect(page.events.filter((e) => e.type === "message").map((e) => e.body!.text)).toEqual(["from the owner", "from an admin"]);

    const off = await O.c.ok<GroupInfo>({ type: "group_settings", gid, announce: false });
    expect(off.settings.announce).toBeUndefined();
    await M.c.ok<SendAck>(groupText(gid, "thanks"));
  });

  it("is the owner's to change, repeats change nothing, and a frame must name a setting", async () => {
    const { gid, O, A } = await group();
    expect(await A.c.request({ type: "group_settings", gid, announce: true })).toMatchObject({ ok: false, error: { code: "forbidden" } });
    const head = (await O.c.ok<GroupInfo>({ type: "group_info", gid })).head;
    await O.c.ok({ type: "group_settings", gid, announce: false });
    expect((await O.c.ok<GroupInfo>({ type: "group_info", gid })).head).toBe(head);
    expect(await O.c.request({ type: "group_settings", gid })).toMatchObject({ ok: false, error: { code: "invalid_frame" } });
  });

  it("is a setting of the backend's PATCH, beside the join policy", async () => {
    const { gid, M } = await group();
    const info = await expectJson<GroupInfo>(await api("PATCH", `/api/v1/groups/${gid}`, { announce: true, joinPolicy: "open" }), 200);
    expect(info.settings).toMatchObject({ announce: true, joinPolicy: "open" });
    expect(await M.c.next("group", (e) => e.action === "settings_changed")).toMatchObject({ announce: true, joinPolicy: "open" });
    expect(await M.c.request(groupText(gid, "hello?"))).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect((await api("PATCH", `/api/v1/groups/${gid}`, {})).status).toBe(400);
    // The backend's own pushes are not posts: they still reach members.
    expect((await api("POST", `/api/v1/push/groups/${gid}`, { kind: "notice", body: { text: "maintenance" } })).status).toBe(200);
    expect(await M.c.next("notice")).toMatchObject({ kind: "notice", body: { text: "maintenance" } });
  });
});
