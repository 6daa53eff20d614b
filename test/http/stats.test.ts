import { describe, expect, it } from "vitest";
import type { DeploymentStats, GroupStats, UserStats } from "../../src/protocol";
import { api, connect, expectJson, friends, textTo } from "../helpers/fixtures";
import { drainFanout, groupText, makeGroup } from "../helpers/groups";

describe("operator counters", () => {
  it("counts a user's connections, inbox and pending deliveries", async () => {
    const [a, b] = await friends();
    const phone = await connect(a, { device: "phone" });
    await connect(a, { device: "laptop" });
    await phone.ok(textTo(b, "one"));
    await phone.ok(textTo(b, "two"));
    const s = await expectJson<UserStats>(await api("GET", `/api/v1/users/${a}/stats`), 200);
    expect(s).toEqual({ uid: a, connections: 2, head: 2, retained: 2, pendingDeliveries: 0 });
    expect(await expectJson(await api("GET", `/api/v1/users/${b}/stats`), 200)).toMatchObject({ connections: 0, head: 2 });
    expect(await expectJson(await api("GET", "/api/v1/users/nobody_st/stats"), 404)).toMatchObject({ error: { code: "unknown_user" } });
  });

  it("sums online users, connections and sent messages over the registry shards", async () => {
    const [a, b] = await friends();
    const before = await expectJson<DeploymentStats>(await api("GET", "/api/v1/stats"), 200);
    const d1 = await connect(a, { device: "d1" });
    await connect(a, { device: "d2" });
    await connect(b);
    for (let i = 0; i < 3; i++) await d1.ok(textTo(b, `counted ${i}`));
    // Sent messages reach the registry with the sender's next presence report (here: its disconnect).
    d1.close();
    let s: DeploymentStats = { onlineUsers: 0, connections: 0, messages: 0, broadcastsPending: 0, shards: 0 };
    for (let i = 0; i < 100 && s.messages < before.messages + 3; i++) {
      s = await expectJson<DeploymentStats>(await api("GET", "/api/v1/stats"), 200);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(s.messages).toBe(before.messages + 3);
    await connect(a, { device: "d3" });
    for (let i = 0; i < 100 && s.connections < 3; i++) {
      s = await expectJson<DeploymentStats>(await api("GET", "/api/v1/stats"), 200);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(s.shards).toBe(64);
    expect(s.onlineUsers).toBeGreaterThanOrEqual(2);
    expect(s.connections).toBeGreaterThanOrEqual(3); // d2, d3 and b
  });

  it("shows a group's head, who is online, and what its fan-out still owes", async () => {
    const [a, b] = await friends();
    const ca = await connect(a);
    const g = await makeGroup(ca, [b]);
    await ca.ok(groupText(g.id, "hello"));
    await drainFanout(g.id);
    const s = await expectJson<GroupStats>(await api("GET", `/api/v1/groups/${g.id}/stats`), 200);
    // Only the creator has a socket: the only one the group pushes to.
    expect(s).toEqual({ gid: g.id, members: 2, online: 1, head: 2, trimmed: 0, fanoutCursor: 2, fanoutPending: 0, retryingMembers: 0 });
    expect(await expectJson(await api("GET", "/api/v1/groups/g_nope_st/stats"), 404)).toMatchObject({ error: { code: "unknown_group" } });
  });
});
