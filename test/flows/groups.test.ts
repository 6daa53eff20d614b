import { abortAllDurableObjects, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { GroupEvent, GroupInfo, HistoryEvent, InboxEvent, MessageEvent, SendAck, SyncResult } from "../../src/protocol";
import { api, connect, createUser, friends, uniqueId } from "../helpers/fixtures";
import { befriendAll, bulkUsers, connectedUsers, drainFanout, fanoutState, groupText, makeGroup } from "../helpers/groups";

/** Every inbox event of `uid`, by syncing over a real socket. */
async function inboxOf(uid: string): Promise<InboxEvent[]> {
  const c = await connect(uid);
  const events: InboxEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await c.ok<SyncResult>({ type: "sync", after });
    events.push(...page.events);
    if (!page.more) break;
    after = page.events.at(-1)!.seq;
  }
  c.close();
  return events;
}

/** Inboxes of many users, 25 sockets at a time. */
async function inboxesOf(uids: string[]): Promise<Map<string, InboxEvent[]>> {
  const out = new Map<string, InboxEvent[]>();
  for (let i = 0; i < uids.length; i += 25) {
    const chunk = uids.slice(i, i + 25);
    const got = await Promise.all(chunk.map((uid) => inboxOf(uid)));
    chunk.forEach((uid, j) => out.set(uid, got[j]!));
  }
  return out;
}

const groupMessages = (events: InboxEvent[], gid: string) =>
  events.filter((e): e is MessageEvent => e.type === "message" && e.to === gid);

