import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CONFIRM_AFTER_MS } from "../../src/realtime/compat/handlers";
import type { MessageEvent, SendAck } from "../../src/protocol";
import { connectSeed } from "../helpers/compat";
import { api, befriend, connect, createUser, expectJson, friends, textTo, uniqueId } from "../helpers/fixtures";
import { drainFanout, groupText } from "../helpers/groups";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A numeric uid, as the seed's MySQL ids are. */
const numericId = () => String(100_000 + Math.floor(Math.random() * 1e9));

describe("seed frames, private chat", () => {
  it("delivers a message between friends as the sender's JSON, unchanged, and never echoes it", async () => {
    const [a, b] = await friends();
    const sa = await connectSeed(a);
    const sb = await connectSeed(b);
    const frame = { fromUid: a, toUid: b, isGroup: 0, type: "text", id: "m1", content: "你好", extra: { n: 1 } };
    sa.send(frame);
    expect(await sb.next("text")).toEqual(frame);
    await sa.settle();
    expect(sa.seen("text")).toEqual([]);
  });

  it("holds a burst over the send budget instead of refusing it: the seed's clients never resend", async () => {
    const [a, b] = await friends();
    const sa = await connectSeed(a);
    const sb = await connectSeed(b);
    for (let i = 0; i < 75; i++) sa.send({ toUid: b, isGroup: 0, type: "text", id: `burst${i}`, content: i });
    for (let i = 0; i < 75; i++) expect((await sb.next("text")).content).toBe(i);
    await sa.settle();
    expect(sa.seen("error")).toEqual([]);
  });

  it("answers a non-friend with {id, type: stranger} and stores nothing", async () => {
    const a = await createUser();
    const b = await createUser();
    const sa = await connectSeed(a);
    sa.send({ toUid: b, isGroup: 0, type: "text", id: 7, content: "hi" });
    expect(await sa.next("stranger")).toEqual({ id: 7, type: "stranger" });
    const sb = await connectSeed(b);
    await sb.settle();
    sb.send({ type: "pull" });
    await sb.settle();
    expect(sb.seen("pull")).toEqual([]);
  });

  it("refuses a forged fromUid with a coded error and sends nothing", async () => {
    const [a, b] = await friends();
    const sa = await connectSeed(a);
    const sb = await connectSeed(b);
    sa.send({ fromUid: b, toUid: a, isGroup: 0, type: "text", id: "f1", content: "it is me, b" });
    expect(await sa.next("error")).toMatchObject({ id: "f1", error: { code: "forged_sender" } });
    sa.send({ fromUid: b, toUid: b, isGroup: 0, type: "text", id: "f2", content: "to b as b" });
    expect(await sa.next("error")).toMatchObject({ id: "f2", error: { code: "forged_sender" } });
    await sb.settle();
    await sa.settle();
    expect([...sa.seen("text"), ...sb.seen("text")]).toEqual([]);
  });

  it("does nothing for a message to oneself", async () => {
    const a = await createUser();
    const sa = await connectSeed(a);
    sa.send({ toUid: a, isGroup: 0, type: "text", id: "self", content: "me" });
    await sa.settle();
    expect(sa.frames.filter((f) => f.type !== "heart")).toEqual([]);
  });

  it("lets the seed's stranger-exempt types through without friendship, but not across a block", async () => {
    const a = await createUser();
    const b = await createUser();
    const sa = await connectSeed(a);
    const sb = await connectSeed(b);
    const req = { fromUid: a, toUid: b, isGroup: 0, type: "friend_request", id: "fr1", content: "add me?" };
    sa.send(req);
    expect(await sb.next("friend_request")).toEqual(req);
    sa.send({ toUid: b, isGroup: 0, type: "text", id: "t1", content: "still strangers" });
    expect(await sa.next("stranger")).toEqual({ id: "t1", type: "stranger" });
    await expectJson(await api("POST", "/api/v1/blocks", { blocker: b, blocked: a }), 201);
    sa.send({ ...req, id: "fr2" });
    expect(await sa.next("stranger")).toEqual({ id: "fr2", type: "stranger" });
  });

  it("accepts numeric uids and answers bad frames with a coded error, the socket surviving", async () => {
    const a = await createUser(numericId());
    const b = await createUser(numericId());
    await befriend(a, b);
    const sa = await connectSeed(a);
    const sb = await connectSeed(b);
    const frame = { fromUid: Number(a), toUid: Number(b), isGroup: 0, type: "text", id: 1, content: "numbers" };
    sa.send(JSON.stringify(frame));
    expect(await sb.next("text")).toEqual(frame);
    sa.send("{not json");
    expect(await sa.next("error")).toMatchObject({ id: null, error: { code: "invalid_json" } });
    sa.send({ toUid: b, type: "", id: "bad" });
    expect(await sa.next("error")).toMatchObject({ id: "bad", error: { code: "invalid_frame", fields: { type: expect.any(String) } } });
    sa.send(JSON.stringify({ ...frame, content: "x".repeat(70_000) }));
    expect(await sa.next("error")).toMatchObject({ error: { code: "frame_too_large" } });
    sa.send({ type: "online" });
    expect(await sa.next("online")).toEqual({ list: [Number(b)], type: "online" });
  });
});

