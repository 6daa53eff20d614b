import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Costs, SendAck } from "../../src/protocol";
import { api, connect, createUser } from "../helpers/fixtures";
import { bulkUsers, drainFanout, groupText, makeGroup } from "../helpers/groups";

type Client = Awaited<ReturnType<typeof connect>>;

async function costs(reset = false): Promise<Costs> {
  return (await (await api("GET", `/api/v1/metrics${reset ? "?reset=1" : ""}`)).json()) as Costs;
}

/** Lets background work (pushes, timers that write delivery marks) finish, then reads and zeroes the counters. */
async function settled(gid: string): Promise<Costs> {
  await drainFanout(gid);
  await new Promise((r) => setTimeout(r, 2_500));
  return costs(true);
}

/** Posts `n` messages one at a time, each awaited until every client in `online` has it. */
async function postAndWait(sender: Client, gid: string, n: number, online: readonly Client[]): Promise<SendAck[]> {
  const acks: SendAck[] = [];
  for (let i = 0; i < n; i++) {
    const ack = await sender.ok<SendAck>(groupText(gid, `cost ${i}`));
    for (const c of online) await c.next("message", (m) => m.mid === ack.mid);
    acks.push(ack);
  }
  return acks;
}

const written = (c: Costs) => c.rowsWritten + c.kvWrites + c.alarmsSet;

/** A group of `online` connected members (the first is the sender) and `offline` members who never connect. */
async function setup(online: number, offline: number) {
  const uids = await Promise.all(Array.from({ length: online }, () => createUser()));
  const clients = await Promise.all(uids.map((uid) => connect(uid)));
  const rest = await bulkUsers(offline);
  const g = await makeGroup(clients[0]!, [...uids.slice(1), ...rest]);
  // Warm: the first post loads the group and attaches everyone.
  await postAndWait(clients[0]!, g.id, 1, clients.slice(1));
  return { gid: g.id, sender: clients[0]!, others: clients.slice(1) };
}

describe("what a group message costs", () => {
  it("writes the same rows and calls the same objects whether 0 or 60 members are offline: the offline cost nothing", async () => {
    const N = 5;
    const per: { rows: number; calls: Record<string, number> }[] = [];
    for (const offline of [0, 60]) {
      const { gid, sender, others } = await setup(3, offline);
      await settled(gid);
      await postAndWait(sender, gid, N, others);
      const c = await settled(gid);
      per.push({ rows: written(c) / N, calls: c.calls });
    }
    const [small, big] = per as [typeof per[0], typeof per[0]];
    expect(big.rows).toBe(small.rows);
    // The history row and its two indexes, plus the push's cursor and its alarm: no row per member.
    expect(big.rows).toBeLessThanOrEqual(3 + 2);
    // One push per online member per message (the sender's other devices included), nothing for the offline.
    expect(big.calls["UserObject.live"]).toBe(3 * N);
    expect(big.calls["UserObject.deliver"]).toBeUndefined();
    expect(big.calls).toEqual(small.calls);
  });

  it("costs the group three rows per message with nobody online", async () => {
    const owner = await createUser();
    const members = await bulkUsers(20);
    const o = await connect(owner);
    const g = await makeGroup(o, members);
    o.close();
    await o.closed;
    // The group learns the owner is gone from its next push; then nobody is online.
    await api("POST", `/api/v1/push/groups/${g.id}`, { body: "ping" });
    await settled(g.id);
    for (let i = 0; i < 5; i++) expect((await api("POST", `/api/v1/push/groups/${g.id}`, { body: `n${i}` })).status).toBe(200);
    const c = await settled(g.id);
    // The history row, its id index and its push-id index: nothing else, no alarm, no cursor.
    expect(written(c) / 5).toBeLessThanOrEqual(3);
    expect(c.calls["UserObject.live"]).toBeUndefined();
  });
});

describe("what a device's acks cost", () => {
  it("keeps a device's group positions in memory between writes: twenty acks write nothing until the socket closes, then one row", async () => {
    const { gid, sender, others } = await setup(2, 0);
    const [member] = others as [Client];
    await settled(gid);
    const acks = await postAndWait(sender, gid, 20, others);
    await settled(gid);
    for (const a of acks) expect(await member.ok({ type: "ack", groups: { [gid]: a.gseq! } })).toEqual({ groups: { [gid]: a.gseq } });
    expect(written(await costs(true))).toBe(0);
    member.close();
    await member.closed;
    await new Promise((r) => setTimeout(r, 100));
    const stored = await runInDurableObject(env.USERS.getByName(member.welcome.uid), (_o, st) =>
      st.storage.sql.exec("SELECT device, gseq FROM gcursors WHERE gid = ?", gid).toArray()
    );
    expect(stored).toEqual([{ device: member.welcome.device, gseq: acks.at(-1)!.gseq }]);
  });
});

