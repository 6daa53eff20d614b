import { describe, expect, it } from "vitest";
import type { UserOnline } from "../../src/protocol";
import { api, connect, createUser, expectJson } from "../helpers/fixtures";
import { makeGroup } from "../helpers/groups";

async function waitOnlineCount(atLeast: number): Promise<number> {
  let count = 0;
  for (let i = 0; i < 100 && count < atLeast; i++) {
    count = (await expectJson<{ count: number }>(await api("GET", "/api/v1/online/count"), 200)).count;
    if (count < atLeast) await new Promise((r) => setTimeout(r, 20));
  }
  return count;
}

describe("presence API", () => {
  it("says whether a user is online and lists their devices (isUidOnline, getClientIdByUid)", async () => {
    const uid = await createUser();
    expect(await expectJson<UserOnline>(await api("GET", `/api/v1/users/${uid}/online`), 200)).toEqual({ uid, online: false, devices: [] });
    await connect(uid, { device: "phone" });
    await connect(uid, { device: "laptop" });
    const s = await expectJson<UserOnline>(await api("GET", `/api/v1/users/${uid}/devices`), 200);
    expect(s.online).toBe(true);
    expect(s.devices.map((d) => d.device).sort()).toEqual(["laptop", "phone"]);
    expect(await expectJson(await api("GET", "/api/v1/users/nobody_x/online"), 404)).toMatchObject({ error: { code: "unknown_user" } });
  });

  it("lists and counts online users across shards, paged (getAllUidList, getAllUidCount)", async () => {
    const uids = await Promise.all(Array.from({ length: 7 }, () => createUser()));
    for (const u of uids) await connect(u);
    expect(await waitOnlineCount(7)).toBeGreaterThanOrEqual(7);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const q: string = after ? `?limit=3&after=${encodeURIComponent(after)}` : "?limit=3";
      const page: { uids: string[]; next: string | null } = await expectJson(await api("GET", `/api/v1/online${q}`), 200);
      expect(page.uids.length).toBeLessThanOrEqual(3);
      seen.push(...page.uids);
      after = page.next;
    } while (after);
    for (const u of uids) expect(seen).toContain(u);
    expect(new Set(seen).size).toBe(seen.length);
    expect(await expectJson(await api("GET", "/api/v1/online?after=garbage"), 400)).toMatchObject({ error: { code: "bad_request" } });
  });

  it("lists and counts a group's online members (getUidListByGroup, getUidCountByGroup)", async () => {
    const owner = await createUser();
    const on = await createUser();
    const off = await createUser();
    const o = await connect(owner);
    await connect(on);
    const g = await makeGroup(o, [on, off]);
    let list: string[] = [];
    for (let i = 0; i < 100 && list.length < 2; i++) {
      list = (await expectJson<{ uids: string[] }>(await api("GET", `/api/v1/groups/${g.id}/online`), 200)).uids;
    }
    expect(list).toEqual([owner, on].sort());
    expect(await expectJson(await api("GET", `/api/v1/groups/${g.id}/online/count`), 200)).toEqual({ count: 2 });
  });

  it("disconnects one device or all of a user's devices with a reason (closeClient)", async () => {
    const uid = await createUser();
    const phone = await connect(uid, { device: "phone" });
    const laptop = await connect(uid, { device: "laptop" });
    expect(await expectJson(await api("POST", `/api/v1/users/${uid}/disconnect`, { device: "phone", reason: "logged out" }), 200)).toEqual({ closed: 1 });
    expect(await phone.closed).toEqual({ code: 4501, reason: "logged out" });
    expect(await laptop.ok({ type: "ping" })).toHaveProperty("ts");
    expect(await expectJson(await api("POST", `/api/v1/users/${uid}/disconnect`, {}), 200)).toEqual({ closed: 1 });
    expect((await laptop.closed).code).toBe(4501);
  });
});
