import {
  abortAllDurableObjects,
  evictDurableObject,
  runDurableObjectAlarm,
  runInDurableObject
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { MessageEvent, ReplyFrame, SendAck, SyncResult } from "../../src/protocol";
import { newEventId } from "../../src/lib/ids";
import { api, befriend, connect, copyOf, createUser, friends, textTo } from "../helpers/fixtures";
import { connectSeed } from "../helpers/compat";
import type { UserObject } from "../../src/objects/user";

/** Makes bob's inbox unwritable (a storage fault), or heals it. */
async function breakInbox(uid: string, broken: boolean) {
  await runInDurableObject(env.USERS.getByName(uid), (_o, state) => {
    state.storage.sql.exec(broken ? "ALTER TABLE inbox RENAME TO inbox_off" : "ALTER TABLE inbox_off RENAME TO inbox");
  });
}

/**
 * What `uid`'s object still waits to deliver: events with a target above
 * that target's delivery watermark (after `stats`, which writes the
 * watermarks moved in memory).
 */
const pendingOf = async (uid: string) => {
  await env.USERS.getByName(uid).stats();
  return runInDurableObject(env.USERS.getByName(uid), (_o, state) =>
    state.storage.sql
      .exec<{ eid: string }>(
        `SELECT coalesce(json_extract(i.event, '$.mid'), i.eid) AS eid FROM inbox i LEFT JOIN delivered d ON d.target = i.pending
         WHERE i.pending IS NOT NULL AND i.seq > coalesce(d.seq, 0) AND i.seq > (SELECT seq FROM pending_floor) ORDER BY i.seq`
      )
      .toArray()
      .map((r) => r.eid)
  );
};

/**
 * Stores `n` text messages (b1…bn) from `from` to `to` in `from`'s inbox at
 * seqs `first`…, still pending, as after a long outage.
 */
async function storePending(stub: DurableObjectStub<UserObject>, from: string, to: string, n: number, first = 1) {
  await runInDurableObject(stub, (_o, state) => {
    const now = Date.now();
    for (let i = 1; i <= n; i++) {
      const seq = first + i - 1;
      const m = { type: "message", mid: newEventId(now), chat: "dm", from, to, kind: "text", body: { text: `b${i}` }, ts: now, cmid: `c${seq}`, device: "d" };
      state.storage.sql.exec(
        "INSERT INTO inbox (seq, eid, cmid, pending, at, event, conv, mine, gone, text) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 0, ?)",
        seq, m.mid, m.cmid, `u:${to}`, now, JSON.stringify(m), `d:${to}`, `b${i}`
      );
    }
  });
}

describe("delivery under faults", () => {
  it("answers a retryable error when the recipient cannot store, then delivers exactly once from the alarm", async () => {
    const [alice, bob] = await friends();
    const b0 = await connect(bob);
    b0.close();
    await b0.closed;
    const a = await connect(alice);
    await breakInbox(bob, true);

    const frame = textTo(bob, "eventually", "retry-1");
    const reply = await a.request(frame);
    expect(reply).toMatchObject({ ok: false, error: { code: "unavailable", retryable: true } });
    const [mid] = await pendingOf(alice);
    expect(mid).toBeDefined();

    // Retention never drops what is still waiting for delivery.
    const aliceStub = env.USERS.getByName(alice);
    await runInDurableObject(aliceStub, (_o, state) => {
      state.storage.sql.exec("UPDATE inbox SET at = ?", Date.now() - 30 * 24 * 3600 * 1000);
    });
    expect(await runDurableObjectAlarm(aliceStub)).toBe(true);
    expect(await pendingOf(alice)).toEqual([mid]);
    await runInDurableObject(aliceStub, (_o, state) => {
      state.storage.sql.exec("UPDATE inbox SET at = ?", Date.now());
    });

    await breakInbox(bob, false);
    expect(await runDurableObjectAlarm(aliceStub)).toBe(true);
    expect(await pendingOf(alice)).toEqual([]);
    // The client's own retry now gets the original ack, and nothing is stored twice.
    const ack = await a.ok<SendAck>(frame);
    expect(ack.mid).toBe(mid);
    const b = await connect(bob);
    const page = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events.map((e) => (e as MessageEvent).mid)).toEqual([mid]);
  });

  it("keeps an offline recipient's inbox through a graceful eviction", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    await a.ok(textTo(bob, "one"));
    await a.ok(textTo(bob, "two"));
    await evictDurableObject(env.USERS.getByName(bob));
    const b = await connect(bob, { since: 0 });
    const catchup = await b.next("catchup");
    expect(catchup.events.map((e) => ((e as MessageEvent).body as { text: string }).text)).toEqual(["one", "two"]);
  });

  it("refuses a resend and a receipt once the friendship is gone, and stops retrying them", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const b = await connect(bob);
    const ack = await a.ok<SendAck>(textTo(bob, "before"));
    await b.next("message");
    await breakInbox(bob, true);
    const frame = textTo(bob, "stuck", "stuck-1");
    expect(await a.request(frame)).toMatchObject({ ok: false, error: { code: "unavailable" } });
    expect(await pendingOf(alice)).toHaveLength(1);
    await breakInbox(bob, false);
    // Ending the friendship drops what was still pending for the other side.
    expect((await api("DELETE", `/api/v1/friendships/${alice}/${bob}`)).status).toBe(204);
    expect(await pendingOf(alice)).toEqual([]);

    expect(await a.request(frame)).toMatchObject({ ok: false, error: { code: "stranger" } });
    const receipt = await b.ok<{ seq: number }>({ type: "read", peer: alice, mid: ack.mid });
    expect(receipt.seq).toBeGreaterThan(0);
    expect(await pendingOf(bob)).toEqual([]);
    const aliceInbox = await a.ok<SyncResult>({ type: "sync", after: 0 });
    expect(aliceInbox.events.filter((e) => e.type === "receipt")).toEqual([]);
    const bobInbox = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(bobInbox.events.map((e) => (e.type === "message" ? (e.body as { text: string }).text : e.type))).toEqual(["before", "receipt"]);
  });

  it("refuses reusing a cmid for a different message with `conflict`", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    await a.ok(textTo(bob, "original", "dup"));
    const reply: ReplyFrame = await a.request(textTo(bob, "something else", "dup"));
    expect(reply).toMatchObject({ ok: false, error: { code: "conflict" } });
  });

  it("stores nothing for a message to an unknown user", async () => {
    const alice = await createUser();
    const a = await connect(alice);
    expect(await a.request(textTo("nobody_here", "hi"))).toMatchObject({ ok: false, error: { code: "unknown_user" } });
    expect(await a.ok<SyncResult>({ type: "sync", after: 0 })).toEqual({ events: [], more: false, head: 0 });
  });

  it("pages sync by bytes as well as count, so a page always fits in one frame", async () => {
    const [alice, bob] = await friends();
    const big = "x".repeat(600_000);
    await env.USERS.getByName(bob).deliver(
      [1, 2, 3].map((i) => ({
        type: "message" as const, mid: newEventId(), chat: "dm" as const, from: alice, to: bob,
        kind: "text", body: { text: `${i}${big}` }, ts: Date.now()
      }))
    );
    const b = await connect(bob);
    const first = await b.ok<SyncResult>({ type: "sync", after: 0, limit: 500 });
    expect(first.events.map((e) => e.seq)).toEqual([1]);
    expect(first.more).toBe(true);
    const second = await b.ok<SyncResult>({ type: "sync", after: 1 });
    expect(second.events.map((e) => e.seq)).toEqual([2]);
  });
});

