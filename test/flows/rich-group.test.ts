import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { EditsResult, HistoryEvent, MessageEvent, SendAck, UpdateResult } from "../../src/protocol";
import { api, connect, copyOf, createUser } from "../helpers/fixtures";
import { groupText, makeGroup } from "../helpers/groups";

type Client = Awaited<ReturnType<typeof connect>>;

/**
 * A group with owner O, admin A and members M and N. M is connected on a
 * phone; M's tablet is offline until a test connects it.
 */
async function cast() {
  const [o, a, m, n] = await Promise.all([createUser(), createUser(), createUser(), createUser()]);
  const O = await connect(o);
  const A = await connect(a);
  const M = await connect(m, { device: "phone" });
  const N = await connect(n);
  const gid = (await makeGroup(O, [a, m, n])).id;
  expect((await api("PATCH", `/api/v1/groups/${gid}/members/${a}`, { role: "admin" })).status).toBe(200);
  return { gid, o, a, m, n, O, A, M, N };
}

/** Sends a group message from `from` and waits until `others` have it. */
async function post(gid: string, from: Client, text: string, others: Client[]): Promise<SendAck> {
  const ack = await from.ok<SendAck>(groupText(gid, text));
  for (const c of others) await c.next("message", (e) => e.mid === ack.mid);
  return ack;
}

describe("edit and recall (group)", () => {
  it("edits reach every member's devices and an offline device on sync; group history shows the new version", async () => {
    const g = await cast();
    const sent = await post(g.gid, g.M, "frist", [g.O, g.A, g.N]);
    const r = await g.M.ok<UpdateResult>({ type: "edit", mid: sent.mid, body: { text: "first" } });
    expect(r).toMatchObject({ mid: sent.mid, changed: true, version: 1 });
    expect(r.gseq).toBeGreaterThan(sent.gseq!);
    for (const c of [g.O, g.A, g.N, g.M]) {
      expect(await c.next("update")).toMatchObject({ op: "edit", chat: "group", from: g.m, to: g.gid, mid: sent.mid, version: 1, mgseq: sent.gseq });
    }
    const tab = await connect(g.m, { device: "tab" });
    expect(await copyOf(tab, sent.mid, g.gid)).toMatchObject({ body: { text: "first" }, edited: 1 });
    const versions = await g.N.ok<EditsResult>({ type: "edits", mid: sent.mid });
    expect(versions.versions.map((v) => v.body)).toEqual([{ text: "frist" }, { text: "first" }]);
    const hist = await g.O.ok<{ events: HistoryEvent[] }>({ type: "group_history", gid: g.gid });
    expect(hist.events.find((e) => e.type === "message" && e.mid === sent.mid)).toMatchObject({ body: { text: "first" }, edited: 1 });

    expect(await g.N.request({ type: "edit", mid: sent.mid, body: "mine now" })).toMatchObject({ ok: false, error: { code: "not_author" } });
    expect(await g.O.request({ type: "edit", mid: sent.mid, body: "owner" })).toMatchObject({ ok: false, error: { code: "not_author" } });
  });

  it("lets the author recall within the window, owners and admins any message, and refuses the rest", async () => {
    const g = await cast();
    const mine = await post(g.gid, g.M, "take back", [g.O, g.A, g.N]);
    const byOwner = await post(g.gid, g.N, "owner will remove", [g.O, g.A, g.M]);
    const old = await post(g.gid, g.N, "old news", [g.O, g.A, g.M]);
    // Age `old` beyond the window in the group's history (where it is stored, once).
    await runInDurableObject(env.GROUPS.getByName(g.gid), (_o, s) => {
      const row = s.storage.sql.exec<{ event: string }>("SELECT event FROM history WHERE eid = ?", old.mid).one();
      const e = JSON.parse(row.event) as MessageEvent;
      s.storage.sql.exec("UPDATE history SET event = ? WHERE eid = ?", JSON.stringify({ ...e, ts: e.ts - 121_000 }), old.mid);
    });

    expect(await g.N.request({ type: "recall", mid: mine.mid })).toMatchObject({ ok: false, error: { code: "not_author" } });
    expect(await g.N.request({ type: "recall", mid: old.mid })).toMatchObject({ ok: false, error: { code: "recall_expired" } });
    expect(await g.M.ok<UpdateResult>({ type: "recall", mid: mine.mid })).toMatchObject({ changed: true });
    expect(await g.O.ok<UpdateResult>({ type: "recall", mid: byOwner.mid })).toMatchObject({ changed: true });
    expect(await g.A.ok<UpdateResult>({ type: "recall", mid: old.mid })).toMatchObject({ changed: true });
    for (const mid of [mine.mid, byOwner.mid, old.mid]) await g.N.next("update", (u) => u.op === "recall" && u.mid === mid);
    expect(await copyOf(g.N, byOwner.mid, g.gid)).toMatchObject({ body: null, recalled: { by: g.o } });
    expect(await copyOf(g.N, old.mid, g.gid)).toMatchObject({ body: null, recalled: { by: g.a } });
    const tab = await connect(g.m, { device: "tab" });
    expect(await copyOf(tab, mine.mid, g.gid)).toMatchObject({ body: null, recalled: { by: g.m } });
    expect(await g.M.request({ type: "edit", mid: mine.mid, body: "x" })).toMatchObject({ ok: false, error: { code: "message_recalled" } });
  });

  it("never tells a member who joined later about earlier messages, and refuses their reactions to them", async () => {
    const g = await cast();
    const before = await post(g.gid, g.M, "before you came", [g.O]);
    const late = await createUser();
    const L = await connect(late);
    expect((await api("POST", `/api/v1/groups/${g.gid}/members`, { uid: late })).status).toBe(201);
    await L.next("group", (e) => e.action === "joined");
    await g.M.ok({ type: "edit", mid: before.mid, body: { text: "secret edit" } });
    await g.O.next("update");
    const after = await post(g.gid, g.O, "after", [L]);
    expect(L.seen((f) => f.type === "update")).toEqual([]);
    expect(await L.request({ type: "react", mid: before.mid, emoji: "👀" })).toMatchObject({ ok: false, error: { code: "unknown_message" } });
    expect((await L.ok<UpdateResult>({ type: "react", mid: after.mid, emoji: "👋" })).changed).toBe(true);
    expect(await L.next("update")).toMatchObject({ mid: after.mid, emoji: "👋" });
  });
});

