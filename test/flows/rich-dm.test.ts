import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type {
  EditsResult,
  MessageEvent,
  SendAck,
  SyncResult,
  UpdateEvent,
  UpdateResult
} from "../../src/protocol";
import { befriend, connect, copyOf, createUser, friends, textTo } from "../helpers/fixtures";
import { groupText, makeGroup } from "../helpers/groups";

/** Makes message `mid` in `uid`'s inbox look `ageMs` old (the recall window is measured from `ts`). */
async function age(uid: string, mid: string, ageMs: number): Promise<void> {
  await runInDurableObject(env.USERS.getByName(uid), (_o, state) => {
    const row = state.storage.sql.exec<{ event: string }>("SELECT event FROM inbox WHERE json_extract(event, '$.mid') = ?", mid).one();
    const e = JSON.parse(row.event) as MessageEvent;
    state.storage.sql.exec("UPDATE inbox SET event = ? WHERE json_extract(event, '$.mid') = ?", JSON.stringify({ ...e, ts: e.ts - ageMs }), mid);
  });
}

describe("edit (direct)", () => {
  it("gives every device of both users the new version, keeps the history, and an offline device catches up on sync", async () => {
    const [alice, bob] = await friends();
    const aPhone = await connect(alice, { device: "phone" });
    const aLaptop = await connect(alice, { device: "laptop" });
    const bPhone = await connect(bob, { device: "phone" });
    const sent = await aPhone.ok<SendAck>(textTo(bob, "helo"));
    await bPhone.next("message");

    const r1 = await aPhone.ok<UpdateResult>({ type: "edit", mid: sent.mid, body: { text: "hello" } });
    expect(r1).toEqual({ mid: sent.mid, changed: true, version: 1 });
    const r2 = await aPhone.ok<UpdateResult>({ type: "edit", mid: sent.mid, body: { text: "hello!" } });
    expect(r2.version).toBe(2);
    for (const dev of [aPhone, aLaptop, bPhone]) {
      const first = await dev.next("update", (u) => u.version === 1);
      expect(first).toMatchObject({ op: "edit", chat: "dm", from: alice, to: bob, mid: sent.mid, body: { text: "hello" } });
      expect(await dev.next("update", (u) => u.version === 2)).toMatchObject({ body: { text: "hello!" } });
    }

    // Bob's tablet was never connected: its first sync shows the current version and the updates.
    const bTab = await connect(bob, { device: "tab" });
    const page = await bTab.ok<SyncResult>({ type: "sync", after: 0 });
    const msg = page.events.find((e) => e.type === "message") as MessageEvent;
    expect(msg).toMatchObject({ mid: sent.mid, body: { text: "hello!" }, edited: 2 });
    expect(msg.editedAt).toBeTypeOf("number");
    expect(page.events.filter((e) => e.type === "update").map((e) => (e as UpdateEvent).version)).toEqual([1, 2]);

    const history = await bTab.ok<EditsResult>({ type: "edits", mid: sent.mid });
    expect(history.versions.map((v) => [v.version, v.body])).toEqual([
      [0, { text: "helo" }],
      [1, { text: "hello" }],
      [2, { text: "hello!" }]
    ]);
    expect(await aLaptop.ok<EditsResult>({ type: "edits", mid: sent.mid })).toEqual(history);
  });

  it("refuses to edit someone else's message or one you cannot see, and changes nothing", async () => {
    const [alice, bob] = await friends();
    const carol = await createUser();
    await befriend(alice, carol);
    const a = await connect(alice);
    const b = await connect(bob);
    const sent = await a.ok<SendAck>(textTo(bob, "mine"));
    const toCarol = await a.ok<SendAck>(textTo(carol, "not for bob"));

    expect(await b.request({ type: "edit", mid: sent.mid, body: { text: "forged" } })).toMatchObject({
      ok: false,
      error: { code: "not_author", num: 208 }
    });
    expect(await b.request({ type: "edit", mid: toCarol.mid, body: { text: "x" } })).toMatchObject({
      ok: false,
      error: { code: "unknown_message" }
    });
    expect(await b.request({ type: "edit", mid: sent.mid, body: { text: "x".repeat(40_000) } })).toMatchObject({
      ok: false,
      error: { code: "not_author" }
    });
    expect(await a.request({ type: "edit", mid: sent.mid, body: { text: "x".repeat(40_000) } })).toMatchObject({
      ok: false,
      error: { code: "message_too_large" }
    });
    expect(await a.request({ type: "edit", mid: "nope", body: 1 })).toMatchObject({ ok: false, error: { code: "invalid_frame" } });
    expect(await copyOf(b, sent.mid)).toMatchObject({ body: { text: "mine" } });
    expect((await copyOf(b, sent.mid))?.edited).toBeUndefined();
    expect(b.seen((f) => f.type === "update")).toEqual([]);
  });
});

