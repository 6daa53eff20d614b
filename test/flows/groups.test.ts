import { abortAllDurableObjects, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { GroupInfo, GroupStreamEvent, HistoryEvent, InboxEvent, MessageEvent, SendAck, SyncResult } from "../../src/protocol";
import { api, connect, createUser, friends, uniqueId } from "../helpers/fixtures";
import { befriendAll, bulkUsers, connectedUsers, drainFanout, fanoutState, groupText, makeGroup, messagesOf, streamOf } from "../helpers/groups";

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

/** Streams of one group for many users, 25 sockets at a time. */
async function streamsOf(uids: string[], gid: string): Promise<Map<string, GroupStreamEvent[]>> {
  const out = new Map<string, GroupStreamEvent[]>();
  for (let i = 0; i < uids.length; i += 25) {
    const chunk = uids.slice(i, i + 25);
    const got = await Promise.all(chunk.map((uid) => streamOf(uid, gid)));
    chunk.forEach((uid, j) => out.set(uid, got[j]!));
  }
  return out;
}

const mids = (events: readonly GroupStreamEvent[]) => messagesOf(events).map((m) => m.mid);
const actions = (events: readonly GroupStreamEvent[]) => events.flatMap((e) => (e.type === "group" ? [e.action] : []));

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
    // Stored once, in the group: no inbox seq anywhere, the ack carries the gseq only.
    expect(ack.seq).toBeUndefined();
    const onLaptop = await ownerLaptop.next("message");
    expect(onLaptop).toMatchObject({ mid: ack.mid, gseq: 2, prev: 1, device: owner!.c.welcome.device });
    expect(onLaptop).not.toHaveProperty("seq");
    expect(await inboxOf(m1!.uid)).toEqual([]);
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
    expect(mids(await streamOf(m1!.uid, g.id))).toEqual([first.mid, later.mid]);
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

/** Makes `uid`'s object fail every call that reads its groups (a live push), until {@link mendUser}. */
async function breakUser(uid: string): Promise<void> {
  const stub = env.USERS.getByName(uid);
  await runInDurableObject(stub, (_o, s) => s.storage.sql.exec("ALTER TABLE groups RENAME TO groups_off"));
  await evictDurableObject(stub); // forget the cached list; the sockets stay (hibernated)
}

async function mendUser(uid: string): Promise<void> {
  const stub = env.USERS.getByName(uid);
  await runInDurableObject(stub, (_o, s) => s.storage.sql.exec("ALTER TABLE groups_off RENAME TO groups"));
  await evictDurableObject(stub);
}

const retriesOf = (gid: string) =>
  runInDurableObject(env.GROUPS.getByName(gid), (_o, s) =>
    s.storage.sql.exec<{ uid: string; from_gseq: number; to_gseq: number }>("SELECT uid, from_gseq, to_gseq FROM retries").toArray()
  );

/** Makes every retry of the group due now and runs its alarm. */
async function retryNow(gid: string): Promise<void> {
  const group = env.GROUPS.getByName(gid);
  await runInDurableObject(group, (_o, s) => s.storage.sql.exec("UPDATE retries SET next_at = 0"));
  expect(await runDurableObjectAlarm(group)).toBe(true);
}

describe("group fan-out", () => {
  it("pushes a message to the 20 members online once, stores nothing for the 180 offline, and every stream holds it", async () => {
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
    for (const c of online) expect(c.seen((f) => f.type === "message").length).toBe(3);
    // Nothing went to the offline members' objects: their inboxes are empty, their streams complete.
    for (const uid of members.slice(20, 25)) expect(await inboxOf(uid)).toEqual([]);
    for (const [uid, events] of await streamsOf(members, g.id)) {
      expect(mids(events), uid).toEqual(acks.map((a) => a.mid));
      expect(actions(events)).toEqual(["created"]);
    }
  });

  it("finishes a push cut off by abortAllDurableObjects from the alarm; every stream holds the message once", async () => {
    const owner = await createUser();
    const o = await connect(owner);
    const members = await bulkUsers(120);
    await Promise.all(members.slice(0, 40).map((uid) => connect(uid)));
    const g = await makeGroup(o, members);
    await drainFanout(g.id);
    const ack = await o.ok<SendAck>(groupText(g.id, "survives"));
    await abortAllDurableObjects();
    // Members were online when it was posted: an alarm was kept for the push.
    expect(await runInDurableObject(env.GROUPS.getByName(g.id), (_o, s) => s.storage.getAlarm())).not.toBeNull();
    await drainFanout(g.id);
    expect(await fanoutState(g.id)).toMatchObject({ cursor: 2, head: 2 });
    for (const [uid, events] of await streamsOf(members, g.id)) expect(mids(events), uid).toEqual([ack.mid]);
  });

  it("retries a member whose object failed, from the alarm, exactly once", async () => {
    const [owner, m1, m2] = await connectedUsers(3);
    const g = await makeGroup(owner!.c, [m1!.uid, m2!.uid]);
    await m1!.c.next("group");
    await m2!.c.next("group");
    await breakUser(m2!.uid);
    const ack = await owner!.c.ok<SendAck>(groupText(g.id, "late"));
    await m1!.c.next("message", (m) => m.mid === ack.mid);
    await drainFanout(g.id);
    expect((await retriesOf(g.id)).map((r) => r.uid)).toEqual([m2!.uid]);
    await mendUser(m2!.uid);
    await retryNow(g.id);
    expect(await retriesOf(g.id)).toEqual([]);
    expect(await m2!.c.next("message", (m) => m.mid === ack.mid)).toMatchObject({ gseq: ack.gseq, prev: 1 });
    expect(m2!.c.seen((f) => f.type === "message")).toHaveLength(1);
  });
});

describe("group fan-out across runs", () => {
  it("continues a push that spent its run's budget from an alarm, and keeps one for a member's retry", async () => {
    // FANOUT_CALLS_PER_RUN is 60 in the tests: a message to 70 members online takes two runs.
    const owner = await createUser();
    const o = await connect(owner);
    const members = await bulkUsers(69);
    const sockets = await Promise.all(members.map((uid) => connect(uid)));
    const g = await makeGroup(o, members);
    await drainFanout(g.id);
    const last = [...members].sort().at(-1)!; // pushed in uid order: the second run reaches it
    await breakUser(last);
    const ack = await o.ok<SendAck>(groupText(g.id, "two runs"));
    const stub = env.GROUPS.getByName(g.id);
    // The first run ends out of budget by asking for an alarm now (the post's watchdog is 10 s away).
    for (let i = 0; i < 200; i++) {
      const at = await runInDurableObject(stub, (_o, s) => s.storage.getAlarm());
      if (at !== null && at <= Date.now() + 2_000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await runDurableObjectAlarm(stub)).toBe(true); // the second run: the last calls, one failing
    expect((await fanoutState(g.id)).cursor).toBe((await fanoutState(g.id)).head);
    expect(await runInDurableObject(stub, (_o, s) => s.storage.getAlarm())).not.toBeNull();
    await mendUser(last);
    await retryNow(g.id);
    for (const c of sockets) expect((await c.next("message", (m) => m.mid === ack.mid)).gseq).toBe(ack.gseq);
  });
});

describe("group delivery order after a failure", () => {
  it("a member who missed a message gets the next ones after it, through its retry", async () => {
    const [owner, m1, m2] = await connectedUsers(3);
    const g = await makeGroup(owner!.c, [m1!.uid, m2!.uid]);
    await m2!.c.next("group");
    await breakUser(m2!.uid);
    const first = await owner!.c.ok<SendAck>(groupText(g.id, "first"));
    await drainFanout(g.id);
    expect((await retriesOf(g.id)).map((r) => r.uid)).toEqual([m2!.uid]);
    await mendUser(m2!.uid);
    // As after many failed attempts: the next try is far off.
    await runInDurableObject(env.GROUPS.getByName(g.id), (_o, s) => s.storage.sql.exec("UPDATE retries SET next_at = ?", Date.now() + 600_000));

    const second = await owner!.c.ok<SendAck>(groupText(g.id, "second"));
    await m1!.c.next("message", (m) => m.mid === second.mid);
    await drainFanout(g.id);
    // Not pushed past the message m2 is missing: the retry now covers both, and new traffic brought it forward.
    expect(m2!.c.seen((f) => f.type === "message")).toEqual([]);
    expect(await retriesOf(g.id)).toEqual([{ uid: m2!.uid, from_gseq: 1, to_gseq: second.gseq }]);
    const nextAt = await runInDurableObject(env.GROUPS.getByName(g.id), (_o, s) => s.storage.sql.exec<{ n: number }>("SELECT next_at AS n FROM retries").one().n);
    expect(nextAt).toBeLessThanOrEqual(Date.now() + 5_000);

    await retryNow(g.id);
    await m2!.c.next("message", (m) => m.mid === second.mid);
    expect(m2!.c.seen((f) => f.type === "message").map((m) => (m as MessageEvent).mid)).toEqual([first.mid, second.mid]);
    expect(await retriesOf(g.id)).toEqual([]);
  });

  it("drops the retry rows of earlier versions with the old fan-out; members' streams start where the first of them was behind", async () => {
    const [owner, m1] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [m1!.uid]);
    const group = env.GROUPS.getByName(g.id);
    await runInDurableObject(group, (_o, s) => {
      s.storage.sql.exec("INSERT INTO retries VALUES ('legacy_a', 0, 64, 5, 9000), ('legacy_a', 64, 128, 1, 7000), ('legacy_b', 10, 20, 2, 8000)");
      // Back to before the merge: undo the steps that came after it.
      s.storage.sql.exec("DROP TABLE former; DROP TABLE online; DROP TABLE edits; DROP TABLE read_marks");
      for (const c of ["conv", "gone", "text"]) s.storage.sql.exec(`ALTER TABLE history DROP COLUMN ${c}`);
      s.storage.sql.exec("UPDATE _schema SET version = 3");
    });
    await evictDurableObject(group);
    await group.stats(); // any call starts the object, which migrates
    expect(await runInDurableObject(group, (_o, s) => s.storage.sql.exec("SELECT * FROM retries").toArray())).toEqual([]);
    expect(await runInDurableObject(group, (_o, s) => s.storage.kv.get("history.floor"))).toBe(0);
    expect(await runInDurableObject(group, (_o, s) => s.storage.sql.exec<{ version: number }>("SELECT version FROM _schema").one().version)).toBe(7);
  });

  it("a retry longer than one batch is pushed in batches, in order", async () => {
    const [owner, m1] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [m1!.uid]);
    await m1!.c.next("group");
    await breakUser(m1!.uid);
    const sent: string[] = [];
    for (let i = 0; i < 70; i++) {
      const frame = groupText(g.id, `m${i}`);
      let reply = await owner!.c.request(frame);
      while (!reply.ok && reply.error.code === "rate_limited") {
        await new Promise((r) => setTimeout(r, (reply as { error: { retryAfterMs?: number } }).error.retryAfterMs ?? 50));
        reply = await owner!.c.request(frame);
      }
      sent.push((reply as { result: SendAck }).result.mid);
    }
    await drainFanout(g.id);
    await mendUser(m1!.uid);
    for (let i = 0; i < 5 && (await retriesOf(g.id)).length > 0; i++) await retryNow(g.id);
    expect(await retriesOf(g.id)).toEqual([]);
    await m1!.c.next("message", (m) => m.mid === sent.at(-1));
    const got = m1!.c.seen((f) => f.type === "message") as unknown as GroupStreamEvent[];
    expect(got.map((m) => (m as { mid: string }).mid)).toEqual(sent);
    // One chain: each event's prev is the one before it.
    expect(got.every((e, i) => i === 0 || e.prev === got[i - 1]!.gseq)).toBe(true);
  });
});