describe("big groups", () => {
  it("pushes through relay objects when more members are online than one relay takes (100 in the tests)", async () => {
    const uids = await bulkUsers(150);
    const clients = await Promise.all(uids.map((uid) => connect(uid)));
    const owner = await createUser();
    const o = await connect(owner);
    const g = await makeGroup(o, uids);
    await drainFanout(g.id);
    await costs(true);
    const ack = await o.ok<SendAck>(groupText(g.id, "to all, in two steps"));
    for (const c of clients) expect((await c.next("message", (m) => m.mid === ack.mid)).gseq).toBe(ack.gseq);
    const c = await settled(g.id);
    // 151 online: two relays, each calling its members' objects.
    expect(c.calls["RelayObject.relay"]).toBe(2);
    expect(c.calls["UserObject.live"]).toBe(151);
    for (const cl of clients.slice(0, 10)) expect(cl.seen((f) => f.type === "message")).toHaveLength(1);
  });

  it("simulates a 100,000-member group with 300 members online: every online member gets each message once, the rest cost nothing", async () => {
    const TOTAL = 100_000;
    const ONLINE = 300;
    const owner = await createUser();
    const o = await connect(owner);
    const g = await makeGroup(o, []);
    // The online members are real users; the other 99,699 exist only in the group's member list (as
    // members of a big group mostly are to it: rows it never reads per message).
    const online = await bulkUsers(ONLINE - 1, "on");
    const t0 = Date.now();
    await runInDurableObject(env.GROUPS.getByName(g.id), (_o, s) => {
      const now = Date.now();
      for (let i = 0; i < TOTAL - 1; i++) {
        const uid = i < online.length ? online[i]! : `off_${i}`;
        s.storage.sql.exec("INSERT INTO members (uid, role, joined_at, joined_gseq) VALUES (?, 'member', ?, 1)", uid, now);
      }
    });
    const stub = env.GROUPS.getByName(g.id);
    const { evictDurableObject } = await import("cloudflare:test");
    await evictDurableObject(stub); // reload the member list from storage
    const mirror = env.DB.prepare("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, 'member', 0)");
    for (let i = 0; i < online.length; i += 100) await env.DB.batch(online.slice(i, i + 100).map((uid) => mirror.bind(g.id, uid)));
    const seeded = Date.now() - t0;

    const clients: Client[] = [];
    for (let i = 0; i < online.length; i += 50) clients.push(...(await Promise.all(online.slice(i, i + 50).map((uid) => connect(uid)))));
    // Each object attaches to its groups right after its socket opens.
    let stats: { members?: number; online?: number } = {};
    for (let i = 0; i < 200 && stats.online !== ONLINE; i++) {
      stats = (await (await api("GET", `/api/v1/groups/${g.id}/stats`)).json()) as typeof stats;
      if (stats.online !== ONLINE) await new Promise((r) => setTimeout(r, 25));
    }
    expect(stats).toMatchObject({ members: TOTAL, online: ONLINE });

    await costs(true);
    const N = 5;
    const t1 = Date.now();
    const acks = await postAndWait(o, g.id, N, clients);
    const ms = (Date.now() - t1) / N;
    const c = await settled(g.id);
    for (const cl of clients) expect(cl.seen((f) => f.type === "message").map((m) => (m as { mid: string }).mid)).toEqual(acks.map((a) => a.mid));
    const userCalls = Object.entries(c.calls).filter(([k]) => k.startsWith("UserObject.")).reduce((n, [, v]) => n + v, 0);
    const calls = Object.values(c.calls).reduce((n, v) => n + v, 0);
    console.log(JSON.stringify({
      simulation: `${TOTAL} members, ${ONLINE} online, ${N} messages one at a time`,
      seedMs: seeded,
      msPerMessageUntilAllOnlineHaveIt: Math.round(ms),
      rowsWrittenPerMessage: written(c) / N,
      rowsReadPerMessage: (c.rowsRead + c.kvReads) / N,
      objectCallsPerMessage: calls / N,
      relayCallsPerMessage: (c.calls["RelayObject.relay"] ?? 0) / N,
      d1QueriesPerMessage: c.d1Queries / N
    }));
    // Three relays of 100 per message; only the 300 online members' objects are called.
    expect(c.calls["RelayObject.relay"]).toBe(3 * N);
    expect(userCalls).toBe(ONLINE * N + N); // a live push each, and the sender's frames
    expect(written(c) / N).toBeLessThanOrEqual(5);
    expect(c.d1Queries).toBe(0);
  }, 120_000);
});