describe("group messages", () => {
  it("stores, acks with gseq, and reaches every member but never the sending device", async () => {
    const [owner, m1, m2] = await connectedUsers(3);
    const ownerLaptop = await connect(owner!.uid, { device: "laptop" });
    const g = await makeGroup(owner!.c, [m1!.uid, m2!.uid]);
    expect(g).toMatchObject({ owner: owner!.uid, memberCount: 3, head: 1 });

    const ack = await owner!.c.ok<SendAck>(groupText(g.id, "hello group"));
    expect(ack.gseq).toBe(2);
    for (const m of [m1!, m2!]) {
      expect(await m.c.next("group")).toMatchObject({ action: "created", gid: g.id, gseq: 1, actor: owner!.uid });
      const msg = await m.c.next("message");
      expect(msg).toMatchObject({ chat: "group", from: owner!.uid, to: g.id, gseq: 2, mid: ack.mid, body: { text: "hello group" } });
      expect(msg).not.toHaveProperty("cmid");
      expect(msg).not.toHaveProperty("device");
    }
    const onLaptop = await ownerLaptop.next("message");
    expect(onLaptop).toMatchObject({ mid: ack.mid, seq: ack.seq, device: owner!.c.welcome.device });
    // A member's reply reaches the owner's phone too: the only echo rule is "not the sending device".
    const reply = await m1!.c.ok<SendAck>(groupText(g.id, "hi owner"));
    expect(await owner!.c.next("message")).toMatchObject({ mid: reply.mid, from: m1!.uid });
    expect(owner!.c.seen((f) => f.type === "message" && (f as MessageEvent).mid === ack.mid)).toEqual([]);
    expect(m1!.c.seen((f) => f.type === "message" && (f as MessageEvent).mid === reply.mid)).toEqual([]);
  });

  it("treats a resend with the same cmid as one message: same ack, one copy per member", async () => {
    const [owner, m1] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [m1!.uid]);
    const frame = groupText(g.id, "once", "g-cmid");
    const first = await owner!.c.ok<SendAck>(frame);
    const again = await Promise.all([owner!.c.ok<SendAck>(frame), owner!.c.ok<SendAck>(frame)]);
    for (const a of again) expect(a).toEqual(first);
    const later = await owner!.c.ok<SendAck>(groupText(g.id, "later"));
    await m1!.c.next("message", (m) => m.mid === later.mid);
    expect(groupMessages(await inboxOf(m1!.uid), g.id).map((m) => m.mid)).toEqual([first.mid, later.mid]);
    expect(await owner!.c.request(groupText(g.id, "different", "g-cmid"))).toMatchObject({
      ok: false,
      error: { code: "conflict" }
    });
  });

  it("flags the copies of mentioned members; @everyone is for owners and admins", async () => {
    const [owner, m1, m2] = await connectedUsers(3);
    const outsider = await createUser();
    const g = await makeGroup(owner!.c, [m1!.uid, m2!.uid]);
    const ack = await owner!.c.ok<SendAck>(groupText(g.id, "@m1", undefined, { mentions: { users: [m1!.uid, outsider] } }));
    const toM1 = await m1!.c.next("message", (m) => m.mid === ack.mid);
    const toM2 = await m2!.c.next("message", (m) => m.mid === ack.mid);
    expect(toM1).toMatchObject({ mentioned: true, mentions: { users: [m1!.uid] } });
    expect(toM2).not.toHaveProperty("mentioned");
    expect(await m1!.c.request(groupText(g.id, "@all", undefined, { mentions: { all: true } }))).toMatchObject({
      ok: false,
      error: { code: "forbidden" }
    });
    const all = await owner!.c.ok<SendAck>(groupText(g.id, "@all", undefined, { mentions: { all: true } }));
    for (const m of [m1!, m2!]) expect(await m.c.next("message", (x) => x.mid === all.mid)).toMatchObject({ mentioned: true });
  });

  it("pages history backwards and forwards by gseq, for members only, without private fields", async () => {
    const [owner, m1] = await connectedUsers(2);
    const outsider = (await connectedUsers(1))[0]!;
    const g = await makeGroup(owner!.c, [m1!.uid]);
    for (let i = 1; i <= 10; i++) await owner!.c.ok(groupText(g.id, `h${i}`));
    type Page = { events: HistoryEvent[]; more: boolean };
    const newest = await m1!.c.ok<Page>({ type: "group_history", gid: g.id, limit: 4 });
    expect(newest.events.map((e) => e.gseq)).toEqual([8, 9, 10, 11]);
    expect(newest.more).toBe(true);
    const older = await m1!.c.ok<Page>({ type: "group_history", gid: g.id, before: 8, limit: 4 });
    expect(older.events.map((e) => e.gseq)).toEqual([4, 5, 6, 7]);
    const oldest = await m1!.c.ok<Page>({ type: "group_history", gid: g.id, before: 4, limit: 4 });
    expect(oldest).toMatchObject({ more: false });
    expect(oldest.events.map((e) => e.gseq)).toEqual([1, 2, 3]);
    const forward = await m1!.c.ok<Page>({ type: "group_history", gid: g.id, after: 0, limit: 5 });
    expect(forward.events.map((e) => e.gseq)).toEqual([1, 2, 3, 4, 5]);
    expect(forward.more).toBe(true);
    const tail = await m1!.c.ok<Page>({ type: "group_history", gid: g.id, after: 9, limit: 5 });
    expect(tail).toMatchObject({ more: false });
    for (const e of [...newest.events, ...forward.events]) {
      expect(e).not.toHaveProperty("cmid");
      expect(e).not.toHaveProperty("device");
    }
    expect(await outsider.c.request({ type: "group_history", gid: g.id })).toMatchObject({
      ok: false,
      error: { code: "not_member" }
    });
  });
});