describe("reactions, replies and forwards (group)", () => {
  it("counts reactions per emoji for every member and the offline device", async () => {
    const g = await cast();
    const sent = await post(g.gid, g.O, "vote", [g.A, g.M, g.N]);
    await g.M.ok({ type: "react", mid: sent.mid, emoji: "👍" });
    await g.N.ok({ type: "react", mid: sent.mid, emoji: "👍" });
    await g.A.ok({ type: "react", mid: sent.mid, emoji: "👎" });
    expect(await g.N.ok<UpdateResult>({ type: "react", mid: sent.mid, emoji: "👍" })).toMatchObject({ changed: false });
    await g.N.ok({ type: "react", mid: sent.mid, emoji: "👍", remove: true });
    for (let i = 0; i < 4; i++) await g.O.next("update");
    const tab = await connect(g.m, { device: "tab" });
    for (const c of [g.O, tab]) expect((await copyOf(c, sent.mid, g.gid))?.reactions).toEqual({ "👍": [g.m], "👎": [g.a] });
  });

  it("quotes a message of the group and forwards into the group with its origin", async () => {
    const g = await cast();
    const q = await post(g.gid, g.O, "who is in?", [g.M]);
    const ans = await g.M.ok<SendAck>(groupText(g.gid, "me", undefined, { replyTo: q.mid }));
    expect((await g.N.next("message", (m) => m.mid === ans.mid)).reply).toEqual({ mid: q.mid, from: g.o, kind: "text", text: "who is in?" });

    // N forwards a direct message from a friend into the group.
    const friend = await createUser();
    expect((await api("POST", "/api/v1/friendships", { a: friend, b: g.n })).status).toBe(201);
    const F = await connect(friend);
    const dm = await F.ok<SendAck>({ type: "send", to: g.n, cmid: "d1", body: { text: "share this" } });
    await g.N.next("message", (m) => m.mid === dm.mid);
    const fwd = await g.N.ok<SendAck>({ type: "forward", mid: dm.mid, cmid: "fw", chat: "group", to: g.gid });
    const got = await g.O.next("message", (m) => m.mid === fwd.mid);
    expect(got).toMatchObject({ from: g.n, chat: "group", body: { text: "share this" }, forwarded: { mid: dm.mid, from: friend, chat: "dm" } });
    // A quote from another conversation is refused.
    expect(await g.N.request(groupText(g.gid, "x", undefined, { replyTo: dm.mid }))).toMatchObject({ ok: false, error: { code: "unknown_message" } });
  });
});

describe("typing (group)", () => {
  it("reaches the online members but the typist, and is refused for outsiders", async () => {
    const g = await cast();
    expect(await g.M.ok({ type: "typing", chat: "group", to: g.gid })).toEqual({ relayed: true });
    for (const c of [g.O, g.A, g.N]) expect(await c.next("typing")).toMatchObject({ chat: "group", from: g.m, to: g.gid, active: true });
    expect(g.M.seen((f) => f.type === "typing")).toEqual([]);
    const outsider = await connect(await createUser());
    expect(await outsider.request({ type: "typing", chat: "group", to: g.gid })).toMatchObject({ ok: false, error: { code: "not_member" } });
  });
});
