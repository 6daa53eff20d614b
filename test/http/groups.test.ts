import { describe, expect, it } from "vitest";
import type { GroupInfo, HistoryEvent, Member, SendAck } from "../../src/protocol";
import { api, connect, createUser, uniqueId } from "../helpers/fixtures";
import { groupText } from "../helpers/groups";

async function json<T>(res: Response, status: number): Promise<T> {
  const body = await res.text();
  expect(res.status, body).toBe(status);
  return (body ? JSON.parse(body) : undefined) as T;
}

describe("group HTTP API", () => {
  it("creates, reads, changes and dismisses a group as the backend, with system events for members", async () => {
    const owner = await createUser();
    const m1 = await createUser();
    const m2 = await createUser();
    const c1 = await connect(m1);
    const gid = uniqueId("g");
    const info = await json<GroupInfo>(await api("POST", "/api/v1/groups", { id: gid, name: "ops", owner, members: [m1] }), 201);
    expect(info).toMatchObject({ id: gid, name: "ops", owner, memberCount: 2, settings: { joinPolicy: "invite" } });
    expect(await json<GroupInfo>(await api("GET", `/api/v1/groups/${gid}`), 200)).toMatchObject({ id: gid, head: 1 });

    expect(await json<Member>(await api("POST", `/api/v1/groups/${gid}/members`, { uid: m2 }), 201)).toMatchObject({ uid: m2, role: "member" });
    expect(await c1.next("group", (e) => e.action === "joined")).toMatchObject({ target: m2, actor: null });
    expect(await json<Member>(await api("PATCH", `/api/v1/groups/${gid}/members/${m2}`, { role: "admin", muteSeconds: 60 }), 200)).toMatchObject({
      uid: m2,
      role: "admin",
      mutedUntil: expect.any(Number)
    });
    await json(await api("POST", `/api/v1/groups/${gid}/owner`, { uid: m1 }), 200);
    const { members } = await json<{ members: Member[] }>(await api("GET", `/api/v1/groups/${gid}/members`), 200);
    expect(Object.fromEntries(members.map((m) => [m.uid, m.role]))).toEqual({ [owner]: "admin", [m1]: "owner", [m2]: "admin" });
    await json(await api("DELETE", `/api/v1/groups/${gid}/members/${m2}`), 204);

    const ack = await c1.ok<SendAck>(groupText(gid, "via socket"));
    const history = await json<{ events: HistoryEvent[] }>(await api("GET", `/api/v1/groups/${gid}/messages?after=0&limit=50`), 200);
    expect(history.events.map((e) => (e.type === "message" ? e.mid : e.type === "group" ? e.action : e.type))).toEqual([
      "created", "joined", "role_changed", "muted", "owner_changed", "kicked", ack.mid
    ]);
    const newest = await json<{ events: HistoryEvent[]; more: boolean }>(await api("GET", `/api/v1/groups/${gid}/messages?limit=2`), 200);
    expect(newest.events.map((e) => e.gseq)).toEqual([6, 7]);

    await json(await api("DELETE", `/api/v1/groups/${gid}`), 200);
    expect(await c1.next("group", (e) => e.action === "dismissed")).toMatchObject({ actor: null });
    expect(await c1.request(groupText(gid, "after"))).toMatchObject({ ok: false, error: { code: "group_dismissed" } });
  });

  it("answers 404 for unknown groups and users, 409 for conflicts, 400 for bad input, 401 without a key", async () => {
    const owner = await createUser();
    const gid = uniqueId("g");
    await json(await api("POST", "/api/v1/groups", { id: gid, name: "x", owner }), 201);
    const cases: [Response, number, string][] = [
      [await api("GET", "/api/v1/groups/g_missing"), 404, "unknown_group"],
      [await api("POST", "/api/v1/groups", { id: gid, name: "again", owner }), 409, "conflict"],
      [await api("POST", "/api/v1/groups", { name: "x", owner: "nobody_at_all" }), 404, "unknown_user"],
      [await api("POST", `/api/v1/groups/${gid}/members`, { uid: owner }), 409, "already_member"],
      [await api("POST", `/api/v1/groups/${gid}/members`, { uid: "nobody_at_all" }), 404, "unknown_user"],
      [await api("DELETE", `/api/v1/groups/${gid}/members/${owner}`), 403, "forbidden"],
      [await api("PATCH", `/api/v1/groups/${gid}/members/${owner}`, {}), 400, "bad_request"],
      [await api("GET", `/api/v1/groups/${gid}/messages?before=5&after=1`), 400, "bad_request"],
      [await api("POST", "/api/v1/groups", { name: "", owner }), 400, "bad_request"],
      [await api("GET", `/api/v1/groups/${gid}`, undefined, "wrong-key"), 401, "unauthorized"]
    ];
    for (const [res, status, code] of cases) {
      expect(await json(res, status)).toMatchObject({ error: { code } });
    }
  });
});
