import { describe, expect, it } from "vitest";
import type { ConversationPage, ReceiptEvent, SearchPage, SendAck, SyncResult } from "../../src/protocol";
import { api, befriend, connect, createUser, expectJson, friends, textTo } from "../helpers/fixtures";
import { groupText, makeGroup } from "../helpers/groups";

type Client = Awaited<ReturnType<typeof connect>>;

const page = (c: Client, q: Record<string, unknown> = {}) => c.ok<ConversationPage>({ type: "conversations", ...q });
const summary = (p: ConversationPage) => p.conversations.map((c) => [c.chat, c.peer, c.unread, c.muted, c.last?.body ?? null]);

describe("unread counts", () => {
  it("count per direct chat and in total, move with reads on every device, and survive for an offline device", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const bPhone = await connect(bob, { device: "phone" });
    const acks: SendAck[] = [];
    for (const t of ["one", "two", "three"]) acks.push(await a.ok<SendAck>(textTo(bob, t)));
    await a.ok(textTo(bob, "four"));
    const mine = await bPhone.ok<SendAck>(textTo(alice, "bob's own message never counts"));

    let p = await page(bPhone);
    expect(p.conversations[0]).toMatchObject({ chat: "dm", peer: alice, unread: 4, muted: false, last: { mid: mine.mid } });
    expect(p.totalUnread).toBe(4);
    expect((await page(a)).conversations[0]).toMatchObject({ peer: bob, unread: 1 });

    const read = await bPhone.ok<{ seq: number; unread: number }>({ type: "read", peer: alice, mid: acks[1]!.mid });
    expect(read.unread).toBe(2);
    // Bob's tablet connects later: the receipt on sync carries the count; the list agrees.
    const bTab = await connect(bob, { device: "tab" });
    const synced = await bTab.ok<SyncResult>({ type: "sync", after: 0 });
    const receipt = synced.events.find((e): e is ReceiptEvent => e.type === "receipt");
    expect(receipt).toMatchObject({ from: bob, to: alice, mid: acks[1]!.mid, unread: 2 });
    expect((await page(bTab)).conversations[0]?.unread).toBe(2);
    // Alice's copy of the receipt does not carry Bob's count.
    expect((await a.next("receipt")).unread).toBeUndefined();

    // A recalled unread message stops counting; so does one deleted for me.
    await a.ok({ type: "recall", mid: acks[2]!.mid });
    await bPhone.next("update", (u) => u.op === "recall");
    p = await page(bPhone);
    expect(p.conversations[0]?.unread).toBe(1);
    const four = (await bTab.ok<SyncResult>({ type: "sync", after: 0 })).events.find((e) => e.type === "message" && e.body && (e.body as { text?: string }).text === "four");
    await bTab.ok({ type: "delete", mid: (four as { mid: string }).mid });
    expect((await page(bPhone)).totalUnread).toBe(0);
  });

  it("counts group messages and a group read reaches the reader's other devices only", async () => {
    const [o, m] = [await createUser(), await createUser()];
    const O = await connect(o);
    const mPhone = await connect(m, { device: "phone" });
    const mTab = await connect(m, { device: "tab" });
    const gid = (await makeGroup(O, [m])).id;
    const acks: SendAck[] = [];
    for (const t of ["a", "b", "c"]) acks.push(await O.ok<SendAck>(groupText(gid, t)));
    for (const ack of acks) await mPhone.next("message", (e) => e.mid === ack.mid);

    expect((await page(mPhone)).conversations[0]).toMatchObject({ chat: "group", peer: gid, unread: 3 });
    expect(await mPhone.ok({ type: "read", chat: "group", peer: gid, mid: acks[0]!.mid })).toMatchObject({ unread: 2 });
    expect(await mTab.next("receipt")).toMatchObject({ chat: "group", from: m, to: gid, mid: acks[0]!.mid, unread: 2 });
    expect(await mPhone.ok({ type: "read", chat: "group", peer: gid, mid: acks[0]!.mid })).toEqual({ seq: null });
    expect(await mPhone.request({ type: "read", chat: "dm", peer: gid, mid: acks[0]!.mid })).toMatchObject({ ok: false, error: { code: "unknown_message" } });
    expect(O.seen((f) => f.type === "receipt")).toEqual([]);
    expect((await page(mTab)).totalUnread).toBe(2);
  });
});