describe("presence under faults", () => {
  it("clears a ghost left by a restart that dropped every socket, from the user's alarm", async () => {
    const [alice, bob] = await friends();
    const b = await connect(bob);
    await connect(alice);
    await b.next("presence", (p) => p.uid === alice && p.online);
    await abortAllDurableObjects();

    const aliceStub = env.USERS.getByName(alice);
    expect(await runDurableObjectAlarm(aliceStub)).toBe(true);
    const b2 = await connect(bob);
    expect(await b2.ok({ type: "online" })).toEqual({ friends: [] });
  });

  it("expires a registry lease that is not refreshed", async () => {
    const shard = env.PRESENCE.getByName("shard-test");
    await shard.setOnline("lease_user", 1, Date.now() + 60_000);
    expect(await shard.filterOnline(["lease_user"])).toEqual(["lease_user"]);
    await runInDurableObject(shard, (_o, state) => {
      state.storage.sql.exec("UPDATE online SET until = ?", Date.now() - 1);
    });
    expect(await shard.filterOnline(["lease_user"])).toEqual([]);
    expect(await runDurableObjectAlarm(shard)).toBe(true);
    const rows = await runInDurableObject(shard, (_o, state) => state.storage.sql.exec("SELECT uid FROM online").toArray());
    expect(rows).toEqual([]);
  });
});

