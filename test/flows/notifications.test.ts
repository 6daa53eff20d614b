import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { GroupInfo, NotificationPayload, SendAck, SubscriptionInfo } from "../../src/protocol";
import type { ImClient } from "../helpers/client";
import { api, connect, createUser, expectJson, friends, textTo } from "../helpers/fixtures";
import { groupText, makeGroup } from "../helpers/groups";

const b64 = (b: ArrayBuffer | Uint8Array) => btoa(String.fromCharCode(...new Uint8Array(b))).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

/** A browser-shaped Web Push subscription: a real P-256 key and auth secret, at a push service that is not reachable from here. */
async function webPushSubscription(name = crypto.randomUUID()) {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const p256dh = b64((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  return { type: "webpush", endpoint: `http://127.0.0.1:9/send/${name}`, keys: { p256dh, auth: b64(crypto.getRandomValues(new Uint8Array(16))) } };
}

type Row = { conv: string; sub: string; payload: NotificationPayload; attempts: number; next_at: number };
const outboxOf = (uid: string) =>
  runInDurableObject(env.USERS.getByName(uid), (_o, s) =>
    s.storage.sql
      .exec<{ conv: string; sub: string; payload: string; attempts: number; next_at: number }>("SELECT * FROM push_outbox ORDER BY conv")
      .toArray()
      .map((r): Row => ({ ...r, payload: JSON.parse(r.payload) as NotificationPayload }))
  );

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what} (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Closes a client and waits until its user object has no socket. */
async function leave(uid: string, c: ImClient): Promise<void> {
  c.close();
  await c.closed;
  await until(() => env.USERS.getByName(uid).stats(), (s) => s.connections === 0, "the socket to close");
}

describe("push subscriptions", () => {
  it("registers over the socket and HTTP, idempotently, lists without keys, removes; the welcome names the VAPID key", async () => {
    const uid = await createUser();
    const c = await connect(uid);
    expect(c.welcome.vapidPublicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    const sub = await webPushSubscription("a");
    const first = await c.ok<{ subscription: string; created: boolean }>({ type: "push_subscribe", subscription: sub });
    expect(first).toMatchObject({ subscription: expect.stringMatching(/^ps_[0-9a-f]{16}$/), created: true });
    expect(await c.ok({ type: "push_subscribe", subscription: sub })).toEqual({ subscription: first.subscription, created: false });
    expect(await c.request({ type: "push_subscribe", subscription: { ...sub, keys: { ...sub.keys, p256dh: "AAAA" } } })).toMatchObject({
      ok: false, error: { code: "invalid_frame" }
    });

    const fcm = await expectJson<{ subscription: string; created: boolean }>(await api("POST", `/api/v1/users/${uid}/push-subscriptions`, { type: "fcm", token: "fcm-token-1" }), 201);
    expect((await api("POST", `/api/v1/users/${uid}/push-subscriptions`, { type: "fcm", token: "fcm-token-1" })).status).toBe(200);
    const list = await expectJson<{ subscriptions: SubscriptionInfo[] }>(await api("GET", `/api/v1/users/${uid}/push-subscriptions`), 200);
    expect(list.subscriptions.map((s) => [s.id, s.type, s.service]).sort()).toEqual(
      [[first.subscription, "webpush", "http://127.0.0.1:9"], [fcm.subscription, "fcm", "fcm"]].sort()
    );
    expect(JSON.stringify(list)).not.toContain(sub.keys.auth);

    expect(await c.ok({ type: "push_unsubscribe", subscription: first.subscription })).toEqual({ removed: true });
    expect(await c.ok({ type: "push_unsubscribe", subscription: first.subscription })).toEqual({ removed: false });
    expect((await api("DELETE", `/api/v1/users/${uid}/push-subscriptions/${fcm.subscription}`)).status).toBe(204);
    expect((await api("DELETE", `/api/v1/users/${uid}/push-subscriptions/${fcm.subscription}`)).status).toBe(404);
    expect((await api("POST", `/api/v1/users/nobody_here/push-subscriptions`, { type: "fcm", token: "x" })).status).toBe(404);
  });

  it("sends only to push services it knows, over https: a subscription naming any other host is refused", async () => {
    const uid = await createUser();
    const c = await connect(uid);
    const keys = (await webPushSubscription()).keys;
    for (const endpoint of ["https://evil.example/collect", "https://push.services.mozilla.com.evil.example/x", "http://updates.push.services.mozilla.com/wpush/v2/x"]) {
      expect(await c.request({ type: "push_subscribe", subscription: { type: "webpush", endpoint, keys } })).toMatchObject({ ok: false, error: { code: "bad_request" } });
    }
    await c.ok({ type: "push_subscribe", subscription: { type: "webpush", endpoint: "https://updates.push.services.mozilla.com/wpush/v2/abc", keys } });
  });

  it("forgets every subscription when the user is banned or all their tokens are revoked", async () => {
    const uid = await createUser();
    const c = await connect(uid);
    await c.ok({ type: "push_subscribe", subscription: await webPushSubscription() });
    const list = async () => (await expectJson<{ subscriptions: SubscriptionInfo[] }>(await api("GET", `/api/v1/users/${uid}/push-subscriptions`), 200)).subscriptions;
    expect(await list()).toHaveLength(1);
    expect((await api("POST", `/api/v1/users/${uid}/tokens/revoke`, {})).status).toBe(200);
    expect(await list()).toEqual([]);
    await api("POST", `/api/v1/users/${uid}/push-subscriptions`, { type: "fcm", token: "t-1" });
    expect((await api("POST", `/api/v1/users/${uid}/ban`, {})).status).toBe(200);
    expect(await list()).toEqual([]);
  });
});

describe("offline notifications (direct)", () => {
  it("queues one per conversation for a user with no socket, counts what it collapses, retries with backoff, and clears on connect", async () => {
    const [alice, bob] = await friends();
    const b = await connect(bob);
    const { subscription } = await b.ok<{ subscription: string }>({ type: "push_subscribe", subscription: await webPushSubscription() });
    const a = await connect(alice);
    await a.ok<SendAck>(textTo(bob, "while online"));
    await b.next("message");
    expect(await outboxOf(bob)).toEqual([]); // a device had it live

    await leave(bob, b);
    const first = await a.ok<SendAck>(textTo(bob, "are you there?"));
    // Sent at once and failed (the push service is unreachable): waiting for its retry.
    const [row] = await until(() => outboxOf(bob), (r) => r.length === 1 && r[0]!.attempts >= 1, "a failed first attempt");
    expect(row).toMatchObject({ conv: `d:${alice}`, sub: subscription, payload: { v: 1, type: "message", chat: "dm", conv: alice, from: alice, mid: first.mid, text: "are you there?", count: 1 } });
    expect(row!.next_at).toBeGreaterThan(Date.now() + 20_000);

    await a.ok<SendAck>(textTo(bob, "hello?"));
    const last = await a.ok<SendAck>(textTo(bob, "ok, later"));
    const collapsed = await until(() => outboxOf(bob), (r) => r[0]?.payload.mid === last.mid, "the newest message");
    expect(collapsed).toHaveLength(1);
    expect(collapsed[0]!.payload).toMatchObject({ count: 3, text: "ok, later" });

    await connect(bob);
    expect(await outboxOf(bob)).toEqual([]);
  });

  it("notifies nothing for a muted conversation, nor for a user without subscriptions; a recall takes a waiting one back", async () => {
    const [alice, bob] = await friends();
    const carol = await createUser();
    await api("POST", "/api/v1/friendships", { a: carol, b: bob });
    const b = await connect(bob);
    await b.ok({ type: "push_subscribe", subscription: await webPushSubscription() });
    await b.ok({ type: "conversation_mute", peer: carol, muted: true });
    await leave(bob, b);
    const a = await connect(alice);
    const c = await connect(carol);
    await c.ok<SendAck>(textTo(bob, "muted chat"));
    const sent = await a.ok<SendAck>(textTo(bob, "take it back"));
    const rows = await until(() => outboxOf(bob), (r) => r.length === 1, "alice's notification");
    expect(rows.map((r) => r.conv)).toEqual([`d:${alice}`]);
    await a.ok({ type: "recall", mid: sent.mid });
    await until(() => outboxOf(bob), (r) => r.length === 0, "the recall to drop it");

    const dave = await createUser();
    await api("POST", "/api/v1/friendships", { a: alice, b: dave });
    await a.ok<SendAck>(textTo(dave, "no subscriptions here"));
    expect(await outboxOf(dave)).toEqual([]);
  });
});

describe("offline notifications (groups)", () => {
  async function groupWithOfflineMember() {
    const owner = await createUser();
    const bob = await createUser();
    const o = await connect(owner);
    const g: GroupInfo = await makeGroup(o, [bob]);
    const b = await connect(bob);
    await b.ok({ type: "push_subscribe", subscription: await webPushSubscription() });
    // Bob's object attached to the group while connected; now it has no socket.
    await o.ok(groupText(g.id, "before"));
    await b.next("message");
    return { owner, bob, o, b, gid: g.id };
  }

  it("notifies a member who left once per offline period, then on each mention; muted groups only on mentions", async () => {
    const { bob, o, b, gid } = await groupWithOfflineMember();
    await leave(bob, b);
    const one = await o.ok<SendAck>(groupText(gid, "first while away"));
    await until(() => outboxOf(bob), (r) => r.length === 1, "the first group notification");
    await o.ok(groupText(gid, "second while away"));
    await new Promise((r) => setTimeout(r, 300));
    const rows = await outboxOf(bob);
    // The group stopped pushing to bob's object: nothing more is queued, nothing per message.
    expect(rows.map((r) => [r.conv, r.payload.mid, r.payload.count])).toEqual([[`g:${gid}`, one.mid, 1]]);

    const mention = await o.ok<SendAck>(groupText(gid, "@bob look", undefined, { mentions: { users: [bob] } }));
    const after = await until(() => outboxOf(bob), (r) => r[0]?.payload.mid === mention.mid, "the mention");
    expect(after[0]!.payload).toMatchObject({ chat: "group", conv: gid, mentioned: true, count: 2, text: "@bob look" });

    // Muted: a plain message notifies nothing, a mention still does.
    const b2 = await connect(bob);
    await b2.ok({ type: "conversation_mute", chat: "group", peer: gid, muted: true });
    await o.ok(groupText(gid, "while online"));
    await b2.next("message", (m) => (m.body as { text: string }).text === "while online");
    await leave(bob, b2);
    await o.ok(groupText(gid, "muted and away"));
    await new Promise((r) => setTimeout(r, 300));
    expect(await outboxOf(bob)).toEqual([]);
    await o.ok(groupText(gid, "@bob urgent", undefined, { mentions: { users: [bob] } }));
    await until(() => outboxOf(bob), (r) => r.length === 1 && r[0]!.payload.mentioned === true, "the mention in a muted group");
  });

  it("never sends a notification whose message was recalled: the retry drops it", async () => {
    const { bob, o, b, gid } = await groupWithOfflineMember();
    await leave(bob, b);
    const sent = await o.ok<SendAck>(groupText(gid, "oops"));
    await until(() => outboxOf(bob), (r) => r.length === 1 && r[0]!.attempts >= 1, "a failed attempt");
    const stub = env.USERS.getByName(bob);
    // Still there: a due retry fails again and waits longer.
    await runInDurableObject(stub, (_o, s) => s.storage.sql.exec("UPDATE push_outbox SET next_at = 0"));
    await runDurableObjectAlarm(stub);
    expect((await outboxOf(bob))[0]!.attempts).toBe(2);
    await o.ok({ type: "recall", mid: sent.mid });
    await runInDurableObject(stub, (_o, s) => s.storage.sql.exec("UPDATE push_outbox SET next_at = 0"));
    await runDurableObjectAlarm(stub);
    expect(await outboxOf(bob)).toEqual([]);
  });
});