describe("seed frames, offline queue and pull", () => {
  it("queues messages for an offline user and hands them over once with pull, as the JSON strings sent", async () => {
    const [a, b] = await friends();
    const sa = await connectSeed(a);
    const sent = [1, 2, 3].map((n) => ({ fromUid: a, toUid: b, isGroup: 0, type: "text", id: `q${n}`, content: `m${n}` }));
    for (const f of sent) sa.send(f);
    await sa.settle();
    const sb = await connectSeed(b);
    sb.send({ type: "pull" });
    const pull = await sb.next("pull");
    expect(Object.keys(pull)).toEqual(["message", "type"]);
    expect((pull.message as string[]).map((s) => JSON.parse(s))).toEqual(sent);
    sb.send({ type: "pull" });
    await sb.settle();
    expect(sb.seen("pull")).toHaveLength(1);
  });

  it("hands live messages over once: a later frame from the client confirms them, and they are not pulled again", async () => {
    const [a, b] = await friends();
    const sa = await connectSeed(a);
    const sb = await connectSeed(b);
    sa.send({ toUid: b, isGroup: 0, type: "text", id: "live", content: "now" });
    await sb.next("text");
    await sleep(CONFIRM_AFTER_MS + 100);
    sb.send({ type: "pull" });
    await sb.settle();
    sb.close(1000);
    await sb.closed;
    const again = await connectSeed(b);
    again.send({ type: "pull" });
    await again.settle();
    expect(again.seen("pull")).toEqual([]);
  });

  it("offers again what a closed socket had not confirmed, but not what another socket confirmed", async () => {
    const [a, b] = await friends();
    const sa = await connectSeed(a);
    const b1 = await connectSeed(b);
    const b2 = await connectSeed(b);
    sa.send({ toUid: b, isGroup: 0, type: "text", id: "both", content: "to both sockets" });
    await b1.next("text");
    await b2.next("text");
    await sleep(CONFIRM_AFTER_MS + 100);
    await Promise.all([b1.settle(), b2.settle()]);
    b1.close(4000);
    await b1.closed;
    b2.send({ type: "pull" });
    await b2.settle();
    expect(b2.seen("pull")).toEqual([]);
  });

  it("loses nothing handed to sockets when the object restarts (a deploy)", async () => {
    const [a, b] = await friends();
    const sa = await connectSeed(a);
    const sb = await connectSeed(b);
    const frame = { fromUid: a, toUid: b, isGroup: 0, type: "text", id: "deploy", content: "sent just before the deploy" };
    sa.send(frame);
    await sb.next("text");
    await abortAllDurableObjects();
    await sb.closed;
    const back = await connectSeed(b);
    back.send({ type: "pull" });
    const pull = await back.next("pull");
    expect((pull.message as string[]).map((s) => JSON.parse(s))).toEqual([frame]);
  });

  it("puts back what a socket that died abnormally had not confirmed: nothing is lost", async () => {
    const [a, b] = await friends();
    const sa = await connectSeed(a);
    const sb = await connectSeed(b);
    const frame = { fromUid: a, toUid: b, isGroup: 0, type: "text", id: "fragile", content: "did you get this?" };
    sa.send(frame);
    await sb.next("text");
    sb.close(4000); // not a normal close: as if the network dropped
    await sb.closed;
    const back = await connectSeed(b);
    back.send({ type: "pull" });
    const pull = await back.next("pull");
    expect((pull.message as string[]).map((s) => JSON.parse(s))).toEqual([frame]);
  });

  it("pages a long queue into pull frames that each fit the frame limit, in order", async () => {
    const [a, b] = await friends();
    const sa = await connectSeed(a);
    const big = "x".repeat(20_000);
    for (let i = 0; i < 8; i++) sa.send({ toUid: b, isGroup: 0, type: "text", id: `big${i}`, content: big });
    await sa.settle();
    const sb = await connectSeed(b);
    sb.send({ type: "pull" });
    await sb.settle();
    const pulls = sb.seen("pull");
    expect(pulls.length).toBeGreaterThan(1);
    for (const p of pulls) expect(new TextEncoder().encode(JSON.stringify(p)).byteLength).toBeLessThanOrEqual(65_536);
    const ids = pulls.flatMap((p) => (p.message as string[]).map((s) => (JSON.parse(s) as { id: string }).id));
    expect(ids).toEqual(Array.from({ length: 8 }, (_, i) => `big${i}`));
  });
});

