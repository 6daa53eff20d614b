import { describe, expect, it } from "vitest";
import type { InboxEvent, NoticeEvent, PushUsersResult, SyncResult } from "../../src/protocol";
import { api, connect, createUser, expectJson, uniqueId } from "../helpers/fixtures";
import { connectedUsers, drainFanout, makeGroup, streamOf } from "../helpers/groups";

const notices = (events: readonly { type: string }[]) => events.filter((e): e is NoticeEvent => e.type === "notice");

async function inboxOf(uid: string): Promise<InboxEvent[]> {
  const c = await connect(uid);
  const page = await c.ok<SyncResult>({ type: "sync", after: 0 });
  c.close();
  return page.events;
}

describe("push to users (sendToUid)", () => {
  it("stores the push for online and offline users and reports the devices it reached", async () => {
    const online = await createUser();
    const offline = await createUser();
    const phone = await connect(online, { device: "phone" });
    const laptop = await connect(online, { device: "laptop" });
    const res = await expectJson<PushUsersResult>(
      await api("POST", "/api/v1/push/users", { uids: [online, offline], kind: "promo", body: { text: "sale!" } }),
      200
    );
    expect(res.users).toBe(2);
    expect(res.devices).toBe(2);
    expect(res.results).toEqual([
      { uid: online, seq: 1, devices: 2, duplicate: false },
      { uid: offline, seq: 1, devices: 0, duplicate: false }
    ]);
    for (const dev of [phone, laptop]) {
      expect(await dev.next("notice")).toMatchObject({ kind: "promo", body: { text: "sale!" }, seq: 1, eid: `n_${res.pushId}` });
    }
    expect(notices(await inboxOf(offline))).toMatchObject([{ kind: "promo", body: { text: "sale!" }, seq: 1 }]);
  });

  it("replays the first answer for a repeated Idempotency-Key and delivers nothing twice", async () => {
    const uid = await createUser();
    const c = await connect(uid);
    const send = (body: unknown) =>
      api("POST", "/api/v1/push/users", body, undefined, { "Idempotency-Key": `k-${uid}` });
    const first = await send({ uids: [uid], body: "once" });
    const firstBody = await expectJson<PushUsersResult>(first, 200);
    const again = await send({ uids: [uid], body: "once" });
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(await expectJson(again, 200)).toEqual(firstBody);
    const other = await send({ uids: [uid], body: "different" });
    expect(await expectJson(other, 409)).toMatchObject({ error: { code: "conflict" } });
    await c.next("notice");
    expect(notices(await inboxOf(uid))).toHaveLength(1);
  });

  it("refuses unknown users (404, nothing pushed), oversize bodies (413) and bad input (400)", async () => {
    const uid = await createUser();
    const ghost = uniqueId("ghost");
    const missing = await expectJson<{ error: { code: string; fields: Record<string, string> } }>(
      await api("POST", "/api/v1/push/users", { uids: [uid, ghost], body: 1 }),
      404
    );
    expect(missing.error).toMatchObject({ code: "unknown_user", fields: { uids: ghost } });
    expect(notices(await inboxOf(uid))).toEqual([]);
    const big = await api("POST", "/api/v1/push/users", { uids: [uid], body: "x".repeat(70_000) });
    expect(await expectJson(big, 413)).toMatchObject({ error: { code: "frame_too_large" } });
    expect(await expectJson(await api("POST", "/api/v1/push/users", { uids: [], body: 1 }), 400)).toMatchObject({
      error: { code: "bad_request", fields: { uids: expect.any(String) } }
    });
  });

  it("answers 429 once a user has had 600 pushes in 10 s (wrangler.toml's PUSH_LIMITER: a chat relay's rate, per target)", async () => {
    const uid = await createUser();
    // Its own key, so the per-key budget other test files spend is not in play.
    const res = await pushUntilRefused([uid], "test-api-key-old", 650);
    expect(res.sent).toBe(600);
    expect(res.error).toMatchObject({ code: "rate_limited", retryable: true, message: expect.stringContaining(`u:${uid}`) });
  }, 40_000);

  it("answers 429 once one API key has pushed its budget, whatever the targets (PUSH_KEY_LIMITER)", async () => {
    const uids = [await createUser(), await createUser()];
    // Two targets, so neither reaches its own 600 first; the test config sets this key budget to 700 per 10 s.
    const res = await pushUntilRefused(uids, "test-api-key-burst", 750);
    expect(res.sent).toBe(700);
    expect(res.error).toMatchObject({ code: "rate_limited", message: expect.stringContaining("API key") });
    // Another key still pushes to the same users.
    expect((await api("POST", "/api/v1/push/users", { uids: [uids[0]!], body: "still" })).status).toBe(200);
  }, 40_000);
});

