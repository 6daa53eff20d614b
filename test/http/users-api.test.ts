import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { mintToken } from "../../src/lib/tokens";
import { api, befriend, call, connect, createUser, expectJson, friends, JWT_SECRET, textTo, tokenFor, uniqueId } from "../helpers/fixtures";
import { makeGroup } from "../helpers/groups";

describe("user management", () => {
  it("gets and renames a user, 404 for unknown ones", async () => {
    const uid = await createUser();
    expect(await expectJson(await api("GET", `/api/v1/users/${uid}`), 200)).toMatchObject({ id: uid, name: null });
    expect(await expectJson(await api("PATCH", `/api/v1/users/${uid}`, { name: "Grace" }), 200)).toMatchObject({ id: uid, name: "Grace" });
    expect(await expectJson(await api("GET", `/api/v1/users/${uid}`), 200)).toMatchObject({ name: "Grace" });
    expect(await expectJson(await api("GET", `/api/v1/users/${uniqueId("no")}`), 404)).toMatchObject({ error: { code: "unknown_user" } });
    expect(await expectJson(await api("PATCH", `/api/v1/users/${uniqueId("no")}`, { name: "x" }), 404)).toMatchObject({ error: { code: "unknown_user" } });
    expect((await api("PATCH", `/api/v1/users/${uid}`, { name: "" })).status).toBe(400);
  });

  it("lists a user's friends and groups", async () => {
    const [a, b] = await friends();
    const c = await createUser();
    await befriend(a, c);
    expect(await expectJson(await api("GET", `/api/v1/users/${a}/friends`), 200)).toEqual({ friends: [b, c].sort() });
    const ca = await connect(a);
    const g = await makeGroup(ca, [b]);
    expect(await expectJson(await api("GET", `/api/v1/users/${b}/groups`), 200)).toEqual({ groups: [{ id: g.id, role: "member" }] });
  });

  it("deletes a user everywhere: sockets closed (4502), groups left, friends cut off, token useless", async () => {
    const [doomed, friend] = await friends();
    const owner = await createUser();
    const o = await connect(owner);
    const g = await makeGroup(o, [doomed]);
    const dc = await connect(doomed);
    const fc = await connect(friend);
    await fc.ok(textTo(doomed, "bye"));
    expect((await api("DELETE", `/api/v1/users/${doomed}`)).status).toBe(204);
    expect((await dc.closed).code).toBe(4502);
    expect(await fc.request(textTo(doomed, "hello?"))).toMatchObject({ ok: false, error: { code: "unknown_user" } });
    const { members } = await expectJson<{ members: { uid: string }[] }>(await api("GET", `/api/v1/groups/${g.id}/members`), 200);
    expect(members.map((m) => m.uid)).toEqual([owner]);
    const res = await call(`/ws?token=${await tokenFor(doomed)}`, { headers: { Upgrade: "websocket" } });
    expect(res.status).toBe(404);
    expect((await api("DELETE", `/api/v1/users/${doomed}`)).status).toBe(404);
  });

  it("does not let a token of a deleted account open the account created again with its id", async () => {
    const uid = await createUser();
    const now = Math.floor(Date.now() / 1000);
    const old = (await mintToken(JWT_SECRET, uid, 3600, now - 30)).token; // issued before the delete
    await (await connect(uid, { token: old })).ok({ type: "ping" });
    expect((await api("DELETE", `/api/v1/users/${uid}`)).status).toBe(204);
    expect((await api("POST", "/api/v1/users", { id: uid })).status).toBe(201);
    const res = await call(`/ws?token=${old}`, { headers: { Upgrade: "websocket" } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
    // A token issued to the new account works.
    await (await connect(uid)).ok({ type: "ping" });
    // Tokens of ids never deleted are not affected, however old their iat.
    const other = await createUser();
    await (await connect(other, { token: (await mintToken(JWT_SECRET, other, 3600, now - 3000)).token })).ok({ type: "ping" });
  });

  it("does not carry a deleted account's group invites over to the id created again", async () => {
    const owner = await createUser();
    const uid = await createUser();
    const o = await connect(owner);
    const g = await makeGroup(o, []);
    await o.ok({ type: "group_invite", gid: g.id, uid });
    // As if the invite were a while old (D1 keeps creation times in seconds).
    await runInDurableObject(env.GROUPS.getByName(g.id), (_o, s) => s.storage.sql.exec("UPDATE invites SET at = at - 10000"));
    expect((await api("DELETE", `/api/v1/users/${uid}`)).status).toBe(204);
    expect((await api("POST", "/api/v1/users", { id: uid })).status).toBe(201);
    const again = await connect(uid);
    expect(await again.request({ type: "group_join", gid: g.id })).toMatchObject({ ok: false, error: { code: "forbidden" } });
    // A fresh invite works.
    await o.ok({ type: "group_invite", gid: g.id, uid });
    expect(await again.ok({ type: "group_join", gid: g.id })).toMatchObject({ memberCount: 2 });
  });

  it("refuses to delete a group owner (409) until ownership moves", async () => {
    const owner = await createUser();
    const other = await createUser();
    const g = await makeGroup(await connect(owner), [other]);
    expect(await expectJson(await api("DELETE", `/api/v1/users/${owner}`), 409)).toMatchObject({ error: { code: "conflict" } });
    await expectJson(await api("POST", `/api/v1/groups/${g.id}/owner`, { uid: other }), 200);
    expect((await api("DELETE", `/api/v1/users/${owner}`)).status).toBe(204);
  });
});