describe("seed frames, online and heart", () => {
  it("lists online friends only, and pushes the list again when a friend comes or goes", async () => {
    const [a, b] = await friends();
    const stranger = await createUser();
    await connect(stranger);
    const sa = await connectSeed(a);
    sa.send({ type: "online" });
    expect(await sa.next("online")).toEqual({ list: [], type: "online" });
    const sb = await connectSeed(b);
    expect(await sa.next("online")).toEqual({ list: [b], type: "online" });
    sb.close();
    expect(await sa.next("online")).toEqual({ list: [], type: "online" });
  });

  it("answers heart with {type: heart, group, client}, also when the client fills every field with blanks", async () => {
    const a = await createUser();
    const sa = await connectSeed(a, "phone1");
    sa.send({ type: "heart" });
    expect(await sa.next("heart")).toEqual({ type: "heart", group: [], client: `${a}:phone1` });
    sa.send({ type: "heart", toUid: "", isGroup: null, id: null });
    expect(await sa.next("heart")).toEqual({ type: "heart", group: [], client: `${a}:phone1` });
    sa.send({ type: "text", toUid: "", isGroup: "", id: 9, content: "to nobody" });
    expect(await sa.next("error")).toMatchObject({ id: 9, error: { code: "bad_request", fields: { toUid: "required" } } });
  });
});