describe("group fan-out", () => {
  it("gets a message to all 200 members exactly once, online ones live and offline ones on sync", async () => {
    const owner = await createUser();
    const o = await connect(owner);
    const members = await bulkUsers(200);
    const online = await Promise.all(members.slice(0, 20).map((uid) => connect(uid)));
    const g = await makeGroup(o, members);
    const acks: SendAck[] = [];
    for (let i = 0; i < 3; i++) acks.push(await o.ok<SendAck>(groupText(g.id, `m${i}`)));
    for (const c of online) {
      for (const a of acks) await c.next("message", (m) => m.mid === a.mid);
    }
    await drainFanout(g.id);
    for (const [uid, events] of await inboxesOf(members)) {
      expect(groupMessages(events, g.id).map((m) => m.mid), uid).toEqual(acks.map((a) => a.mid));
      expect(events.filter((e) => e.type === "group").map((e) => (e as GroupEvent).action)).toEqual(["created"]);
    }
  });

  it("resumes a fan-out cut off by abortAllDurableObjects from its stored cursor, without duplicates", async () => {
    const owner = await createUser();
    const o = await connect(owner);
    const members = await bulkUsers(200);
    const g = await makeGroup(o, members);
    const ack = await o.ok<SendAck>(groupText(g.id, "survives"));
    await abortAllDurableObjects();
    // The abort landed inside a batch: some members had been delivered to, not all.
    const cut = await fanoutState(g.id);
    expect(cut.cursor).toBeLessThan(ack.gseq!);
    expect(cut.progress?.after).toMatch(/^bulk_/);
    expect(await runInDurableObject(env.GROUPS.getByName(g.id), (_o, s) => s.storage.getAlarm())).not.toBeNull();

    await drainFanout(g.id);
    expect(await fanoutState(g.id)).toEqual({ cursor: 2, head: 2 });
    for (const [uid, events] of await inboxesOf(members)) {
      expect(groupMessages(events, g.id).map((m) => m.mid), uid).toEqual([ack.mid]);
    }
  });

  it("retries a member whose object failed to store, from the alarm, exactly once", async () => {
    const [owner, m1, m2] = await connectedUsers(3);
    const g = await makeGroup(owner!.c, [m1!.uid, m2!.uid]);
    await m1!.c.next("group");
    const broken = env.USERS.getByName(m2!.uid);
    await runInDurableObject(broken, (_o, s) => s.storage.sql.exec("ALTER TABLE inbox RENAME TO inbox_off"));
    const ack = await owner!.c.ok<SendAck>(groupText(g.id, "late"));
    await m1!.c.next("message", (m) => m.mid === ack.mid);
    const group = env.GROUPS.getByName(g.id);
    let retries: unknown[] = [];
    for (let i = 0; i < 50 && retries.length === 0; i++) {
      retries = await runInDurableObject(group, (_o, s) => s.storage.sql.exec("SELECT uid FROM retries").toArray());
      if (retries.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(retries).toEqual([{ uid: m2!.uid }]);

    await runInDurableObject(broken, (_o, s) => s.storage.sql.exec("ALTER TABLE inbox_off RENAME TO inbox"));
    await runInDurableObject(group, (_o, s) => s.storage.sql.exec("UPDATE retries SET next_at = 0"));
    expect(await runDurableObjectAlarm(group)).toBe(true);
    expect(await runInDurableObject(group, (_o, s) => s.storage.sql.exec("SELECT uid FROM retries").toArray())).toEqual([]);
    expect(groupMessages(await inboxOf(m2!.uid), g.id).map((m) => m.mid)).toEqual([ack.mid]);
  });
});

describe("group fan-out across runs", () => {
  it("keeps an alarm for a member's retry left by a run that spent its whole budget", async () => {
    // FANOUT_CALLS_PER_RUN is 60 in the tests: a message to 120 members takes exactly two runs.
    const owner = await createUser();
    const o = await connect(owner);
    const members = await bulkUsers(119);
    const g = await makeGroup(o, members);
    await drainFanout(g.id);
    const last = [...members].sort().at(-1)!; // planned in uid order: the second run reaches it
    const lastStub = env.USERS.getByName(last);
    await runInDurableObject(lastStub, (_o, s) => s.storage.sql.exec("ALTER TABLE inbox RENAME TO inbox_off"));
    await o.ok<SendAck>(groupText(g.id, "two runs"));
    const stub = env.GROUPS.getByName(g.id);
    // The first run ends out of budget by asking for an alarm now (the post's watchdog is 10 s away).
    for (let i = 0; i < 200; i++) {
      const at = await runInDurableObject(stub, (_o, s) => s.storage.getAlarm());
      if (at !== null && at <= Date.now() + 2_000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await runDurableObjectAlarm(stub)).toBe(true); // the second run: the last 60 calls, one failing
    expect((await fanoutState(g.id)).cursor).toBe((await fanoutState(g.id)).head);
    const alarm = await runInDurableObject(stub, (_o, s) => s.storage.getAlarm());
    expect(alarm).not.toBeNull();
    await runInDurableObject(lastStub, (_o, s) => s.storage.sql.exec("ALTER TABLE inbox_off RENAME TO inbox"));
    await runInDurableObject(stub, (_o, s) => s.storage.sql.exec("UPDATE retries SET next_at = 0"));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const page = await (await connect(last)).ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events.filter((e) => e.type === "message")).toHaveLength(1);
  });
});

describe("group delivery order after a failure", () => {
  const retriesOf = (gid: string) =>
    runInDurableObject(env.GROUPS.getByName(gid), (_o, s) =>
      s.storage.sql.exec<{ uid: string; from_gseq: number; to_gseq: number }>("SELECT uid, from_gseq, to_gseq FROM retries").toArray()
    );

  it("a member who missed a message gets the next ones after it, through its retry", async () => {
    const [owner, m1, m2] = await connectedUsers(3);
    const g = await makeGroup(owner!.c, [m1!.uid, m2!.uid]);
    const broken = env.USERS.getByName(m2!.uid);
    await runInDurableObject(broken, (_o, s) => s.storage.sql.exec("ALTER TABLE inbox RENAME TO inbox_off"));
    const first = await owner!.c.ok<SendAck>(groupText(g.id, "first"));
    await drainFanout(g.id);
    expect((await retriesOf(g.id)).map((r) => r.uid)).toEqual([m2!.uid]);
    await runInDurableObject(broken, (_o, s) => s.storage.sql.exec("ALTER TABLE inbox_off RENAME TO inbox"));
    // As after many failed attempts: the next try is far off.
    await runInDurableObject(env.GROUPS.getByName(g.id), (_o, s) => s.storage.sql.exec("UPDATE retries SET next_at = ?", Date.now() + 600_000));

    const second = await owner!.c.ok<SendAck>(groupText(g.id, "second"));
    await m1!.c.next("message", (m) => m.mid === second.mid);
    await drainFanout(g.id);
    // Not delivered past the message m2 is missing: the retry now covers both, and new traffic brought it forward.
    expect(groupMessages(await inboxOf(m2!.uid), g.id)).toEqual([]);
    expect(await retriesOf(g.id)).toEqual([{ uid: m2!.uid, from_gseq: 1, to_gseq: second.gseq }]);
    const nextAt = await runInDurableObject(env.GROUPS.getByName(g.id), (_o, s) => s.storage.sql.exec<{ n: number }>("SELECT next_at AS n FROM retries").one().n);
    expect(nextAt).toBeLessThanOrEqual(Date.now() + 5_000);

    await runInDurableObject(env.GROUPS.getByName(g.id), (_o, s) => s.storage.sql.exec("UPDATE retries SET next_at = 0"));
    expect(await runDurableObjectAlarm(env.GROUPS.getByName(g.id))).toBe(true);
    expect(groupMessages(await inboxOf(m2!.uid), g.id).map((m) => m.mid)).toEqual([first.mid, second.mid]);
    expect(await retriesOf(g.id)).toEqual([]);
  });

  it("merges the per-batch retry rows of earlier versions into one per member", async () => {
    const [owner, m1] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [m1!.uid]);
    const group = env.GROUPS.getByName(g.id);
    await runInDurableObject(group, (_o, s) => {
      s.storage.sql.exec("INSERT INTO retries VALUES ('legacy_a', 0, 64, 5, 9000), ('legacy_a', 64, 128, 1, 7000), ('legacy_b', 10, 20, 2, 8000)");
      // Back to before the merge (and the former-members table that came after it).
      s.storage.sql.exec("DROP TABLE former");
      s.storage.sql.exec("UPDATE _schema SET version = version - 2");
    });
    await evictDurableObject(group);
    await group.stats(); // any call starts the object, which migrates
    expect(
      await runInDurableObject(group, (_o, s) => s.storage.sql.exec("SELECT uid, from_gseq, to_gseq, attempts, next_at FROM retries ORDER BY uid").toArray())
    ).toEqual([
      { uid: "legacy_a", from_gseq: 0, to_gseq: 128, attempts: 1, next_at: 7000 },
      { uid: "legacy_b", from_gseq: 10, to_gseq: 20, attempts: 2, next_at: 8000 }
    ]);
  });

  it("a retry longer than one batch is delivered in batches, in order", async () => {
    const [owner, m1] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [m1!.uid]);
    const broken = env.USERS.getByName(m1!.uid);
    await runInDurableObject(broken, (_o, s) => s.storage.sql.exec("ALTER TABLE inbox RENAME TO inbox_off"));
    const mids: string[] = [];
    for (let i = 0; i < 70; i++) {
      const frame = groupText(g.id, `m${i}`);
      let reply = await owner!.c.request(frame);
      while (!reply.ok && reply.error.code === "rate_limited") {
        await new Promise((r) => setTimeout(r, (reply as { error: { retryAfterMs?: number } }).error.retryAfterMs ?? 50));
        reply = await owner!.c.request(frame);
      }
      mids.push((reply as { result: SendAck }).result.mid);
    }
    await drainFanout(g.id);
    await runInDurableObject(broken, (_o, s) => s.storage.sql.exec("ALTER TABLE inbox_off RENAME TO inbox"));
    for (let i = 0; i < 5 && (await retriesOf(g.id)).length > 0; i++) {
      await runInDurableObject(env.GROUPS.getByName(g.id), (_o, s) => s.storage.sql.exec("UPDATE retries SET next_at = 0"));
      await runDurableObjectAlarm(env.GROUPS.getByName(g.id));
    }
    expect(await retriesOf(g.id)).toEqual([]);
    expect(groupMessages(await inboxOf(m1!.uid), g.id).map((m) => m.mid)).toEqual(mids);
  });
});

