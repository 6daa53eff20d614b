import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ConversationPage, HistoryEvent, MessageEvent, SendAck, SyncResult, UpdateEvent } from "../../src/protocol";
import { newEventId } from "../../src/lib/ids";
import { api, connect, copyOf, createUser, friends, textTo } from "../helpers/fixtures";
import { connectSeed } from "../helpers/compat";
import { connectedUsers, groupText, makeGroup } from "../helpers/groups";

/** Makes a user's inbox unwritable (a storage fault), or heals it. */
async function breakInbox(uid: string, broken: boolean) {
  await runInDurableObject(env.USERS.getByName(uid), (_o, state) => {
    state.storage.sql.exec(broken ? "ALTER TABLE inbox RENAME TO inbox_off" : "ALTER TABLE inbox_off RENAME TO inbox");
  });
}

describe("a recall leaves no text behind", () => {
  it("in direct chats: earlier edit updates lose their bodies, quotes of it lose their text", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const sent = await a.ok<SendAck>(textTo(bob, "first draft"));
    await a.ok({ type: "edit", mid: sent.mid, body: { text: "second draft" } });
    await b.next("update");
    const reply = await b.ok<SendAck>({ ...textTo(alice, "quoting"), replyTo: sent.mid });
    await a.next("message", (m) => m.mid === reply.mid);
    await a.ok({ type: "recall", mid: sent.mid });
    await b.next("update", (u) => u.op === "recall");

    for (const c of [a, b]) {
      const page = await c.ok<SyncResult>({ type: "sync", after: 0 });
      expect(JSON.stringify(page.events)).not.toContain("draft");
      const edit = page.events.find((e): e is UpdateEvent => e.type === "update" && e.op === "edit");
      expect(edit).toMatchObject({ version: 1 });
      expect(edit?.body).toBeUndefined();
      expect((await copyOf(c, reply.mid))?.reply).toEqual({ mid: sent.mid, from: alice, kind: "text", text: null });
    }
  });

  it("in groups: the history, members' streams and inboxes keep no text of it", async () => {
    const [o, m] = [await createUser(), await createUser()];
    const O = await connect(o);
    const M = await connect(m);
    const gid = (await makeGroup(O, [m])).id;
    const sent = await O.ok<SendAck>(groupText(gid, "classified one"));
    await O.ok({ type: "edit", mid: sent.mid, body: { text: "classified two" } });
    await M.next("update");
    const reply = await M.ok<SendAck>(groupText(gid, "re", undefined, { replyTo: sent.mid }));
    await O.next("message", (e) => e.mid === reply.mid);
    await O.ok({ type: "recall", mid: sent.mid });
    await M.next("update", (u) => u.op === "recall");
    const hist = await M.ok<{ events: HistoryEvent[] }>({ type: "group_history", gid });
    expect(JSON.stringify(hist.events)).not.toContain("classified");
    for (const c of [O, M]) {
      for (const frame of [{ type: "sync", after: 0 }, { type: "sync", gid, after: 0 }]) {
        const page = await c.ok<SyncResult>(frame);
        expect(JSON.stringify(page.events)).not.toContain("classified");
      }
      expect(await c.request({ type: "edits", mid: sent.mid })).toMatchObject({ ok: false, error: { code: "message_recalled" } });
    }
  });
});

describe("a recall reaches former members", () => {
  it("takes the text out of the copies of members who left or were kicked after receiving it, and nobody else", async () => {
    const [o, leaver, kicked, early] = await connectedUsers(4);
    const g = await makeGroup(o!.c, [leaver!.uid, kicked!.uid, early!.uid]);
    await early!.c.ok({ type: "group_leave", gid: g.id });
    const sent = await o!.c.ok<SendAck>(groupText(g.id, "the password is hunter2"));
    for (const m of [leaver!, kicked!]) await m.c.next("message", (x) => x.mid === sent.mid);
    await leaver!.c.ok({ type: "group_leave", gid: g.id });
    await o!.c.ok({ type: "group_kick", gid: g.id, uid: kicked!.uid });
    await o!.c.ok({ type: "recall", mid: sent.mid });
    for (const m of [leaver!, kicked!]) {
      await m.c.next("update", (u) => u.mid === sent.mid && u.op === "recall");
      // The recall reaches their inbox (they are no longer members); the group shows the message recalled.
      const page = await m.c.ok<SyncResult>({ type: "sync", after: 0 });
      expect(JSON.stringify(page.events)).not.toContain("hunter2");
      expect((await copyOf(m.c, sent.mid, g.id))?.recalled).toMatchObject({ by: o!.uid });
    }
    const earlyPage = await early!.c.ok<SyncResult>({ type: "sync", after: 0 });
    expect(earlyPage.events.some((e) => e.type === "update" && e.mid === sent.mid)).toBe(false);
  });

  it("forgets a former membership once the history no longer keeps what it covered", async () => {
    const [o, m] = await connectedUsers(2);
    const g = await makeGroup(o!.c, [m!.uid]);
    await m!.c.ok({ type: "group_leave", gid: g.id });
    const stub = env.GROUPS.getByName(g.id);
    const former = () => runInDurableObject(stub, (_o, s) => s.storage.sql.exec("SELECT uid FROM former").toArray());
    expect(await former()).toEqual([{ uid: m!.uid }]);
    await runInDurableObject(stub, (_o, s) => s.storage.sql.exec("UPDATE former SET left_at = left_at - 31 * 24 * 3600 * 1000"));
    await runInDurableObject(stub, (_o, s) => s.storage.setAlarm(Date.now()));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await former()).toEqual([]);
  });
});