describe("seed frames, groups", () => {
  it("makes group commands sent faster than the send budget wait for it instead of dropping them", async () => {
    const [owner, friend] = await friends();
    const so = await connectSeed(owner);
    // Spend the whole budget from the owner's other device first.
    const v1 = await connect(owner);
    const burst = await Promise.all(Array.from({ length: 150 }, (_, i) => v1.request(textTo(friend, `burst ${i}`))));
    expect(burst.some((r) => !r.ok && r.error.code === "rate_limited")).toBe(true);
    const gids = Array.from({ length: 10 }, () => uniqueId("g"));
    for (const gid of gids) so.send({ toUid: gid, isGroup: 1, type: "create_group" });
    await so.settle();
    expect(so.seen("error")).toEqual([]);
    for (const gid of gids) {
      expect(await expectJson(await api("GET", `/api/v1/groups/${gid}`), 200)).toMatchObject({ owner });
    }
  });

  it("creates, joins, posts without echo, leaves, kicks and dismisses, with the safe rules", async () => {
    const owner = await createUser();
    const m1 = await createUser();
    const m2 = await createUser();
    const outsider = await createUser();
    const so = await connectSeed(owner);
    const s1 = await connectSeed(m1);
    const s2 = await connectSeed(m2);
    const sx = await connectSeed(outsider);
    const gid = uniqueId("g");
    so.send({ toUid: gid, isGroup: 1, type: "create_group", id: "c1" });
    await so.settle();
    expect(await expectJson(await api("GET", `/api/v1/groups/${gid}`), 200)).toMatchObject({ owner, settings: { joinPolicy: "open" } });
    s1.send({ toUid: gid, isGroup: 1, type: "join_group" });
    s2.send({ toUid: gid, isGroup: 1, type: "join_group" });
    await Promise.all([s1.settle(), s2.settle()]);

    const post = { fromUid: m1, toUid: gid, isGroup: 1, type: "text", id: "g1", content: "hello group" };
    s1.send(post);
    expect(await so.next("text")).toEqual(post);
    expect(await s2.next("text")).toEqual(post);
    await s1.settle();
    expect(s1.seen("text")).toEqual([]); // never echoed to the sender
    sx.send({ toUid: gid, isGroup: 1, type: "text", id: "x1", content: "let me in" });
    expect(await sx.next("stranger")).toEqual({ id: "x1", type: "stranger" });

    s2.send({ toUid: gid, isGroup: 1, type: "leave_group" });
    await s2.settle();
    s2.send({ toUid: gid, isGroup: 1, type: "text", id: "g2", content: "after leaving" });
    expect(await s2.next("stranger")).toEqual({ id: "g2", type: "stranger" });

    s1.send({ toUid: gid, isGroup: 1, type: "kick_group", kickUid: owner, id: "k1" });
    expect(await s1.next("error")).toMatchObject({ id: "k1", error: { code: "forbidden" } });
    // The seed's own kick_group names nobody: nothing happens, as in effect on the seed.
    so.send({ toUid: gid, isGroup: 1, type: "kick_group", id: "k2" });
    await so.settle();
    expect(so.seen("error")).toEqual([]);
    so.send({ toUid: gid, isGroup: 1, type: "kick_group", kickUid: m1 });
    await so.settle();
    const { members } = await expectJson<{ members: { uid: string }[] }>(await api("GET", `/api/v1/groups/${gid}/members`), 200);
    expect(members.map((m) => m.uid)).toEqual([owner]);

    s1.send({ toUid: gid, isGroup: 1, type: "join_group" });
    await s1.settle();
    s1.send({ toUid: gid, isGroup: 1, type: "dismiss_group", id: "d1" });
    expect(await s1.next("error")).toMatchObject({ id: "d1", error: { code: "forbidden" } });
    so.send({ toUid: gid, isGroup: 1, type: "dismiss_group" });
    await so.settle();
    s1.send({ toUid: gid, isGroup: 1, type: "text", id: "g3", content: "anyone?" });
    expect(await s1.next("stranger")).toEqual({ id: "g3", type: "stranger" });
    for (const s of [so, s1, s2, sx]) expect(s.seen("__bad")).toEqual([]);
  });

  it("hands a burst of group posts to a seed client one JSON frame per message, in order", async () => {
    const owner = await createUser();
    const m1 = await createUser();
    const so = await connectSeed(owner);
    const s1 = await connectSeed(m1);
    const gid = uniqueId("g");
    so.send({ toUid: gid, isGroup: 1, type: "create_group" });
    await so.settle();
    s1.send({ toUid: gid, isGroup: 1, type: "join_group" });
    await s1.settle();
    // Sent in one turn: the group appends and pushes them together, as one run of frames.
    for (let i = 0; i < 30; i++) so.send({ toUid: gid, isGroup: 1, type: "text", id: `b${i}`, content: `burst ${i}` });
    for (let i = 0; i < 30; i++) expect(await s1.next("text")).toMatchObject({ id: `b${i}`, content: `burst ${i}` });
    expect(s1.seen("__bad")).toEqual([]);
  });

  it("stays closed to join_group once its owner closes it, and queues group messages for offline members", async () => {
    const owner = await createUser();
    const member = await createUser();
    const late = await createUser();
    const so = await connectSeed(owner);
    const gid = uniqueId("g");
    so.send({ toUid: gid, isGroup: 1, type: "create_group" });
    await so.settle();
    const sm = await connectSeed(member);
    sm.send({ toUid: gid, isGroup: 1, type: "join_group" });
    await sm.settle();
    sm.close(1000);
    await sm.closed;
    const post = { fromUid: owner, toUid: gid, isGroup: 1, type: "text", id: "while-away", content: "catch up" };
    so.send(post);
    await so.settle();
    expect(await expectJson(await api("PATCH", `/api/v1/groups/${gid}`, { joinPolicy: "invite" }), 200)).toMatchObject({
      settings: { joinPolicy: "invite" }
    });
    const sl = await connectSeed(late);
    sl.send({ toUid: gid, isGroup: 1, type: "join_group", id: "j" });
    expect(await sl.next("error")).toMatchObject({ id: "j", error: { code: "forbidden" } });

    await drainFanout(gid);
    const back = await connectSeed(member);
    back.send({ type: "pull" });
    await back.settle();
    expect(back.seen("pull").flatMap((p) => (p.message as string[]).map((s) => JSON.parse(s)))).toEqual([post]);
  });
});

