import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { FriendRequest, InboxEvent, PushUsersResult, Schedule, SyncResult } from "../../src/protocol";
import { noticeOf } from "../../src/realtime/push";
import { api, call, connect, createUser, expectJson, friends, uniqueId } from "../helpers/fixtures";
import { connectedUsers, makeGroup, streamOf } from "../helpers/groups";

type Doc = { paths: Record<string, Record<string, { security?: unknown[] }>> };

async function inboxOf(uid: string): Promise<InboxEvent[]> {
  const c = await connect(uid);
  const page = await c.ok<SyncResult>({ type: "sync", after: 0 });
  c.close();
  return page.events;
}
const noticeCount = async (uid: string) => (await inboxOf(uid)).filter((e) => e.type === "notice").length;

async function onlineCount(atLeast: number): Promise<number> {
  let count = 0;
  for (let i = 0; i < 100; i++) {
    ({ count } = await expectJson<{ count: number }>(await api("GET", "/api/v1/online/count"), 200));
    if (count >= atLeast) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return count;
}

describe("API key on every operation", () => {
  it("answers 401 for every documented operation that is not public, with or without a body", async () => {
    const doc = await expectJson<Doc>(await call("/api/v1/openapi.json"), 200);
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (Array.isArray(op.security) && op.security.length === 0) continue;
        const url = path.replace(/\{[^}]+\}/g, "x_1");
        for (const key of [undefined, "wrong-key"]) {
          const res = await call(url, {
            method: method.toUpperCase(),
            headers: { "Content-Type": "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}) },
            body: method === "get" || method === "delete" ? undefined : "{}"
          });
          expect(res.status, `${method} ${path}`).toBe(401);
          expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(40);
  });
});

describe("group invites over HTTP", () => {
  it("lets an invited user join an invite-only group, and refuses what it should", async () => {
    const owner = await createUser();
    const guest = await createUser();
    const gid = uniqueId("g");
    await expectJson(await api("POST", "/api/v1/groups", { id: gid, name: "closed", owner }), 201);
    const cg = await connect(guest);
    expect(await cg.request({ type: "group_join", gid })).toMatchObject({ ok: false, error: { code: "forbidden" } });
    expect(await expectJson(await api("POST", `/api/v1/groups/${gid}/invites`, { uid: guest }), 201)).toEqual({ invited: guest });
    await cg.ok({ type: "group_join", gid });
    expect(await expectJson(await api("POST", `/api/v1/groups/${gid}/invites`, { uid: guest }), 409)).toMatchObject({ error: { code: "already_member" } });
    expect(await expectJson(await api("POST", `/api/v1/groups/${gid}/invites`, { uid: "nobody_i" }), 404)).toMatchObject({ error: { code: "unknown_user" } });
    expect(await expectJson(await api("POST", "/api/v1/groups/g_none/invites", { uid: guest }), 404)).toMatchObject({ error: { code: "unknown_group" } });
  });
});

describe("idempotent group and broadcast pushes", () => {
  it("replays /push/groups for the same key, without storing twice or spending the rate limit", async () => {
    const [owner, member] = await connectedUsers(2);
    const g = await makeGroup(owner!.c, [member!.uid]);
    const key = { "Idempotency-Key": `g-${g.id}` };
    const first = await expectJson(await api("POST", `/api/v1/push/groups/${g.id}`, { body: "once" }, undefined, key), 200);
    for (let i = 0; i < 150; i++) {
      const again = await api("POST", `/api/v1/push/groups/${g.id}`, { body: "once" }, undefined, key);
      expect(again.status).toBe(200);
      expect(again.headers.get("Idempotent-Replayed")).toBe("true");
      expect(await again.json()).toEqual(first);
    }
    await member!.c.next("notice");
    expect((await streamOf(member!.uid, g.id)).filter((e) => e.type === "notice")).toHaveLength(1);
    await member!.c.ok({ type: "ping" });
    expect(member!.c.seen((f) => f.type === "notice")).toHaveLength(1);
  });

  it("counts exactly the users online in /push/all and replays it for the same key", async () => {
    const users = await connectedUsers(3);
    const online = await onlineCount(3);
    const key = { "Idempotency-Key": `all-${users[0]!.uid}` };
    const res = await expectJson<{ users: number; pushId: string }>(await api("POST", "/api/v1/push/all", { body: "hi all" }, undefined, key), 200);
    expect(res.users).toBe(online);
    const again = await api("POST", "/api/v1/push/all", { body: "hi all" }, undefined, key);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(await again.json()).toEqual(res);
    for (const u of users) await u.c.next("notice");
    await users[0]!.c.ok({ type: "ping" });
    expect(users[0]!.c.seen((f) => f.type === "notice")).toHaveLength(1);
  });

  it("lets a retry take over a claim whose request died, reusing its push id so nothing arrives twice", async () => {
    const uid = await createUser();
    const key = `stale-${uid}`;
    const body = { uids: [uid], body: "late" };
    const first = await expectJson<PushUsersResult>(await api("POST", "/api/v1/push/users", body, undefined, { "Idempotency-Key": key }), 200);
    // As if that request had pushed, then died before recording its answer, a while ago.
    const unanswered = (age: number) =>
      env.DB.prepare("UPDATE idempotency_keys SET status = 0, response = NULL, created_at = ? WHERE key = ?").bind(Date.now() - age, key).run();
    await unanswered(120_000);
    const retry = await expectJson<PushUsersResult>(await api("POST", "/api/v1/push/users", body, undefined, { "Idempotency-Key": key }), 200);
    expect(retry.pushId).toBe(first.pushId);
    expect(retry.results).toEqual([{ uid, seq: 1, devices: 0, duplicate: true }]);
    expect(await noticeCount(uid)).toBe(1);
    // A claim still fresh belongs to a request still running: a conflict, not a takeover.
    await unanswered(0);
    expect(await expectJson(await api("POST", "/api/v1/push/users", body, undefined, { "Idempotency-Key": key }), 409)).toMatchObject({
      error: { code: "conflict", message: expect.stringContaining("still running") }
    });
  });
});

describe("schedules", () => {
  it("creates a broadcast schedule once per Idempotency-Key and refuses unknown groups", async () => {
    const key = { "Idempotency-Key": uniqueId("sched") };
    const body = { target: { all: true }, body: "nightly", at: Date.now() + 86_400_000 };
    const s = await expectJson<Schedule>(await api("POST", "/api/v1/schedules", body, undefined, key), 201);
    expect(s.target).toEqual({ all: true });
    const again = await api("POST", "/api/v1/schedules", body, undefined, key);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(await expectJson(again, 201)).toEqual(s);
    const { schedules } = await expectJson<{ schedules: Schedule[] }>(await api("GET", "/api/v1/schedules"), 200);
    expect(schedules.filter((x) => x.body === "nightly")).toHaveLength(1);
    expect(await expectJson(await api("POST", "/api/v1/schedules", { target: { gid: "g_nowhere" }, body: 1, delaySeconds: 5 }), 404)).toMatchObject({
      error: { code: "unknown_group" }
    });
  });
});

describe("friend requests, repeated and blocked", () => {
  it("answers a repeated request and a repeated accept with 200 and the same request", async () => {
    const a = await createUser();
    const b = await createUser();
    const cb = await connect(b);
    const req = await expectJson<FriendRequest>(await api("POST", "/api/v1/friend-requests", { from: a, to: b }), 201);
    expect(await expectJson(await api("POST", "/api/v1/friend-requests", { from: a, to: b }), 200)).toEqual(req);
    await cb.next("friend_request");
    await cb.ok({ type: "ping" });
    // The repeat re-announces under the same event id, which the inbox dedupes.
    expect(cb.seen((f) => f.type === "friend_request")).toHaveLength(1);
    const accepted = await expectJson<FriendRequest>(await api("POST", `/api/v1/friend-requests/${req.id}/accept`), 200);
    expect(await expectJson(await api("POST", `/api/v1/friend-requests/${req.id}/accept`), 200)).toEqual(accepted);
    expect(await expectJson(await api("GET", `/api/v1/users/${a}/friends`), 200)).toEqual({ friends: [b] });
  });

  it("refuses to accept a request once either side has blocked the other (403), and makes no friendship", async () => {
    const a = await createUser();
    const b = await createUser();
    const req = await expectJson<FriendRequest>(await api("POST", "/api/v1/friend-requests", { from: a, to: b }), 201);
    await expectJson(await api("POST", "/api/v1/blocks", { blocker: b, blocked: a }), 201);
    expect(await expectJson(await api("POST", `/api/v1/friend-requests/${req.id}/accept`), 403)).toMatchObject({ error: { code: "blocked" } });
    expect(await expectJson(await api("GET", `/api/v1/users/${a}/friends`), 200)).toEqual({ friends: [] });
  });
});

describe("user deletion tombstone", () => {
  it("drops deliveries that arrive after deletion, and a re-created user starts clean", async () => {
    const [doomed] = await friends();
    await expectJson(await api("POST", "/api/v1/push/users", { uids: [doomed], body: "before" }), 200);
    expect((await api("DELETE", `/api/v1/users/${doomed}`)).status).toBe(204);
    // A fan-out still in flight reaches the object after the delete.
    const late = await env.USERS.getByName(doomed).deliver([noticeOf("late1", { kind: "k", body: "late" })]);
    expect(late).toEqual([{ seq: 0, devices: 0, duplicate: true }]);

    await createUser(doomed);
    expect(await inboxOf(doomed)).toEqual([]);
    await expectJson(await api("POST", "/api/v1/push/users", { uids: [doomed], body: "welcome back" }), 200);
    expect((await inboxOf(doomed)).map((e) => (e.type === "notice" ? e.body : e.type))).toEqual(["welcome back"]);
  });
});
