import { abortAllDurableObjects, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ConversationPage, GroupCatchupFrame, GroupPage, GroupStreamEvent, SearchPage, SendAck } from "../../src/protocol";
import { connectSeed } from "../helpers/compat";
import { api, connect, createUser } from "../helpers/fixtures";
import { connectedUsers, drainFanout, groupText, makeGroup, messagesOf, streamOf } from "../helpers/groups";

const mids = (events: readonly GroupStreamEvent[]) => messagesOf(events).map((m) => m.mid);

/** Posts `n` texts to the group from `c`; returns the acks. */
async function postMany(c: Awaited<ReturnType<typeof connect>>, gid: string, n: number, prefix = "m"): Promise<SendAck[]> {
  const acks: SendAck[] = [];
  for (let i = 0; i < n; i++) acks.push(await c.ok<SendAck>(groupText(gid, `${prefix}${i}`)));
  return acks;
}

describe("catch-up by cursor", () => {
  it("hands a device that reconnects with ?since= what it missed of each group, from what it acked", async () => {
    const [owner, member] = await connectedUsers(2);
    const g1 = await makeGroup(owner!.c, [member!.uid]);
    const g2 = await makeGroup(owner!.c, [member!.uid]);
    const seen = await postMany(owner!.c, g1.id, 2, "seen");
    await member!.c.next("message", (m) => m.mid === seen[1]!.mid);
    expect(await member!.c.ok({ type: "ack", groups: { [g1.id]: seen[1]!.gseq!, [g2.id]: 1 } })).toEqual({ groups: { [g1.id]: 3, [g2.id]: 1 } });
    // Cursors only move forward.
    expect(await member!.c.ok({ type: "ack", groups: { [g1.id]: 1 } })).toEqual({ groups: { [g1.id]: 3 } });
    member!.c.close();
    const missed = await postMany(owner!.c, g1.id, 3, "missed");

    const back = await connect(member!.uid, { device: member!.c.welcome.device, since: member!.c.welcome.head });
    const catchup = await back.take<GroupCatchupFrame>((f) => f.type === "group_catchup", "a group catch-up");
    expect(catchup).toMatchObject({ gid: g1.id, more: false, head: missed[2]!.gseq });
    expect(mids(catchup.events)).toEqual(missed.map((a) => a.mid));
    expect(catchup.events[0]!.prev).toBe(seen[1]!.gseq);
    await back.ok({ type: "ping" });
    // Nothing new in g2: no frame for it.
    expect(back.seen((f) => f.type === "group_catchup")).toHaveLength(1);
  });

  it("resumes from a position acked before a socket closed even after the object restarts; a crash before the position is written sends its events again (at most CURSOR_FLUSH_MS of acks)", async () => {
    const [owner, member] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [member!.uid]);
    const first = await postMany(owner!.c, g.id, 2, "first");
    await member!.c.next("message", (m) => m.mid === first[1]!.mid);
    await member!.c.ok({ type: "ack", groups: { [g.id]: first[1]!.gseq! } });
    const device = member!.c.welcome.device;
    member!.c.close();
    await member!.c.closed;
    await new Promise((r) => setTimeout(r, 100));
    await evictDurableObject(env.USERS.getByName(member!.uid));
    const later = await postMany(owner!.c, g.id, 1, "later");
    const back = await connect(member!.uid, { device, since: member!.c.welcome.head });
    const catchup = await back.take<GroupCatchupFrame>((f) => f.type === "group_catchup", "a group catch-up");
    expect(mids(catchup.events)).toEqual([later[0]!.mid]);

    // Acked while the socket is open, then the object crashes before the position was written: it comes again.
    await back.ok({ type: "ack", groups: { [g.id]: later[0]!.gseq! } });
    await abortAllDurableObjects();
    const again = await connect(member!.uid, { device, since: back.welcome.head });
    const repeat = await again.take<GroupCatchupFrame>((f) => f.type === "group_catchup", "a group catch-up");
    expect(mids(repeat.events)).toEqual([later[0]!.mid]);
    expect(repeat.events[0]!.prev).toBe(first[1]!.gseq);
  });

  it("pages a member's stream with sync by gid: limit, more, head, and prev chained", async () => {
    const [owner, member] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [member!.uid]);
    const acks = await postMany(owner!.c, g.id, 5);
    const first = await member!.c.ok<GroupPage>({ type: "sync", gid: g.id, after: 0, limit: 3 });
    expect(first).toMatchObject({ gid: g.id, more: true, head: 6 });
    expect(first.events.map((e) => [e.prev, e.gseq])).toEqual([[0, 1], [1, 2], [2, 3]]);
    const rest = await member!.c.ok<GroupPage>({ type: "sync", gid: g.id, after: 3, limit: 3 });
    expect(rest).toMatchObject({ more: false, head: 6 });
    expect(mids([...first.events, ...rest.events])).toEqual(acks.map((a) => a.mid));
    expect(await member!.c.request({ type: "sync", gid: g.id, after: 0, limit: 501 })).toMatchObject({ ok: false, error: { code: "page_too_large" } });
    const outsider = (await connectedUsers(1))[0]!;
    expect(await outsider.c.request({ type: "sync", gid: g.id, after: 0 })).toMatchObject({ ok: false, error: { code: "not_member" } });
    expect(await outsider.c.request({ type: "ack", groups: { [g.id]: 2 } })).toMatchObject({ ok: true, result: { groups: { [g.id]: 0 } } });
  });

  it("shows a new member the group from when they joined, and a member who left and came back only their own times", async () => {
    const [owner, member] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [], { joinPolicy: "open" });
    const before = await owner!.c.ok<SendAck>(groupText(g.id, "before"));
    await member!.c.ok({ type: "group_join", gid: g.id });
    const during = await owner!.c.ok<SendAck>(groupText(g.id, "during"));
    await member!.c.ok({ type: "group_leave", gid: g.id });
    const away = await owner!.c.ok<SendAck>(groupText(g.id, "away"));
    await member!.c.ok({ type: "group_join", gid: g.id });
    const back = await owner!.c.ok<SendAck>(groupText(g.id, "back"));
    const stream = await streamOf(member!.uid, g.id);
    expect(mids(stream)).toEqual([during.mid, back.mid]);
    expect(stream.flatMap((e) => (e.type === "group" ? [e.action] : []))).toEqual(["joined", "left", "joined"]);
    expect(mids(await streamOf(owner!.uid, g.id))).toEqual([before.mid, during.mid, away.mid, back.mid]);
  });
});