/**
 * Pushes to `uids` in turn with `key` until one is refused (at most `max`):
 * how many went through, and the refusal. Budgets count in 10-second windows
 * of the wall clock, so it starts as one begins.
 */
async function pushUntilRefused(uids: readonly string[], key: string, max: number): Promise<{ sent: number; error?: unknown }> {
  await new Promise((r) => setTimeout(r, 10_000 - (Date.now() % 10_000) + 20));
  for (let sent = 0; sent < max; sent++) {
    const res = await api("POST", "/api/v1/push/users", { uids: [uids[sent % uids.length]!], body: sent }, key);
    if (res.status !== 200) {
      expect(res.status).toBe(429);
      return { sent, error: ((await res.json()) as { error: unknown }).error };
    }
  }
  return { sent: max };
}

describe("push to a group (sendToGroup)", () => {
  it("reaches every member but the excepted users, and skips the excepted devices live while still storing for them", async () => {
    const [owner, m1, m2] = await connectedUsers(3);
    const m1Tab = await connect(m1!.uid, { device: "tab" });
    const offline = await createUser();
    const g = await makeGroup(owner!.c, [m1!.uid, m2!.uid, offline]);
    const res = await expectJson<{ pushId: string; gseq: number; recipients: number }>(
      await api("POST", `/api/v1/push/groups/${g.id}`, {
        kind: "alert",
        body: { text: "meeting" },
        exceptUids: [m2!.uid],
        exceptDevices: [{ uid: m1!.uid, device: m1!.c.welcome.device }]
      }),
      200
    );
    expect(res).toMatchObject({ gseq: 2, recipients: 3, delivery: "queued" });
    expect(await m1Tab.next("notice")).toMatchObject({ gid: g.id, gseq: 2, kind: "alert", body: { text: "meeting" } });
    expect(await owner!.c.next("notice")).toMatchObject({ gid: g.id });
    await drainFanout(g.id);
    await m1!.c.ok({ type: "ping" });
    expect(m1!.c.seen((f) => f.type === "notice")).toEqual([]);
    // Stored once, in the group: each member reads it in their stream (the excepted one does not see it).
    expect(notices(await streamOf(m1!.uid, g.id))).toHaveLength(1);
    expect(notices(await streamOf(m2!.uid, g.id))).toEqual([]);
    expect(notices(await streamOf(offline, g.id))).toMatchObject([{ gid: g.id, gseq: 2 }]);
    expect(notices(await inboxOf(offline))).toEqual([]);
  });

  it("answers 404 for an unknown group and 410 for a dismissed one", async () => {
    expect(await expectJson(await api("POST", "/api/v1/push/groups/g_nope", { body: 1 }), 404)).toMatchObject({
      error: { code: "unknown_group" }
    });
    const [owner] = await connectedUsers(1);
    const g = await makeGroup(owner!.c, []);
    await owner!.c.ok({ type: "group_dismiss", gid: g.id });
    expect(await expectJson(await api("POST", `/api/v1/push/groups/${g.id}`, { body: 1 }), 410)).toMatchObject({
      error: { code: "group_dismissed" }
    });
  });
});

describe("push to everyone online (sendToAll)", () => {
  it("reaches the users online now through every registry shard, and not offline ones", async () => {
    const a = await createUser();
    const b = await createUser();
    const away = await createUser();
    const ca = await connect(a);
    const cb = await connect(b);
    // Presence is published in the background: wait until both are registered.
    for (let i = 0; i < 50; i++) {
      const { count } = await expectJson<{ count: number }>(await api("GET", "/api/v1/online/count"), 200);
      if (count >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const res = await expectJson<{ users: number; shards: number }>(
      await api("POST", "/api/v1/push/all", { kind: "maintenance", body: "in 5 minutes" }),
      200
    );
    expect(res.shards).toBe(64);
    expect(res.users).toBeGreaterThanOrEqual(2);
    for (const c of [ca, cb]) expect(await c.next("notice")).toMatchObject({ kind: "maintenance", body: "in 5 minutes" });
    expect(notices(await inboxOf(away))).toEqual([]);
  });
});