describe("a repeated edit (direct and group)", () => {
  it("changes nothing when the body is the one the message has: a retried edit is not a new version", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const sent = await a.ok<SendAck>(textTo(bob, "draft"));
    const edit = { type: "edit", mid: sent.mid, body: { text: "final" } };
    expect(await a.ok<UpdateResult>(edit)).toMatchObject({ changed: true, version: 1 });
    expect(await a.ok<UpdateResult>(edit)).toEqual({ mid: sent.mid, changed: false });
    expect((await b.ok<EditsResult>({ type: "edits", mid: sent.mid })).versions).toHaveLength(2);
    expect(await copyOf(b, sent.mid)).toMatchObject({ body: { text: "final" }, edited: 1 });

    const gid = (await makeGroup(a, [bob])).id;
    const posted = await a.ok<SendAck>(groupText(gid, "group draft"));
    const gedit = { type: "edit", mid: posted.mid, body: { text: "group final" } };
    expect(await a.ok<UpdateResult>(gedit)).toMatchObject({ changed: true, version: 1 });
    expect(await a.ok<UpdateResult>(gedit)).toEqual({ mid: posted.mid, changed: false });
  });
});

describe("recall (direct)", () => {
  it("takes a message back for everyone within the window; the body is gone from every copy", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice, { device: "phone" });
    const aLaptop = await connect(alice, { device: "laptop" });
    const b = await connect(bob);
    const sent = await a.ok<SendAck>(textTo(bob, "oops"));
    await b.next("message");
    await a.ok({ type: "edit", mid: sent.mid, body: { text: "oops!" } });

    expect(await a.ok<UpdateResult>({ type: "recall", mid: sent.mid })).toEqual({ mid: sent.mid, changed: true });
    expect(await a.ok<UpdateResult>({ type: "recall", mid: sent.mid })).toEqual({ mid: sent.mid, changed: false });
    for (const dev of [b, aLaptop]) expect(await dev.next("update", (u) => u.op === "recall")).toMatchObject({ from: alice, mid: sent.mid });
    // Bob's tablet was offline throughout: on sync it gets the recalled copy and the update.
    const bTab = await connect(bob, { device: "tab" });
    for (const dev of [a, b, bTab]) {
      const copy = await copyOf(dev, sent.mid);
      expect(copy).toMatchObject({ body: null, recalled: { by: alice } });
      expect(copy?.edited).toBeUndefined();
    }
    const tabPage = await bTab.ok<SyncResult>({ type: "sync", after: 0 });
    expect(tabPage.events.filter((e) => e.type === "update").map((e) => (e as UpdateEvent).op)).toEqual(["edit", "recall"]);
    // The edit history went with it; nothing more can be done to it.
    expect(await b.request({ type: "edits", mid: sent.mid })).toMatchObject({ ok: false, error: { code: "message_recalled" } });
    expect(await b.request({ type: "react", mid: sent.mid, emoji: "👍" })).toMatchObject({ ok: false, error: { code: "message_recalled", num: 405 } });
    expect(await a.request({ type: "edit", mid: sent.mid, body: "again" })).toMatchObject({ ok: false, error: { code: "message_recalled" } });
  });

  it("refuses after the window and for someone else's message, changing nothing", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const sent = await a.ok<SendAck>(textTo(bob, "too late"));
    await b.next("message");
    expect(await b.request({ type: "recall", mid: sent.mid })).toMatchObject({ ok: false, error: { code: "not_author" } });
    await age(alice, sent.mid, 121_000);
    expect(await a.request({ type: "recall", mid: sent.mid })).toMatchObject({
      ok: false,
      error: { code: "recall_expired", num: 209 }
    });
    expect(await copyOf(b, sent.mid)).toMatchObject({ body: { text: "too late" } });
    expect(b.seen((f) => f.type === "update")).toEqual([]);
  });
});