describe("a recall reaches quotes held by later members", () => {
  it("scrubs the quote in the stream of a member who joined after the message", async () => {
    const [o, m, late] = [await createUser(), await createUser(), await createUser()];
    const O = await connect(o);
    const M = await connect(m);
    const L = await connect(late);
    const gid = (await makeGroup(O, [m])).id;
    const sent = await O.ok<SendAck>(groupText(gid, "before you joined"));
    await M.next("message", (e) => e.mid === sent.mid);
    expect((await api("POST", `/api/v1/groups/${gid}/members`, { uid: late })).status).toBe(201);
    const reply = await M.ok<SendAck>(groupText(gid, "quoting it", undefined, { replyTo: sent.mid }));
    expect((await L.next("message", (e) => e.mid === reply.mid)).reply?.text).toBe("before you joined");
    await O.ok({ type: "recall", mid: sent.mid });
    expect(await L.next("update", (u) => u.op === "recall")).toMatchObject({ mid: sent.mid });
    expect((await copyOf(L, reply.mid, gid))?.reply).toEqual({ mid: sent.mid, from: o, kind: "text", text: null });
    expect(await copyOf(L, sent.mid, gid)).toBeUndefined();
  });
});

describe("retries and races", () => {
  it("answers a resend of an edited message with its ack, not a conflict", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const frame = textTo(bob, "original", "same-cmid");
    const ack = await a.ok<SendAck>(frame);
    await a.ok({ type: "edit", mid: ack.mid, body: { text: "edited" } });
    expect(await a.ok<SendAck>(frame)).toEqual(ack);
    const gid = (await makeGroup(a, [bob])).id;
    const gframe = groupText(gid, "group original", "g-cmid");
    const gack = await a.ok<SendAck>(gframe);
    await a.ok({ type: "edit", mid: gack.mid, body: { text: "group edited" } });
    await a.next("update");
    expect(await a.ok<SendAck>(gframe)).toEqual(gack);
  });

  it("delivers a pending message before deleting it for its sender, so the peer still gets it whole", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    await connect(bob).then((b) => b.close());
    await breakInbox(bob, true);
    const reply = await a.request(textTo(bob, "keep for bob", "pending-1"));
    expect(reply).toMatchObject({ ok: false, error: { code: "unavailable" } });
    const pendingMid = ((await a.ok<SyncResult>({ type: "sync", after: 0 })).events[0] as MessageEvent).mid;

    // Bob still unreachable: the delete is refused (retryable) and nothing changes.
    expect(await a.request({ type: "delete", mid: pendingMid })).toMatchObject({ ok: false, error: { code: "unavailable", retryable: true } });
    expect(await copyOf(a, pendingMid)).toMatchObject({ body: { text: "keep for bob" } });
    await breakInbox(bob, false);
    expect(await a.ok({ type: "delete", mid: pendingMid })).toEqual({ mid: pendingMid, changed: true });
    expect(await a.ok({ type: "delete", mid: pendingMid })).toEqual({ mid: pendingMid, changed: false });
    const b = await connect(bob);
    expect(await copyOf(b, pendingMid)).toMatchObject({ body: { text: "keep for bob" } });
    expect((await copyOf(b, pendingMid))?.deleted).toBeUndefined();
  });

  it("delivers an edit and a reaction the peer could not store from the alarm, once each", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b0 = await connect(bob);
    const sent = await a.ok<SendAck>(textTo(bob, "v0"));
    await b0.next("message");
    b0.close();
    await b0.closed;
    await breakInbox(bob, true);
    // The change holds at once on Alice's side; Bob's copy follows when his inbox is back.
    expect(await a.ok({ type: "edit", mid: sent.mid, body: { text: "v1" } })).toMatchObject({ changed: true, version: 1 });
    expect(await a.ok({ type: "react", mid: sent.mid, emoji: "🎉" })).toMatchObject({ changed: true });
    expect(await copyOf(a, sent.mid)).toMatchObject({ body: { text: "v1" }, reactions: { "🎉": [alice] } });
    await breakInbox(bob, false);
    const aliceStub = env.USERS.getByName(alice);
    await runDurableObjectAlarm(aliceStub);
    await runDurableObjectAlarm(aliceStub);
    const b = await connect(bob);
    const page = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events.map((e) => (e.type === "update" ? `update:${e.op}` : e.type))).toEqual(["message", "update:edit", "update:react"]);
    expect(await copyOf(b, sent.mid)).toMatchObject({ body: { text: "v1" }, edited: 1, reactions: { "🎉": [alice] } });
  });

  it("throttles typing that alternates start and stop", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const results: boolean[] = [];
    for (const active of [true, false, true, false, true]) {
      results.push((await a.ok<{ relayed: boolean }>({ type: "typing", to: bob, active })).relayed);
    }
    expect(results).toEqual([true, true, false, false, false]);
    await b.next("typing", (t) => !t.active);
    expect(b.seen((f) => f.type === "typing")).toHaveLength(2);
  });
});

