import { describe, expect, it } from "vitest";
import { CLOSE } from "../../src/protocol";
import { api, call, connect, expectJson, friends, textTo } from "../helpers/fixtures";

/** A fresh token minted by the backend, and its jti. */
async function mint(uid: string): Promise<{ token: string; jti: string }> {
  const { token } = await expectJson<{ token: string }>(await api("POST", "/api/v1/tokens", { uid }), 201);
  const payload = JSON.parse(atob(token.split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/"))) as { jti: string };
  return { token, jti: payload.jti };
}

const upgrade = (token: string) => call(`/ws?token=${token}`, { headers: { Upgrade: "websocket" } });
const second = () => new Promise((r) => setTimeout(r, 1_100));

describe("bans and token revocation", () => {
  it("a ban closes the user's sockets at once and keeps every token out until it is lifted", async () => {
    const [alice, bob] = await friends();
    const b = await connect(bob);
    const phone = await connect(alice, { device: "phone" });
    const laptop = await connect(alice, { device: "laptop" });
    const { token } = await mint(alice);
    expect(await expectJson(await api("POST", `/api/v1/users/${alice}/ban`, { reason: "spam" }), 200)).toEqual({ banned: true, closed: 2 });
    expect((await phone.closed).code).toBe(CLOSE.banned);
    expect((await laptop.closed).code).toBe(CLOSE.banned);
    await b.next("presence", (p) => p.uid === alice && !p.online);
    const refused = await upgrade(token);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: "banned" } });
    // Messages to a banned user still wait for them.
    await b.ok(textTo(alice, "while you were away"));

    expect(await expectJson(await api("DELETE", `/api/v1/users/${alice}/ban`), 200)).toEqual({ lifted: true });
    expect(await expectJson(await api("DELETE", `/api/v1/users/${alice}/ban`), 200)).toEqual({ lifted: false });
    // The tokens from before the ban stay revoked; a new one (a second later) works.
    expect((await upgrade(token)).status).toBe(401);
    await second();
    const back = await connect(alice, { token: (await mint(alice)).token, since: 0 });
    expect(await back.next("catchup")).toMatchObject({ events: [expect.objectContaining({ body: { text: "while you were away" } })] });
  });

  it("revoking one token by jti closes the sockets it opened and no others", async () => {
    const [alice] = await friends();
    const one = await mint(alice);
    const two = await mint(alice);
    const a1 = await connect(alice, { token: one.token, device: "one" });
    const a2 = await connect(alice, { token: two.token, device: "two" });
    expect(await expectJson(await api("POST", `/api/v1/users/${alice}/tokens/revoke`, { jti: one.jti }), 200)).toEqual({ closed: 1 });
    expect((await a1.closed).code).toBe(CLOSE.token_revoked);
    expect(await a2.ok({ type: "ping" })).toBeDefined();
    const again = await upgrade(one.token);
    expect(again.status).toBe(401);
    expect(await again.json()).toMatchObject({ error: { code: "unauthorized", message: "this token was revoked" } });
    expect((await connect(alice, { token: two.token, device: "three" })).welcome.uid).toBe(alice);
  });

  it("revoking all of a user's tokens closes every socket; tokens minted afterwards work", async () => {
    const [alice] = await friends();
    const a = await connect(alice);
    const { token } = await mint(alice);
    await second();
    expect(await expectJson(await api("POST", `/api/v1/users/${alice}/tokens/revoke`, {}), 200)).toEqual({ closed: 1 });
    expect((await a.closed).code).toBe(CLOSE.token_revoked);
    expect((await upgrade(token)).status).toBe(401);
    await second();
    expect((await connect(alice, { token: (await mint(alice)).token })).welcome.uid).toBe(alice);
  });

  it("answers unknown users with 404", async () => {
    for (const [method, path, body] of [
      ["POST", "ban", {}],
      ["DELETE", "ban", undefined],
      ["POST", "tokens/revoke", {}]
    ] as const) {
      expect((await api(method, `/api/v1/users/nobody_${Date.now()}/${path}`, body)).status).toBe(404);
    }
  });
});
