import { describe, expect, it } from "vitest";
import type { GroupReads, SendAck } from "../../src/protocol";
import { api, expectJson } from "../helpers/fixtures";
import { bulkUsers, connectedUsers, groupText, makeGroup } from "../helpers/groups";
import { uniqueId } from "../helpers/fixtures";

describe("per-member read state of small groups", () => {
  it("tells members who read a message and who has not, the sender and later members left out", async () => {
    const [O, B, C, D] = await connectedUsers(4);
    const g = await makeGroup(O!.c, [B!.uid, C!.uid]);
    const sent = await O!.c.ok<SendAck>(groupText(g.id, "read me"));
    await B!.c.next("message", (m) => m.mid === sent.mid);
    const before = await O!.c.ok<GroupReads>({ type: "group_reads", gid: g.id, mid: sent.mid });
    expect(before).toEqual({ mid: sent.mid, read: [], unread: [B!.uid, C!.uid].sort() });

    await B!.c.ok({ type: "read", chat: "group", peer: g.id, mid: sent.mid });
    // D joins after the message: not counted.
    expect((await api("POST", `/api/v1/groups/${g.id}/members`, { uid: D!.uid })).status).toBe(201);
    const after = await C!.c.ok<GroupReads>({ type: "group_reads", gid: g.id, mid: sent.mid });
    expect(after).toEqual({ mid: sent.mid, read: [B!.uid], unread: [C!.uid] });
    // A later message read by C marks the earlier one read for C too (marks cover what comes before).
    const later = await B!.c.ok<SendAck>(groupText(g.id, "and me"));
    await C!.c.next("message", (m) => m.mid === later.mid);
    await C!.c.ok({ type: "read", chat: "group", peer: g.id, mid: later.mid });
    expect(await expectJson(await api("GET", `/api/v1/groups/${g.id}/messages/${sent.mid}/reads`), 200)).toEqual({ mid: sent.mid, read: [B!.uid, C!.uid].sort(), unread: [] });
  });

  it("is for members only, and unknown messages are unknown", async () => {
    const [O, B, X] = await connectedUsers(3);
    const g = await makeGroup(O!.c, [B!.uid]);
    const sent = await O!.c.ok<SendAck>(groupText(g.id, "private"));
    expect(await X!.c.request({ type: "group_reads", gid: g.id, mid: sent.mid })).toMatchObject({ ok: false, error: { code: "not_member" } });
    expect(await B!.c.request({ type: "group_reads", gid: g.id, mid: "01JD3V6K7Q2W8XKZ4T9B5N0MRA" })).toMatchObject({ ok: false, error: { code: "unknown_message" } });
  });

  it("keeps no marks past GROUP_READ_STATE_MAX (100) members, and says so", async () => {
    const [O] = await connectedUsers(1);
    const gid = uniqueId("g");
    const members = await bulkUsers(100);
    expect((await api("POST", "/api/v1/groups", { id: gid, owner: O!.uid, name: "big", members })).status).toBe(201);
    const sent = await O!.c.ok<SendAck>(groupText(gid, "to many"));
    const res = await api("GET", `/api/v1/groups/${gid}/messages/${sent.mid}/reads`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "bad_request", message: expect.stringContaining("up to 100 members") } });
  });
});