describe("group membership changes", () => {
  it("still delivers messages posted before a member was kicked, even when the fan-out had not reached them", async () => {
    const owner = await createUser();
    const o = await connect(owner);
    const members = await bulkUsers(120);
    const last = `zz_${crypto.randomUUID().slice(0, 8)}`;
    await env.DB.prepare("INSERT INTO users (id) VALUES (?)").bind(last).run();
    const g = await makeGroup(o, [...members, last]);
    const ack = await o.ok<SendAck>(groupText(g.id, "before the kick"));
    await o.ok({ type: "group_kick", gid: g.id, uid: last });
    await drainFanout(g.id);
    const events = await inboxOf(last);
    expect(groupMessages(events, g.id).map((m) => m.mid)).toEqual([ack.mid]);
    expect(events.filter((e) => e.type === "group").map((e) => (e as GroupEvent).action)).toEqual(["created", "kicked"]);
    const after = await o.ok<SendAck>(groupText(g.id, "after the kick"));
    await drainFanout(g.id);
    expect(groupMessages(await inboxOf(last), g.id).map((m) => m.mid)).not.toContain(after.mid);
  });

  it("tells everyone, the leaver included, when a member leaves", async () => {
    const [owner, m1, m2] = await connectedUsers(3);
    const g = await makeGroup(owner!.c, [m1!.uid, m2!.uid]);
    await m2!.c.ok({ type: "group_leave", gid: g.id });
    for (const who of [owner!, m1!, m2!]) {
      expect(await who.c.next("group", (e) => e.action === "left")).toMatchObject({ target: m2!.uid, actor: m2!.uid });
    }
    expect(await m2!.c.request(groupText(g.id, "still?"))).toMatchObject({ ok: false, error: { code: "not_member" } });
  });

  it("stores a copy whose cmid collides with another message instead of refusing the batch", async () => {
    const [alice, bob] = await connectedUsers(2);
    const { befriend } = await import("../helpers/fixtures");
    await befriend(alice!.uid, bob!.uid);
    await alice!.c.ok({ type: "send", to: bob!.uid, cmid: "shared", body: "dm" });
    const stray = {
      type: "message" as const, mid: "01JZZZZZZZZZZZZZZZZZZZZZZZ", chat: "group" as const, from: alice!.uid, to: "g_x",
      kind: "text", body: "group", ts: Date.now(), gseq: 1, cmid: "shared", device: "other"
    };
    const [delivered] = await env.USERS.getByName(alice!.uid).deliver([stray]);
    expect(delivered).toMatchObject({ seq: 2, duplicate: false });
  });
});