describe("sessions", () => {
  it("keeps identity only in the socket attachment (with its token's iat and jti, for revocation)", async () => {
    const uid = await createUser();
    await connect(uid, { device: "d1" });
    const att = await runInDurableObject(env.USERS.getByName(uid), (_o, state) =>
      state.getWebSockets()[0]!.deserializeAttachment()
    );
    expect(Object.keys(att as object).sort()).toEqual(["connectedAt", "device", "exp", "iat", "jti", "uid"]);
    expect(att).toMatchObject({ uid, device: "d1" });
  });

  it("closes a listen-only socket whose token expired, from the alarm", async () => {
    const uid = await createUser();
    const { mintToken } = await import("../../src/lib/tokens");
    const { token } = await mintToken("test-jwt-secret-0123456789abcdef", uid, 1);
    const c = await connect(uid, { token });
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await runDurableObjectAlarm(env.USERS.getByName(uid))).toBe(true);
    expect((await c.closed).code).toBe(4001);
  });
});

describe("batched delivery", () => {
  const dm = (from: string, to: string, text: string) => ({
    type: "message" as const, mid: newEventId(Date.now()), chat: "dm" as const, from, to, kind: "text", body: text, ts: Date.now()
  });
  const seqsOf = (uid: string) =>
    runInDurableObject(env.USERS.getByName(uid), (_o, state) =>
      state.storage.sql.exec<{ seq: number; eid: string }>("SELECT seq, eid FROM inbox ORDER BY seq").toArray()
    );

  it("stores a batch in order with consecutive seqs, and a redelivered batch stores only what is new", async () => {
    const [alice, bob] = await friends();
    const first = [dm(alice, bob, "1"), dm(alice, bob, "2"), dm(alice, bob, "3")];
    const bobObj = env.USERS.getByName(bob);
    expect(await bobObj.deliver(first)).toEqual([1, 2, 3].map((seq) => ({ seq, devices: 0, duplicate: false })));
    // A retry of the same batch with one message more: the first three are duplicates, the new one follows them.
    const retry = [...first, dm(alice, bob, "4")];
    expect(await bobObj.deliver(retry)).toEqual([
      ...[1, 2, 3].map((seq) => ({ seq, devices: 0, duplicate: true })),
      { seq: 4, devices: 0, duplicate: false }
    ]);
    // A batch with a duplicate in the middle keeps the seqs gapless.
    expect((await bobObj.deliver([dm(alice, bob, "5"), first[1]!, dm(alice, bob, "6")])).map((d) => [d.seq, d.duplicate])).toEqual([
      [5, false], [2, true], [6, false]
    ]);
    expect((await seqsOf(bob)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    const b = await connect(bob);
    const page = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events.map((e) => (e as MessageEvent).body)).toEqual(["1", "2", "3", "4", "5", "6"]);
    expect((await b.ok<{ conversations: { unread: number }[] }>({ type: "conversations" })).conversations[0]?.unread).toBe(6);
  });

  it("stores more messages than one statement carries, in order", async () => {
    const [alice, bob] = await friends();
    const batch = Array.from({ length: 25 }, (_, i) => dm(alice, bob, `m${i}`));
    const out = await env.USERS.getByName(bob).deliver(batch);
    expect(out.map((d) => d.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect((await seqsOf(bob)).map((r) => r.eid)).toEqual(batch.map((m) => m.mid));
  });
});

describe("delivery order after a failure", () => {
  const texts = (page: SyncResult) =>
    page.events.filter((e): e is MessageEvent => e.type === "message").map((m) => (m.body as { text: string }).text);

  it("a message sent after one that failed reaches the peer after it, once", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    await breakInbox(bob, true);
    expect(await a.request(textTo(bob, "first"))).toMatchObject({ ok: false, error: { code: "unavailable" } });
    await breakInbox(bob, false);
    await a.ok<SendAck>(textTo(bob, "second"));
    expect(await pendingOf(alice)).toEqual([]);
    const b = await connect(bob);
    expect(texts(await b.ok<SyncResult>({ type: "sync", after: 0 }))).toEqual(["first", "second"]);
    // The alarm finds nothing left to retry; nothing arrives twice.
    await runDurableObjectAlarm(env.USERS.getByName(alice));
    expect(texts(await b.ok<SyncResult>({ type: "sync", after: 0 }))).toEqual(["first", "second"]);
  });

  it("an unreaction cannot overtake the reaction it undoes", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    const sent = await a.ok<SendAck>(textTo(bob, "react to me"));
    await breakInbox(bob, true);
    expect(await a.ok({ type: "react", mid: sent.mid, emoji: "👍" })).toMatchObject({ changed: true });
    await breakInbox(bob, false);
    expect(await a.ok({ type: "react", mid: sent.mid, emoji: "👍", remove: true })).toMatchObject({ changed: true });
    await runDurableObjectAlarm(env.USERS.getByName(alice));
    const b = await connect(bob);
    expect((await copyOf(b, sent.mid))?.reactions).toBeUndefined();
    expect((await copyOf(a, sent.mid))?.reactions).toBeUndefined();
  });

  it("a fresh object checks for older pending events before its first delivery", async () => {
    const [alice, bob] = await friends();
    const a = await connect(alice);
    await breakInbox(bob, true);
    expect(await a.request(textTo(bob, "before the restart"))).toMatchObject({ ok: false, error: { code: "unavailable" } });
    await breakInbox(bob, false);
    a.close();
    await a.closed;
    await evictDurableObject(env.USERS.getByName(alice));
    const a2 = await connect(alice);
    await a2.ok<SendAck>(textTo(bob, "after the restart"));
    const b = await connect(bob);
    expect(texts(await b.ok<SyncResult>({ type: "sync", after: 0 }))).toEqual(["before the restart", "after the restart"]);
  });
  it("a backlog larger than one call goes first; the new message follows from the alarm, in order", async () => {
    const [alice, bob] = await friends();
    const aliceStub = env.USERS.getByName(alice);
    await storePending(aliceStub, alice, bob, 200);
    await evictDurableObject(aliceStub);
    const a = await connect(alice);
    const frame = textTo(bob, "new", "new-1");
    expect(await a.request(frame)).toMatchObject({ ok: false, error: { code: "unavailable", retryable: true } });
    const b = await connect(bob);
    const first = texts(await b.ok<SyncResult>({ type: "sync", after: 0, limit: 500 }));
    expect(first).toEqual(Array.from({ length: 200 }, (_, i) => `b${i + 1}`));
    await runDurableObjectAlarm(aliceStub);
    expect(await pendingOf(alice)).toEqual([]);
    const all = texts(await b.ok<SyncResult>({ type: "sync", after: 0, limit: 500 }));
    expect(all).toEqual([...first, "new"]);
    const ack = await a.ok<SendAck>(frame);
    expect(texts(await b.ok<SyncResult>({ type: "sync", after: 200, limit: 500 }))).toEqual(["new"]);
    expect(ack.seq).toBe(201);
  });
  it("after an alarm run over part of a backlog, a new message still waits for the rest", async () => {
    const [alice, bob] = await friends();
    const aliceStub = env.USERS.getByName(alice);
    await storePending(aliceStub, alice, bob, 250);
    await evictDurableObject(aliceStub);
    const a = await connect(alice);
    await runDurableObjectAlarm(aliceStub); // retries the oldest 200
    await a.ok<SendAck>(textTo(bob, "new"));
    const b = await connect(bob);
    expect(texts(await b.ok<SyncResult>({ type: "sync", after: 0, limit: 500 }))).toEqual([
      ...Array.from({ length: 250 }, (_, i) => `b${i + 1}`),
      "new"
    ]);
  });

  it("a call whose events have a gap carries what is pending in the gap, in order", async () => {
    const [alice, bob] = await friends();
    const aliceStub = env.USERS.getByName(alice);
    await storePending(aliceStub, alice, bob, 5);
    await evictDurableObject(aliceStub);
    const a = await connect(alice);
    // Three resends in one message: the first goes alone, the other two (b2, b5) share the next call.
    a.send([1, 2, 5].map((i) => JSON.stringify({ ...textTo(bob, `b${i}`, `c${i}`), id: `gap-${i}` })).join("\n"));
    for (const i of [1, 2, 5]) {
      expect(await a.take<ReplyFrame>((f) => f.type === "reply" && f.id === `gap-${i}`)).toMatchObject({ ok: true });
    }
    const b = await connect(bob);
    expect(texts(await b.ok<SyncResult>({ type: "sync", after: 0 }))).toEqual(["b1", "b2", "b3", "b4", "b5"]);
    expect(await pendingOf(alice)).toEqual([]);
  });

  it("a recipient that keeps failing with a long backlog does not hold up retries to others", async () => {
    const alice = await createUser();
    const [bob, carol] = [await createUser(), await createUser()];
    await befriend(alice, bob);
    await befriend(alice, carol);
    const aliceStub = env.USERS.getByName(alice);
    await storePending(aliceStub, alice, bob, 250);
    await storePending(aliceStub, alice, carol, 150, 251);
    await evictDurableObject(aliceStub);
    await connect(alice); // a connected user's object keeps an alarm
    await breakInbox(bob, true);
    expect(await runDurableObjectAlarm(aliceStub)).toBe(true);
    const c = await connect(carol);
    const carolGot = async () => texts(await c.ok<SyncResult>({ type: "sync", after: 0, limit: 500 }));
    expect(await carolGot()).toEqual(Array.from({ length: 100 }, (_, i) => `b${i + 1}`));
    // The rest of carol's backlog goes on at once, not after bob's backoff.
    const next = await runInDurableObject(aliceStub, (_o, s) => s.storage.getAlarm());
    expect(next).not.toBeNull();
    expect(next!).toBeLessThanOrEqual(Date.now() + 1_000);
    expect(await runDurableObjectAlarm(aliceStub)).toBe(true);
    expect(await carolGot()).toEqual(Array.from({ length: 150 }, (_, i) => `b${i + 1}`));
    await breakInbox(bob, false);
    for (let i = 0; i < 5 && (await pendingOf(alice)).length > 0; i++) await runDurableObjectAlarm(aliceStub);
    const b = await connect(bob);
    expect(texts(await b.ok<SyncResult>({ type: "sync", after: 0, limit: 500 }))).toEqual(Array.from({ length: 250 }, (_, i) => `b${i + 1}`));
  });

  it("refusing one event to a non-friend leaves the others that may still go pending", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const seedBob = await connectSeed(bob);
    const a = await connect(alice);
    seedBob.send({ type: "friend_request", toUid: alice, isGroup: 0, id: "fr1", content: "add me?" });
    const request = await a.next("message", (m) => m.kind === "friend_request");
    await breakInbox(bob, true);
    const seedAlice = await connectSeed(alice);
    seedAlice.send({ type: "friend_response", toUid: bob, isGroup: 0, id: "resp1", content: "yes" });
    for (let i = 0; i < 100 && (await pendingOf(alice)).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await pendingOf(alice)).toHaveLength(1); // the response, waiting for bob's object
    // A receipt to a non-friend is refused; the response must not be dropped with it.
    await a.ok({ type: "read", peer: bob, mid: request.mid });
    await breakInbox(bob, false);
    expect(await runDurableObjectAlarm(env.USERS.getByName(alice))).toBe(true);
    const b = await connect(bob);
    const kinds = (await b.ok<SyncResult>({ type: "sync", after: 0 })).events.map((e) => (e as MessageEvent).kind);
    expect(kinds).toContain("friend_response");
  });

  it("several recipients that keep failing with long backlogs do not crowd out another", async () => {
    const alice = await createUser();
    const down = await Promise.all(Array.from({ length: 4 }, () => createUser()));
    const carol = await createUser();
    for (const u of [...down, carol]) await befriend(alice, u);
    const aliceStub = env.USERS.getByName(alice);
    for (const [i, u] of down.entries()) await storePending(aliceStub, alice, u, 100, 1 + i * 100);
    await storePending(aliceStub, alice, carol, 1, 401);
    await evictDurableObject(aliceStub);
    await connect(alice);
    for (const u of down) await breakInbox(u, true);
    expect(await runDurableObjectAlarm(aliceStub)).toBe(true);
    const c = await connect(carol);
    expect(texts(await c.ok<SyncResult>({ type: "sync", after: 0 }))).toEqual(["b1"]);
    for (const u of down) await breakInbox(u, false);
  });

  it("an ended friendship drops what is pending for the ex-friend, but not what a non-friend may be sent", async () => {
    const [alice, bob] = await friends();
    await breakInbox(bob, true);
    const a = await connect(alice);
    expect(await a.request(textTo(bob, "friends only"))).toMatchObject({ ok: false, error: { code: "unavailable" } });
    const seedAlice = await connectSeed(alice);
    seedAlice.send({ type: "friend_response", toUid: bob, isGroup: 0, id: "resp-ended", content: "ok" });
    for (let i = 0; i < 100 && (await pendingOf(alice)).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await pendingOf(alice)).toHaveLength(2);
    await breakInbox(bob, false);
    expect((await api("DELETE", `/api/v1/friendships/${alice}/${bob}`)).status).toBe(204);
    expect(await pendingOf(alice)).toHaveLength(1);
    expect(await runDurableObjectAlarm(env.USERS.getByName(alice))).toBe(true);
    const b = await connect(bob);
    const kinds = (await b.ok<SyncResult>({ type: "sync", after: 0 })).events.map((e) => (e as MessageEvent).kind);
    expect(kinds).toEqual(["friend_response"]);
  });

  it("an earlier message goes along only if the recipient may still be sent it", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const aliceStub = env.USERS.getByName(alice);
    await storePending(aliceStub, alice, bob, 1); // from before they stopped being friends
    await evictDurableObject(aliceStub);
    const b = await connect(bob);
    const seed = await connectSeed(alice);
    seed.send({ type: "friend_request", toUid: bob, isGroup: 0, id: "fr1", content: "hi again" });
    await b.next("message", (m) => m.kind === "friend_request");
    const page = await b.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events.map((e) => (e as MessageEvent).kind)).toEqual(["friend_request"]);
  });
});