describe("group history retention", () => {
  it("drops events past the age limit from the alarm and tells a member syncing from before them about the gap", async () => {
    const [owner, member] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [member!.uid]);
    await postMany(owner!.c, g.id, 3, "old");
    const group = env.GROUPS.getByName(g.id);
    await runInDurableObject(group, (_o, s) => s.storage.sql.exec("UPDATE history SET at = ? WHERE gseq <= 4", Date.now() - 31 * 24 * 3600 * 1000));
    await evictDurableObject(group); // as if those had been stored a month ago: nothing cached of them
    const kept = await owner!.c.ok<SendAck>(groupText(g.id, "kept"));
    await drainFanout(g.id);
    await runInDurableObject(group, (_o, s) => s.storage.setAlarm(Date.now()));
    expect(await runDurableObjectAlarm(group)).toBe(true);
    const page = await member!.c.ok<GroupPage>({ type: "sync", gid: g.id, after: 0 });
    expect(page.gap).toEqual({ from: 1, to: 4 });
    expect(mids(page.events)).toEqual([kept.mid]);
    expect(page.events[0]!.prev).toBe(4);
    // From after the gap: no gap.
    expect((await member!.c.ok<GroupPage>({ type: "sync", gid: g.id, after: 4 })).gap).toBeUndefined();
    expect(await (await api("GET", `/api/v1/groups/${g.id}/stats`)).json()).toMatchObject({ trimmed: 4, head: 5 });
  });

  it("keeps only the newest GROUP_HISTORY_MAX events (500 in the tests)", async () => {
    const [owner, member] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [member!.uid]);
    const group = env.GROUPS.getByName(g.id);
    // 600 posts written straight into the history, as a busy group would have them.
    await runInDurableObject(group, (_o, s) => {
      const now = Date.now();
      for (let i = 2; i <= 601; i++) {
        const e = { type: "message", mid: `01JZ${String(i).padStart(22, "0")}`, chat: "group", from: owner!.uid, to: g.id, kind: "text", body: `n${i}`, ts: now, gseq: i };
        s.storage.sql.exec("INSERT INTO history (gseq, eid, sender, at, event, conv, text) VALUES (?, ?, ?, ?, ?, 1, ?)", i, e.mid, owner!.uid, now, JSON.stringify(e), e.body);
      }
    });
    await evictDurableObject(group);
    await runInDurableObject(group, (_o, s) => s.storage.setAlarm(Date.now()));
    expect(await runDurableObjectAlarm(group)).toBe(true);
    const page = await member!.c.ok<GroupPage>({ type: "sync", gid: g.id, after: 0, limit: 1 });
    expect(page.gap).toEqual({ from: 1, to: 101 });
    expect(page.events[0]!.gseq).toBe(102);
  });
});