describe("group membership needs consent", () => {
  it("creates with friends only, refuses strangers and blocked users, and lets strangers in by invite", async () => {
    const [owner, friend] = await friends();
    const stranger = await createUser();
    const blocker = await createUser();
    const o = await connect(owner);
    const s = await connect(stranger);
    const blocked = await api("POST", "/api/v1/blocks", { blocker, blocked: owner });
    expect(blocked.status).toBe(201);
    const gid = uniqueId("g");
    expect(await o.request({ type: "group_create", gid, name: "n", members: [friend, blocker] })).toMatchObject({
      ok: false, error: { code: "blocked" }
    });
    expect(await o.request({ type: "group_create", gid, name: "n", members: [friend, stranger] })).toMatchObject({
      ok: false, error: { code: "stranger" }
    });
    expect(await o.request({ type: "group_info", gid })).toMatchObject({ ok: false, error: { code: "unknown_group" } });

    const g = await o.ok<GroupInfo>({ type: "group_create", gid, name: "n", members: [friend] });
    expect(g.memberCount).toBe(2);
    expect(await o.request({ type: "group_invite", gid, uid: blocker })).toMatchObject({ ok: false, error: { code: "blocked" } });
    await o.ok({ type: "group_invite", gid, uid: stranger });
    expect(await s.next("group", (e) => e.gid === gid)).toMatchObject({ action: "invited", target: stranger });
    expect(await s.request(groupText(gid, "not yet"))).toMatchObject({ ok: false, error: { code: "not_member" } });
    expect((await s.ok<GroupInfo>({ type: "group_join", gid })).memberCount).toBe(3);
    expect(await s.ok<SendAck>(groupText(gid, "joined by choice"))).toHaveProperty("gseq");
  });
});