describe("conversation list", () => {
  it("orders direct chats and groups by activity, pages with a cursor, and shows mute state on every device", async () => {
    const me = await createUser();
    const [f1, f2] = [await createUser(), await createUser()];
    await befriend(me, f1);
    await befriend(me, f2);
    const phone = await connect(me, { device: "phone" });
    const F1 = await connect(f1);
    const F2 = await connect(f2);
    const gid = (await makeGroup(F1, [me, f2])).id;

    await F1.ok(textTo(me, "from f1"));
    await F2.ok(textTo(me, "from f2"));
    await F1.ok(groupText(gid, "in the group"));
    await phone.next("message", (m) => m.chat === "group");
    await F1.ok(textTo(me, "f1 again"));
    await phone.next("message", (m) => m.body !== null && (m.body as { text: string }).text === "f1 again");

    const all = await page(phone);
    expect(summary(all)).toEqual([
      ["dm", f1, 2, false, { text: "f1 again" }],
      ["group", gid, 1, false, { text: "in the group" }],
      ["dm", f2, 1, false, { text: "from f2" }]
    ]);
    expect(all.next).toBeUndefined();
    expect(all.totalUnread).toBe(4);

    const first = await page(phone, { limit: 2 });
    expect(summary(first)).toEqual(summary(all).slice(0, 2));
    const second = await page(phone, { limit: 2, cursor: first.next });
    expect(summary(second)).toEqual(summary(all).slice(2));
    expect(second.next).toBeUndefined();

    // Mute on one device: the other devices (and the offline one, on sync) learn it; muted chats leave the total.
    const tab = await connect(me, { device: "tab" });
    expect(await phone.ok({ type: "conversation_mute", chat: "group", peer: gid, muted: true })).toEqual({ muted: true, changed: true });
    expect(await phone.ok({ type: "conversation_mute", chat: "group", peer: gid, muted: true })).toEqual({ muted: true, changed: false });
    expect(await tab.next("conversation")).toMatchObject({ chat: "group", peer: gid, muted: true });
    const laptop = await connect(me, { device: "laptop" });
    const synced = await laptop.ok<SyncResult>({ type: "sync", after: 0 });
    expect(synced.events.filter((e) => e.type === "conversation")).toEqual([expect.objectContaining({ peer: gid, muted: true })]);
    const muted = await page(laptop);
    expect(muted.conversations.find((c) => c.peer === gid)?.muted).toBe(true);
    expect(muted.totalUnread).toBe(3);

    // Unknown peers and bad cursors are coded errors.
    expect(await phone.request({ type: "conversation_mute", peer: "nobody_here", muted: true })).toMatchObject({ ok: false, error: { code: "unknown_user" } });
    expect(await phone.request({ type: "conversation_mute", chat: "group", peer: "no_such_group", muted: true })).toMatchObject({ ok: false, error: { code: "unknown_group" } });
    expect(await phone.request({ type: "conversations", cursor: "garbage" })).toMatchObject({ ok: false, error: { code: "bad_request" } });
    expect(await phone.request({ type: "conversations", limit: 101 })).toMatchObject({ ok: false, error: { code: "invalid_frame" } });
  });

  it("is available over HTTP to the app's backend, with the same pages", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    await a.ok(textTo(bob, "over http"));
    await b.next("message");
    const viaSocket = await page(b);
    const viaHttp = await expectJson<ConversationPage>(await api("GET", `/api/v1/users/${bob}/conversations?limit=20`), 200);
    expect(viaHttp).toEqual(viaSocket);
    expect((await api("GET", `/api/v1/users/${bob}/conversations`, undefined, "wrong-key")).status).toBe(401);
    expect((await api("GET", `/api/v1/users/nobody_x/conversations`)).status).toBe(404);
    expect((await api("GET", `/api/v1/users/${bob}/conversations?cursor=bad`)).status).toBe(400);
    expect((await api("GET", `/api/v1/users/${bob}/conversations?limit=0`)).status).toBe(400);
  });
});