describe("delete for me", () => {
  it("hides a message on the deleting user's devices only", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const bPhone = await connect(bob, { device: "phone" });
    const bTab = await connect(bob, { device: "tab" });
    const sent = await a.ok<SendAck>(textTo(bob, "delete me"));
    await bPhone.next("message");

    expect(await bPhone.ok<UpdateResult>({ type: "delete", mid: sent.mid })).toEqual({ mid: sent.mid, changed: true });
    for (const dev of [bPhone, bTab]) expect(await dev.next("update", (u) => u.op === "delete")).toMatchObject({ mid: sent.mid, from: bob });
    expect(await copyOf(bTab, sent.mid)).toMatchObject({ body: null, deleted: true });
    const bLaptop = await connect(bob, { device: "laptop" });
    expect(await copyOf(bLaptop, sent.mid)).toMatchObject({ body: null, deleted: true });
    expect(await bPhone.ok({ type: "delete", mid: sent.mid })).toEqual({ mid: sent.mid, changed: false });
    expect(await bPhone.request({ type: "react", mid: sent.mid, emoji: "x" })).toMatchObject({ ok: false, error: { code: "unknown_message" } });
    // Alice still has it, and was told nothing.
    expect(await copyOf(a, sent.mid)).toMatchObject({ body: { text: "delete me" } });
    expect(a.seen((f) => f.type === "update")).toEqual([]);
  });
});

describe("reactions (direct)", () => {
  it("adds and removes one emoji per user with counts, on both sides and on sync", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const aTab = await connect(alice, { device: "tab" });
    const b = await connect(bob);
    const sent = await a.ok<SendAck>(textTo(bob, "react to me"));
    await b.next("message");

    expect(await b.ok<UpdateResult>({ type: "react", mid: sent.mid, emoji: "👍" })).toMatchObject({ changed: true });
    expect(await b.ok<UpdateResult>({ type: "react", mid: sent.mid, emoji: "👍" })).toMatchObject({ changed: false });
    expect(await a.next("update")).toMatchObject({ op: "react", emoji: "👍", from: bob, mid: sent.mid });
    await a.ok({ type: "react", mid: sent.mid, emoji: "👍" });
    await a.ok({ type: "react", mid: sent.mid, emoji: "❤️" });
    await b.next("update", (u) => u.emoji === "❤️");
    for (const dev of [a, b]) {
      expect((await copyOf(dev, sent.mid))?.reactions).toEqual({ "👍": [bob, alice], "❤️": [alice] });
    }
    await b.ok({ type: "react", mid: sent.mid, emoji: "👍", remove: true });
    expect(await a.next("update", (u) => u.op === "unreact")).toMatchObject({ from: bob, emoji: "👍" });
    expect(await b.ok<UpdateResult>({ type: "react", mid: sent.mid, emoji: "👍", remove: true })).toMatchObject({ changed: false });
    expect((await copyOf(a, sent.mid))?.reactions).toEqual({ "👍": [alice], "❤️": [alice] });
    expect((await aTab.next("update", (u) => u.from === bob)).emoji).toBe("👍");
    const bOffline = await connect(bob, { device: "offline" });
    expect((await copyOf(bOffline, sent.mid))?.reactions).toEqual({ "👍": [alice], "❤️": [alice] });
  });

  it("refuses a reaction to a message you cannot see, and bad emoji", async () => {
    const [alice, bob] = await friends();
    const carol = await createUser();
    await befriend(alice, carol);
    const a = await connect(alice);
    const b = await connect(bob);
    const toCarol = await a.ok<SendAck>(textTo(carol, "private"));
    expect(await b.request({ type: "react", mid: toCarol.mid, emoji: "👀" })).toMatchObject({ ok: false, error: { code: "unknown_message" } });
    const sent = await a.ok<SendAck>(textTo(bob, "hi"));
    expect(await b.request({ type: "react", mid: sent.mid, emoji: "two words" })).toMatchObject({ ok: false, error: { code: "invalid_frame" } });
    expect(await b.request({ type: "react", mid: sent.mid, emoji: "" })).toMatchObject({ ok: false, error: { code: "invalid_frame" } });
    for (let i = 0; i < 20; i++) await b.ok({ type: "react", mid: sent.mid, emoji: `e${i}` });
    expect(await b.request({ type: "react", mid: sent.mid, emoji: "e20" })).toMatchObject({ ok: false, error: { code: "too_many_reactions" } });
    expect(Object.keys((await copyOf(b, sent.mid))?.reactions ?? {})).toHaveLength(20);
  });
});