describe("reaction names are data", () => {
  it("stores emoji named like Object properties as reactions, in a direct chat and a group", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const dm = await a.ok<SendAck>(textTo(bob, "react"));
    const g = await makeGroup(a, [bob]);
    const post = await a.ok<SendAck>(groupText(g.id, "react here too"));
    for (const [mid, gid] of [[dm.mid, undefined], [post.mid, g.id]] as const) {
      await b.next("message", (m) => m.mid === mid);
      await b.ok({ type: "react", mid, emoji: "👍" });
      for (const emoji of ["toString", "__proto__", "constructor"]) {
        expect(await a.ok({ type: "react", mid, emoji })).toMatchObject({ changed: true });
      }
      expect(await a.ok({ type: "react", mid, emoji: "toString" })).toMatchObject({ changed: false });
      await b.next("update", (u) => u.mid === mid && u.emoji === "constructor");
      for (const c of [a, b]) {
        const reactions = (await copyOf(c, mid, gid))!.reactions!;
        expect(Object.keys(reactions).sort()).toEqual(["__proto__", "constructor", "toString", "👍"].sort());
        expect(Object.getOwnPropertyDescriptor(reactions, "__proto__")?.value).toEqual([alice]);
      }
      expect(await a.ok({ type: "react", mid, emoji: "__proto__", remove: true })).toMatchObject({ changed: true });
      await b.next("update", (u) => u.mid === mid && u.op === "unreact");
      expect(Object.keys((await copyOf(b, mid, gid))!.reactions!).sort()).toEqual(["constructor", "toString", "👍"].sort());
    }
  });
});