describe("group lifecycle", () => {
  it("tells every member when the group is dismissed and refuses posts and joins afterwards", async () => {
    const [owner, m1] = await connectedUsers(2);
    const offline = await createUser();
    const g = await makeGroup(owner!.c, [m1!.uid, offline], { joinPolicy: "open" });
    await owner!.c.ok({ type: "group_dismiss", gid: g.id });
    expect(await m1!.c.next("group", (e) => e.action === "dismissed")).toMatchObject({ gid: g.id, actor: owner!.uid });
    expect(await owner!.c.next("group", (e) => e.action === "dismissed")).toMatchObject({ gid: g.id });
    const offlineEvents = await inboxOf(offline);
    expect(offlineEvents.filter((e) => e.type === "group").map((e) => (e as GroupEvent).action)).toEqual(["created", "dismissed"]);

    for (const frame of [groupText(g.id, "anyone?"), { type: "group_join", gid: g.id }, { type: "group_kick", gid: g.id, uid: m1!.uid }]) {
      expect(await m1!.c.request(frame)).toMatchObject({ ok: false, error: { code: "group_dismissed" } });
    }
    expect(await m1!.c.ok({ type: "group_info", gid: g.id })).toMatchObject({ dismissedAt: expect.any(Number) });
    const rows = await env.DB.prepare("SELECT user_id FROM group_members WHERE group_id = ?").bind(g.id).all();
    expect(rows.results).toEqual([]);
  });

  it("answers unknown_group for a group that does not exist, and stores nothing", async () => {
    const [u] = await connectedUsers(1);
    expect(await u!.c.request(groupText("g_nope", "hello"))).toMatchObject({ ok: false, error: { code: "unknown_group" } });
    expect(await u!.c.request({ type: "group_join", gid: "g_nope" })).toMatchObject({ ok: false, error: { code: "unknown_group" } });
    expect(await u!.c.ok<SyncResult>({ type: "sync", after: 0 })).toMatchObject({ events: [] });
  });

  it("mirrors membership into D1 after every change", async () => {
    const [owner, m1, m2] = await connectedUsers(3);
    const g = await makeGroup(owner!.c, [m1!.uid, m2!.uid]);
    await owner!.c.ok({ type: "group_role", gid: g.id, uid: m1!.uid, role: "admin" });
    await owner!.c.ok({ type: "group_kick", gid: g.id, uid: m2!.uid });
    const rows = await env.DB.prepare("SELECT user_id, role FROM group_members WHERE group_id = ? ORDER BY role DESC")
      .bind(g.id)
      .all<{ user_id: string; role: string }>();
    expect(rows.results).toEqual([
      { user_id: owner!.uid, role: "owner" },
      { user_id: m1!.uid, role: "admin" }
    ]);
    const group = await env.DB.prepare("SELECT owner_id, name FROM groups WHERE id = ?").bind(g.id).first();
    expect(group).toEqual({ owner_id: owner!.uid, name: "test group" });
  });

  it("loads a group that exists only in D1 on first use", async () => {
    const [a, b] = await connectedUsers(2);
    const gid = `g_d1_${crypto.randomUUID().slice(0, 8)}`;
    await env.DB.batch([
      env.DB.prepare("INSERT INTO groups (id, name, owner_id, settings, created_at) VALUES (?, 'seeded', ?, '{}', 1)").bind(gid, a!.uid),
      env.DB.prepare("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, 'owner', 1), (?, ?, 'member', 1)")
        .bind(gid, a!.uid, gid, b!.uid)
    ]);
    const ack = await b!.c.ok<SendAck>(groupText(gid, "from d1"));
    expect(ack.gseq).toBe(1);
    expect(await a!.c.next("message")).toMatchObject({ mid: ack.mid, to: gid });
  });

  it("enforces the member limit on create, join and add", async () => {
    const owner = await createUser();
    const o = await connect(owner);
    const tooMany = await bulkUsers(205);
    await befriendAll(owner, tooMany);
    expect(await o.request({ type: "group_create", name: "big", members: tooMany })).toMatchObject({
      ok: false,
      error: { code: "group_full" }
    });
    const g = await makeGroup(o, tooMany.slice(0, 204), { joinPolicy: "open" });
    expect(g.memberCount).toBe(205);
    const late = (await connectedUsers(1))[0]!;
    expect(await late.c.request({ type: "group_join", gid: g.id })).toMatchObject({ ok: false, error: { code: "group_full" } });
    const { api } = await import("../helpers/fixtures");
    const added = await api("POST", `/api/v1/groups/${g.id}/members`, { uid: late.uid });
    expect(added.status).toBe(409);
    expect(await added.json()).toMatchObject({ error: { code: "group_full" } });
  });
});