describe("read marks, unread counts and mentions from the history", () => {
  it("counts unread after the read mark, flags mentions on synced copies, and leaves out what a member deleted for themselves", async () => {
    const [owner, member] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [member!.uid]);
    const acks = await postMany(owner!.c, g.id, 3);
    const mention = await owner!.c.ok<SendAck>(groupText(g.id, "@you", undefined, { mentions: { users: [member!.uid] } }));
    const list = async () => (await member!.c.ok<ConversationPage>({ type: "conversations" })).conversations[0];
    expect(await list()).toMatchObject({ chat: "group", peer: g.id, unread: 4, last: { mid: mention.mid, gseq: mention.gseq } });
    expect(await member!.c.ok({ type: "read", chat: "group", peer: g.id, mid: acks[1]!.mid })).toMatchObject({ unread: 2 });
    const page = await member!.c.ok<GroupPage>({ type: "sync", gid: g.id, after: 0 });
    expect(page.events.find((e) => e.type === "message" && e.mid === mention.mid)).toMatchObject({ mentioned: true });
    expect(page.events.find((e) => e.type === "message" && e.mid === acks[0]!.mid)).not.toHaveProperty("mentioned");

    // Delete for me: the member's devices see it deleted, it stops counting, and the list skips it.
    expect(await member!.c.ok({ type: "delete", mid: mention.mid })).toEqual({ mid: mention.mid, changed: true });
    expect(await member!.c.ok({ type: "delete", mid: mention.mid })).toEqual({ mid: mention.mid, changed: false });
    const tab = await connect(member!.uid, { device: "tab" });
    const synced = await tab.ok<GroupPage>({ type: "sync", gid: g.id, after: 0 });
    expect(synced.events.find((e) => e.type === "message" && e.mid === mention.mid)).toMatchObject({ body: null, deleted: true });
    expect(await list()).toMatchObject({ unread: 1, last: { mid: acks[2]!.mid } });
    expect(await member!.c.request({ type: "react", mid: mention.mid, emoji: "👍" })).toMatchObject({ ok: false, error: { code: "unknown_message" } });
    // Nobody else is affected.
    expect((await owner!.c.ok<GroupPage>({ type: "sync", gid: g.id, after: 0 })).events.at(-1)).toMatchObject({ mid: mention.mid, body: { text: "@you" } });
  });

  it("finds group messages by their text for members, by group or across all of a user's conversations, paged by message id", async () => {
    const [owner, member] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [member!.uid]);
    const acks = await postMany(owner!.c, g.id, 3, "needle ");
    const p1 = await member!.c.ok<SearchPage>({ type: "search", q: "needle", limit: 2 });
    expect(p1.messages.map((m) => m.mid)).toEqual([acks[2]!.mid, acks[1]!.mid]);
    expect(p1.next).toBe(acks[1]!.mid);
    const p2 = await member!.c.ok<SearchPage>({ type: "search", q: "needle", chat: "group", peer: g.id, before: p1.next });
    expect(p2.messages.map((m) => m.mid)).toEqual([acks[0]!.mid]);
    expect(p2.messages[0]).toMatchObject({ gseq: acks[0]!.gseq });
    const stranger = (await connectedUsers(1))[0]!;
    expect((await stranger.c.ok<SearchPage>({ type: "search", q: "needle" })).messages).toEqual([]);
  });
});