describe("what counts as a conversation", () => {
  it("leaves the seed's control frames (friend requests, read marks) out of unread counts and the list", async () => {
    const [alice, bob] = await friends();
    const stranger = await createUser();
    const b = await connect(bob);
    const seed = await connectSeed(stranger);
    seed.send({ type: "friend_request", toUid: bob, isGroup: 0, id: "fr1", content: "hi" });
    await b.next("message", (m) => m.kind === "friend_request");
    const a = await connect(alice);
    await a.ok(textTo(bob, "a real message"));
    await b.next("message", (m) => m.from === alice);
    const page = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events.filter((e) => e.type === "message")).toHaveLength(2);
    const list = await b.ok<ConversationPage>({ type: "conversations" });
    expect(list.conversations.map((c) => [c.peer, c.unread])).toEqual([[alice, 1]]);
    expect(list.totalUnread).toBe(1);
    // Still a message of Bob's inbox: deleting it for himself works.
    const request = page.events.find((e) => e.type === "message" && e.kind === "friend_request") as MessageEvent;
    expect(await b.ok({ type: "delete", mid: request.mid })).toEqual({ mid: request.mid, changed: true });
    expect(await copyOf(b, request.mid)).toMatchObject({ body: null, deleted: true });
    expect(await b.ok({ type: "delete", mid: request.mid })).toEqual({ mid: request.mid, changed: false });
  });

  it("lists no empty entries for muted conversations without messages; a group left can still be unmuted", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    await a.ok({ type: "conversation_mute", peer: bob, muted: true });
    expect((await a.ok<ConversationPage>({ type: "conversations" })).conversations).toEqual([]);

    const owner = await createUser();
    const O = await connect(owner);
    const gid = (await makeGroup(O, [alice])).id;
    await O.ok(groupText(gid, "hello"));
    await a.next("message", (m) => m.chat === "group");
    await a.ok({ type: "conversation_mute", chat: "group", peer: gid, muted: true });
    await a.ok({ type: "group_leave", gid });
    expect(await a.ok({ type: "conversation_mute", chat: "group", peer: gid, muted: false })).toEqual({ muted: false, changed: true });
    expect((await a.ok<ConversationPage>({ type: "conversations" })).conversations).toEqual([
      expect.objectContaining({ chat: "group", peer: gid, muted: false })
    ]);
    expect((await api("GET", `/api/v1/users/${alice}/search?q=x&chat=dm`)).status).toBe(400);
  });

  it("drops what retention removed from the unread counts", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const acks: SendAck[] = [];
    for (const t of ["old 1", "old 2", "new"]) acks.push(await a.ok<SendAck>(textTo(bob, t)));
    const b = await connect(bob);
    expect((await b.ok<ConversationPage>({ type: "conversations" })).conversations[0]?.unread).toBe(3);
    const stub = env.USERS.getByName(bob);
    await runInDurableObject(stub, (_o, state) => {
      state.storage.sql.exec("UPDATE inbox SET at = ? WHERE seq <= 2", Date.now() - 30 * 24 * 3600 * 1000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await b.ok<ConversationPage>({ type: "conversations" });
    expect(after.conversations[0]).toMatchObject({ unread: 1, last: expect.objectContaining({ mid: acks[2]!.mid }) });
    expect(after.totalUnread).toBe(1);
    expect(await b.ok({ type: "read", peer: alice, mid: acks[2]!.mid })).toMatchObject({ unread: 0 });
  });

  it("indexes messages stored before the index existed, carrying their read marks over", async () => {
    const [alice, bob] = await friends();
    const stub = env.USERS.getByName(bob);
    const ts = Date.now();
    const mids = [newEventId(ts), newEventId(ts + 1), newEventId(ts + 2)];
    // Rows as an inbox held them before: no index columns, a read mark in `reads`.
    const control = newEventId(ts + 3);
    const ownInGroup = newEventId(ts + 4);
    await runInDurableObject(stub, (_o, state) => {
      const rows = [
        ...mids.map((mid, i) => ({ type: "message", mid, chat: "dm", from: alice, to: bob, kind: "text", body: { text: `old ${i}` }, ts: ts + i })),
        // A seed control frame (not a conversation message) and Bob's own group message.
        { type: "message", mid: control, chat: "dm", from: alice, to: bob, kind: "friend_request", body: { type: "friend_request", fromUid: alice, toUid: bob }, ts: ts + 3 },
        { type: "message", mid: ownInGroup, chat: "group", from: bob, to: "g_old", kind: "text", body: "mine", ts: ts + 4 }
      ];
      rows.forEach((e, i) => {
        state.storage.sql.exec("INSERT INTO inbox (seq, eid, at, event) VALUES (?, ?, ?, ?)", i + 1, e.mid, ts, JSON.stringify(e));
      });
      state.storage.sql.exec("INSERT INTO reads (peer, seq) VALUES (?, 1)", alice);
      state.storage.kv.delete("convs.indexed");
      state.storage.kv.delete("inbox.trimmed");
    });
    await evictDurableObject(stub);
    const b = await connect(bob);
    const list = await b.ok<ConversationPage>({ type: "conversations" });
    // A group's entry comes from the group, where its messages are stored (there is no g_old).
    expect(list.conversations).toEqual([
      expect.objectContaining({ chat: "dm", peer: alice, unread: 2, last: expect.objectContaining({ mid: mids[2] }) })
    ]);
    expect(list.totalUnread).toBe(2);
    expect((await b.ok<{ messages: MessageEvent[] }>({ type: "search", q: "old 1" })).messages.map((m) => m.mid)).toEqual([mids[1]]);
  });
});
