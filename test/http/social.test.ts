import { describe, expect, it } from "vitest";
import type { FriendRequest, SendAck } from "../../src/protocol";
import { api, connect, createUser, expectJson, friends, textTo } from "../helpers/fixtures";

describe("friend requests", () => {
  it("tells the target, and on accept makes them friends and tells both sides", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const ca = await connect(alice);
    const cb = await connect(bob);
    const req = await expectJson<FriendRequest>(await api("POST", "/api/v1/friend-requests", { from: alice, to: bob, message: "hi!" }), 201);
    expect(req).toMatchObject({ from: alice, to: bob, status: "pending", message: "hi!" });
    expect(await cb.next("friend_request")).toMatchObject({ rid: req.id, from: alice, to: bob, message: "hi!" });
    expect(await expectJson(await api("GET", `/api/v1/users/${bob}/friend-requests`), 200)).toEqual({ requests: [req] });
    expect(await expectJson(await api("GET", `/api/v1/users/${alice}/friend-requests?direction=outgoing`), 200)).toEqual({ requests: [req] });
    expect(await ca.request(textTo(bob, "too soon"))).toMatchObject({ ok: false, error: { code: "stranger" } });

    const accepted = await expectJson<FriendRequest>(await api("POST", `/api/v1/friend-requests/${req.id}/accept`), 200);
    expect(accepted).toMatchObject({ status: "accepted", decidedAt: expect.any(Number) });
    for (const c of [ca, cb]) expect(await c.next("friend_response")).toMatchObject({ rid: req.id, from: bob, to: alice, accepted: true });
    expect(await ca.ok<SendAck>(textTo(bob, "friends now"))).toHaveProperty("mid");
    expect(await expectJson(await api("POST", `/api/v1/friend-requests/${req.id}/reject`), 409)).toMatchObject({ error: { code: "conflict" } });
  });

  it("rejects, and refuses duplicates, existing friends, unknown users and missing requests", async () => {
    const a = await createUser();
    const b = await createUser();
    const cb = await connect(a);
    const req = await expectJson<FriendRequest>(await api("POST", "/api/v1/friend-requests", { from: b, to: a }), 201);
    expect(await expectJson(await api("POST", "/api/v1/friend-requests", { from: a, to: b }), 409)).toMatchObject({ error: { code: "conflict" } });
    expect(await expectJson(await api("POST", `/api/v1/friend-requests/${req.id}/reject`), 200)).toMatchObject({ status: "rejected" });
    expect(await cb.next("friend_response")).toMatchObject({ accepted: false });
    const [f1, f2] = await friends();
    expect(await expectJson(await api("POST", "/api/v1/friend-requests", { from: f1, to: f2 }), 409)).toMatchObject({ error: { code: "conflict" } });
    expect(await expectJson(await api("POST", "/api/v1/friend-requests", { from: a, to: "nobody_y" }), 404)).toMatchObject({ error: { code: "unknown_user" } });
    expect(await expectJson(await api("POST", "/api/v1/friend-requests/nope/accept"), 404)).toMatchObject({ error: { code: "not_found" } });
    expect((await api("POST", "/api/v1/friend-requests", { from: a, to: a })).status).toBe(400);
  });
});

describe("blocks", () => {
  it("refuses direct messages both ways and friend requests until unblocked", async () => {
    const [alice, bob] = await friends();
    const ca = await connect(alice);
    const cb = await connect(bob);
    await ca.ok(textTo(bob, "before"));
    expect(await expectJson(await api("POST", "/api/v1/blocks", { blocker: bob, blocked: alice }), 201)).toEqual({ blocker: bob, blocked: alice, created: true });
    expect((await api("POST", "/api/v1/blocks", { blocker: bob, blocked: alice })).status).toBe(200);
    expect(await ca.request(textTo(bob, "blocked?"))).toMatchObject({ ok: false, error: { code: "blocked" } });
    expect(await cb.request(textTo(alice, "and back?"))).toMatchObject({ ok: false, error: { code: "blocked" } });
    expect(await expectJson(await api("GET", `/api/v1/users/${bob}/blocks`), 200)).toEqual({ blocked: [alice] });
    const carol = await createUser();
    await expectJson(await api("POST", "/api/v1/blocks", { blocker: carol, blocked: alice }), 201);
    expect(await expectJson(await api("POST", "/api/v1/friend-requests", { from: alice, to: carol }), 403)).toMatchObject({ error: { code: "blocked" } });

    expect((await api("DELETE", `/api/v1/blocks/${bob}/${alice}`)).status).toBe(204);
    expect(await ca.ok<SendAck>(textTo(bob, "after"))).toHaveProperty("mid");
    expect((await api("DELETE", `/api/v1/blocks/${bob}/${alice}`)).status).toBe(404);
  });
});