describe("groups stored before the change", () => {
  it("leaves an inbox's old group copies readable and starts the group's stream after them", async () => {
    const [owner, member] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [member!.uid]);
    const acks = await postMany(owner!.c, g.id, 2, "old");
    const stub = env.USERS.getByName(member!.uid);
    // As an inbox held them before: a copy of each with its gseq, and a read mark on the first.
    await runInDurableObject(stub, (_o, s) => {
      const events = (s.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM inbox").one().n);
      expect(events).toBe(0);
      const copies = [acks[0]!, acks[1]!].map((a, i) => ({ type: "message", mid: a.mid, chat: "group", from: owner!.uid, to: g.id, kind: "text", body: { text: `old${i}` }, ts: a.ts, gseq: a.gseq }));
      copies.forEach((e, i) => s.storage.sql.exec("INSERT INTO inbox (seq, eid, at, event, conv, mine, gone, text) VALUES (?, ?, ?, ?, ?, 0, 0, ?)", i + 1, e.mid, e.ts, JSON.stringify(e), `g:${g.id}`, e.body.text));
      s.storage.sql.exec("INSERT INTO convs (conv, last_seq, last_at, read_seq, unread) VALUES (?, 2, ?, 1, 1)", `g:${g.id}`, acks[1]!.ts);
      // The schema as it was then: without the memberships, delivery watermarks and push steps.
      s.storage.sql.exec("DROP TABLE groups; DROP TABLE gcursors; DROP TABLE hidden; DROP TABLE delivered; DROP TABLE pending_floor; DROP TABLE push_subs; DROP TABLE push_outbox");
      s.storage.sql.exec("UPDATE _schema SET version = version - 3");
    });
    await evictDurableObject(stub);
    const fresh = await owner!.c.ok<SendAck>(groupText(g.id, "new"));
    const c = await connect(member!.uid, { device: "new-device" });
    const inbox = await c.ok<{ events: { mid?: string }[] }>({ type: "sync", after: 0 });
    expect(inbox.events.map((e) => e.mid)).toEqual([acks[0]!.mid, acks[1]!.mid]);
    // The stream starts after the copies: nothing is delivered twice.
    expect(mids((await c.ok<GroupPage>({ type: "sync", gid: g.id, after: 0 })).events)).toEqual([fresh.mid]);
    // The read mark carried over: the first old message was read.
    expect((await c.ok<ConversationPage>({ type: "conversations" })).conversations[0]).toMatchObject({ peer: g.id, unread: 2 });
  });
});