describe("search", () => {
  it("finds text in the user's own direct and group messages, newest first, paged, never others' or deleted ones", async () => {
    const [alice, bob] = await friends();
    const carol = await createUser();
    await befriend(bob, carol);
    const a = await connect(alice);
    const b = await connect(bob);
    const c = await connect(carol);
    const gid = (await makeGroup(c, [bob])).id;
    const m1 = await a.ok<SendAck>(textTo(bob, "Pizza tonight?"));
    const m2 = await b.ok<SendAck>(textTo(alice, "pizza sounds good"));
    const m3 = await c.ok<SendAck>(groupText(gid, "group PIZZA party"));
    await b.next("message", (m) => m.mid === m3.mid);
    const secret = await c.ok<SendAck>(textTo(bob, "100%_literal"));
    await c.ok(textTo(bob, "no match here"));

    const found = await b.ok<SearchPage>({ type: "search", q: "pizza" });
    expect(found.messages.map((m) => m.mid)).toEqual([m3.mid, m2.mid, m1.mid]);
    expect(found.next).toBeUndefined();
    const p1 = await b.ok<SearchPage>({ type: "search", q: "pizza", limit: 2 });
    expect(p1.messages.map((m) => m.mid)).toEqual([m3.mid, m2.mid]);
    const p2 = await b.ok<SearchPage>({ type: "search", q: "pizza", limit: 2, before: p1.next });
    expect(p2.messages.map((m) => m.mid)).toEqual([m1.mid]);
    const inGroup = await b.ok<SearchPage>({ type: "search", q: "pizza", chat: "group", peer: gid });
    expect(inGroup.messages.map((m) => m.mid)).toEqual([m3.mid]);
    // Wildcards are literal.
    expect((await b.ok<SearchPage>({ type: "search", q: "0%_l" })).messages.map((m) => m.mid)).toEqual([secret.mid]);
    expect((await b.ok<SearchPage>({ type: "search", q: "%" })).messages.map((m) => m.mid)).toEqual([secret.mid]);

    // Alice cannot find Carol's messages to Bob or the group's.
    expect((await a.ok<SearchPage>({ type: "search", q: "pizza" })).messages.map((m) => m.mid)).toEqual([m2.mid, m1.mid]);
    expect((await a.ok<SearchPage>({ type: "search", q: "literal" })).messages).toEqual([]);

    // Edits are searchable by their new text; deleted messages are not found.
    await a.ok({ type: "edit", mid: m1.mid, body: { text: "Sushi tonight?" } });
    await b.next("update");
    expect((await b.ok<SearchPage>({ type: "search", q: "sushi" })).messages.map((m) => m.mid)).toEqual([m1.mid]);
    await b.ok({ type: "delete", mid: m2.mid });
    expect((await b.ok<SearchPage>({ type: "search", q: "pizza" })).messages.map((m) => m.mid)).toEqual([m3.mid]);
    expect(await b.request({ type: "search", q: "" })).toMatchObject({ ok: false, error: { code: "invalid_frame" } });
    expect(await b.request({ type: "search", q: "x", chat: "dm" })).toMatchObject({ ok: false, error: { code: "bad_request" } });

    const http = await expectJson<SearchPage>(await api("GET", `/api/v1/users/${bob}/search?q=PIZZA`), 200);
    expect(http.messages.map((m) => m.mid)).toEqual([m3.mid]);
    expect((await api("GET", `/api/v1/users/${bob}/search`)).status).toBe(400);
  });
});