describe("replies and forwards (direct)", () => {
  it("quotes a message of the same conversation and refuses one from elsewhere", async () => {
    const [alice, bob] = await friends();
    const carol = await createUser();
    await befriend(alice, carol);
    const a = await connect(alice);
    const b = await connect(bob);
    const q = await a.ok<SendAck>(textTo(bob, "question?"));
    await b.next("message");
    const ans = await b.ok<SendAck>({ ...textTo(alice, "answer"), replyTo: q.mid });
    const got = await a.next("message", (m) => m.mid === ans.mid);
    expect(got.reply).toEqual({ mid: q.mid, from: alice, kind: "text", text: "question?" });
    const bLater = await connect(bob, { device: "later" });
    expect((await copyOf(bLater, ans.mid))?.reply).toEqual(got.reply);

    const other = await a.ok<SendAck>(textTo(carol, "elsewhere"));
    expect(await a.request({ ...textTo(bob, "bad quote"), replyTo: other.mid })).toMatchObject({
      ok: false,
      error: { code: "unknown_message", fields: { replyTo: "not in this conversation" } }
    });
  });

  it("forwards a copy that keeps its first origin, to a friend and on again", async () => {
    const [alice, bob] = await friends();
    const carol = await createUser();
    await befriend(bob, carol);
    await befriend(carol, alice);
    const a = await connect(alice);
    const b = await connect(bob);
    const c = await connect(carol);
    const orig = await a.ok<SendAck>({ ...textTo(bob, "pass it on"), kind: "note" });
    await b.next("message");

    const fwd = await b.ok<SendAck>({ type: "forward", mid: orig.mid, cmid: "f1", to: carol });
    const copy = await c.next("message", (m) => m.mid === fwd.mid);
    expect(copy).toMatchObject({ from: bob, to: carol, kind: "note", body: { text: "pass it on" } });
    expect(copy.forwarded).toEqual({ mid: orig.mid, from: alice, chat: "dm", ts: orig.ts });
    // A resend of the same cmid is the same message.
    expect(await b.ok<SendAck>({ type: "forward", mid: orig.mid, cmid: "f1", to: carol })).toEqual(fwd);

    const again = await c.ok<SendAck>({ type: "forward", mid: fwd.mid, cmid: "f2", to: alice });
    const back = await a.next("message", (m) => m.mid === again.mid);
    expect(back.forwarded).toEqual(copy.forwarded);
    expect(await c.request({ type: "forward", mid: orig.mid, cmid: "f3", to: alice })).toMatchObject({
      ok: false,
      error: { code: "unknown_message" }
    });
    expect(await b.request({ type: "forward", mid: orig.mid, cmid: "f4", to: await createUser() })).toMatchObject({
      ok: false,
      error: { code: "stranger" }
    });
  });
});

describe("typing (direct)", () => {
  it("reaches the friend's devices with an expiry, is throttled, and is never stored", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const bPhone = await connect(bob, { device: "phone" });
    const bTab = await connect(bob, { device: "tab" });
    expect(await a.ok({ type: "typing", to: bob })).toEqual({ relayed: true });
    for (const dev of [bPhone, bTab]) {
      const t = await dev.next("typing");
      expect(t).toMatchObject({ chat: "dm", from: alice, to: bob, active: true });
      expect(t.expiresAt - t.ts).toBe(6_000);
    }
    expect(await a.ok({ type: "typing", to: bob })).toEqual({ relayed: false });
    expect(await a.ok({ type: "typing", to: bob, active: false })).toEqual({ relayed: true });
    expect(await bPhone.next("typing", (t) => !t.active)).toMatchObject({ from: alice });
    expect(await a.ok({ type: "typing", to: bob, active: false })).toEqual({ relayed: false });

    const stranger = await createUser();
    expect(await a.request({ type: "typing", to: stranger })).toMatchObject({ ok: false, error: { code: "stranger" } });
    const page = await bPhone.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.head).toBe(0);
  });
});