describe("reaching members who were away", () => {
  it("attaches a member added while they were offline when they come back, though their object stayed up", async () => {
    const [owner] = await connectedUsers(1);
    const bob = await createUser();
    let b = await connect(bob);
    b.close();
    await b.closed;
    const g = await makeGroup(owner!.c, []);
    expect((await api("POST", `/api/v1/groups/${g.id}/members`, { uid: bob })).status).toBe(201);
    b = await connect(bob);
    for (let i = 0; i < 100 && ((await (await api("GET", `/api/v1/groups/${g.id}/stats`)).json()) as { online: number }).online < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const ack = await owner!.c.ok<SendAck>(groupText(g.id, "welcome"));
    expect(await b.next("message", (m) => m.mid === ack.mid)).toMatchObject({ gseq: ack.gseq });
  });

  it("hands a seed client what it missed, once, even when a live message reached it first", async () => {
    const owner = await createUser();
    const member = await createUser();
    const O = await connect(owner);
    const g = await makeGroup(O, [member]);
    const seed = await connectSeed(member);
    const first = await O.ok<SendAck>(groupText(g.id, "first"));
    await seed.next("text");
    seed.close(1000);
    await seed.closed;
    const missed = await O.ok<SendAck>(groupText(g.id, "missed"));
    const back = await connectSeed(member);
    await back.settle();
    const live = await O.ok<SendAck>(groupText(g.id, "live"));
    await back.next("text", (f) => f.id === live.mid);
    back.send({ type: "pull" });
    await back.settle();
    // Live (the reconnect's catch-up may bring it) or by pull, never both: the seed's clients do not dedupe.
    const pulled = back.seen("pull").flatMap((p) => (p.message as string[]).map((x) => (JSON.parse(x) as { id: string }).id));
    const shown = [...back.seen("text").map((f) => f.id as string), ...pulled];
    expect(shown.filter((id) => id === missed.mid)).toHaveLength(1);
    expect(shown.filter((id) => id === live.mid)).toHaveLength(1);
    expect(shown).not.toContain(first.mid);
  });

  it("reaches a member who left and came back with a recall of a message from before, in their stream only", async () => {
    const [owner, member] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [], { joinPolicy: "open" });
    await member!.c.ok({ type: "group_join", gid: g.id });
    const sent = await owner!.c.ok<SendAck>(groupText(g.id, "take it back"));
    await member!.c.ok({ type: "group_leave", gid: g.id });
    await member!.c.ok({ type: "group_join", gid: g.id });
    await owner!.c.ok({ type: "recall", mid: sent.mid });
    await member!.c.next("update", (u) => u.mid === sent.mid && u.op === "recall");
    await drainFanout(g.id);
    expect((await member!.c.ok<{ events: { type: string }[] }>({ type: "sync", after: 0 })).events.filter((e) => e.type === "update")).toEqual([]);
    expect((await streamOf(member!.uid, g.id)).filter((e) => e.type === "update")).toHaveLength(1);
  });
});

describe("a group stored before groups were stored once", () => {
  it("starts members' streams after what its old fan-out had copied into their inboxes, and drops its old retries", async () => {
    const [owner, member] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [member!.uid]);
    const old = await postMany(owner!.c, g.id, 3, "copied");
    const group = env.GROUPS.getByName(g.id);
    // As such a group was: its fan-out had copied up to gseq 3 into every inbox, but a member was behind from 2.
    await drainFanout(g.id); // its own cursor written before it is set back below
    await runInDurableObject(group, (_o, s) => {
      s.storage.sql.exec("DROP TABLE online; DROP TABLE edits; DROP TABLE read_marks");
      for (const c of ["conv", "gone", "text"]) s.storage.sql.exec(`ALTER TABLE history DROP COLUMN ${c}`);
      s.storage.sql.exec("INSERT INTO retries VALUES ('legacy_member', 2, 4, 1, 0)");
      s.storage.sql.exec("UPDATE _schema SET version = 5");
      s.storage.kv.put("fanout.cursor", 3);
    });
    await evictDurableObject(group);
    const fresh = await owner!.c.ok<SendAck>(groupText(g.id, "stored once"));
    const stream = await streamOf(member!.uid, g.id);
    // From the old fan-out's position, lowered to where the member behind was: gseq 2.
    expect(mids(stream)).toEqual([old[1]!.mid, old[2]!.mid, fresh.mid]);
    expect(await runInDurableObject(group, (_o, s) => s.storage.sql.exec("SELECT * FROM retries").toArray())).toEqual([]);
  });
});