describe("group membership changes", () => {
  it("lets a kicked member read what was posted before the kick, up to the kick, and nothing after", async () => {
    const owner = await createUser();
    const o = await connect(owner);
    const members = await bulkUsers(20);
    const g = await makeGroup(o, members);
    const kicked = members[0]!;
    const ack = await o.ok<SendAck>(groupText(g.id, "before the kick"));
    await o.ok({ type: "group_kick", gid: g.id, uid: kicked });
    const after = await o.ok<SendAck>(groupText(g.id, "after the kick"));
    const events = await streamOf(kicked, g.id);
    expect(mids(events)).toEqual([ack.mid]);
    expect(actions(events)).toEqual(["created", "kicked"]);
    expect(mids(await streamOf(members[1]!, g.id))).toEqual([ack.mid, after.mid]);
    // Their object learned where the membership ended: a page says the stream is over there.
    const c = await connect(kicked);
    expect(await c.ok({ type: "sync", gid: g.id, after: 3 })).toMatchObject({ events: [], more: false, head: 3 });
    expect(await c.request(groupText(g.id, "still here?"))).toMatchObject({ ok: false, error: { code: "not_member" } });
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
    expect(actions(await streamOf(offline, g.id))).toEqual(["created", "dismissed"]);
    expect(await inboxOf(offline)).toEqual([]);

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