describe("compat and v1 share users, friends, groups and inboxes", () => {
  it("keeps one message id per conversation and type: a read reusing a text's id still goes through", async () => {
    const [a, b] = await friends();
    const sa = await connectSeed(a);
    const sb = await connectSeed(b);
    const text = { fromUid: a, toUid: b, isGroup: 0, type: "text", id: 5, content: "hi" };
    const read = { fromUid: a, toUid: b, isGroup: 0, type: "read", id: 5 };
    sa.send(text);
    sa.send(read);
    sa.send(text); // a resend: stored once
    expect(await sb.next("text")).toEqual(text);
    expect(await sb.next("read")).toEqual(read);
    await sa.settle();
    await sb.settle();
    expect(sb.seen("text")).toHaveLength(1);
    expect(sa.seen("error")).toEqual([]);
  });

  it("refuses v1 messages of a kind a seed client would take for a server frame", async () => {
    const [seedUser, v1User] = await friends();
    const s = await connectSeed(seedUser);
    const v = await connect(v1User);
    for (const kind of ["pull", "online", "heart", "stranger", "error"]) {
      const forged = { type: "send", to: seedUser, cmid: `forge-${kind}`, kind, body: { type: kind, fromUid: v1User, toUid: seedUser, message: ["{}"] } };
      expect(await v.request(forged)).toMatchObject({ ok: false, error: { code: "bad_request", fields: { kind: "reserved" } } });
    }
    await s.settle();
    for (const type of ["pull", "stranger", "error"]) expect(s.seen(type)).toEqual([]);
    // The only online lists are the server's (v1User connecting), and one heart answers the settle.
    expect(s.seen("online")).toEqual(s.seen("online").map(() => ({ list: [v1User], type: "online" })));
    expect(s.seen("heart")).toEqual([{ type: "heart", group: [], client: expect.any(String) }]);
  });

  it("chats privately both ways between a compat client and a v1 client", async () => {
    const [seedUser, v1User] = await friends();
    const s = await connectSeed(seedUser);
    const v = await connect(v1User);
    const frame = { fromUid: seedUser, toUid: v1User, isGroup: 0, type: "text", id: "interop1", content: "from the seed" };
    s.send(frame);
    const got = await v.next("message");
    expect(got).toMatchObject({ from: seedUser, to: v1User, chat: "dm", kind: "text", body: frame });
    const ack = await v.ok<SendAck>(textTo(seedUser, "from v1", "cm-1"));
    const back = await s.next("text");
    expect(back).toEqual({ fromUid: v1User, toUid: seedUser, isGroup: 0, type: "text", id: ack.mid, content: { text: "from v1" }, ts: ack.ts });
    // A v1 body shaped like a seed frame is delivered as such, with the true sender.
    await v.ok(textTo(seedUser, "ignored", "cm-2"));
    await s.next("text");
    await v.ok({ type: "send", to: seedUser, cmid: "cm-3", kind: "text", body: { fromUid: "someone_else", toUid: seedUser, type: "text", content: "spoof?" } });
    expect(await s.next("text", (f) => f.content === "spoof?")).toEqual({ fromUid: v1User, toUid: seedUser, type: "text", content: "spoof?" });
  });

  it("posts to one group from both protocols", async () => {
    const seedOwner = await createUser();
    const v1Member = await createUser();
    const so = await connectSeed(seedOwner);
    const gid = uniqueId("g");
    so.send({ toUid: gid, isGroup: 1, type: "create_group", name: "mixed" });
    await so.settle();
    const v = await connect(v1Member);
    await v.ok({ type: "group_join", gid });
    const post = { fromUid: seedOwner, toUid: gid, isGroup: 1, type: "text", id: "gp1", content: "hi v1" };
    so.send(post);
    expect(await v.next("message")).toMatchObject({ chat: "group", to: gid, from: seedOwner, kind: "text", body: post });
    const ack = await v.ok<SendAck>(groupText(gid, "hi seed", "gcm-1"));
    expect(await so.next("text")).toEqual({ fromUid: v1Member, toUid: gid, isGroup: 1, type: "text", id: ack.mid, content: { text: "hi seed" }, ts: ack.ts });
  });

  it("turns backend pushes, friend requests and read receipts into seed frames", async () => {
    const [a, b] = await friends();
    const s = await connectSeed(a);
    const v = await connect(b);
    await expectJson(await api("POST", "/api/v1/push/users", { uids: [a], body: { type: "order", orderId: 42 } }), 200);
    expect(await s.next("order")).toEqual({ type: "order", orderId: 42 });
    const c = await createUser();
    const req = await expectJson<{ id: string }>(await api("POST", "/api/v1/friend-requests", { from: c, to: a, message: "hey" }), 201);
    expect(await s.next("friend_request")).toEqual({ type: "friend_request", fromUid: c, toUid: a, isGroup: 0, id: req.id, content: "hey" });
    s.send({ toUid: b, isGroup: 0, type: "text", id: "r1", content: "read me" });
    const msg = (await v.next("message")) as MessageEvent;
    await v.ok({ type: "read", peer: a, mid: msg.mid });
    expect(await s.next("read")).toEqual({ type: "read", fromUid: b, toUid: a, isGroup: 0, id: msg.mid });
  });
});
