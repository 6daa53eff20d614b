import { listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { mintToken } from "../../src/lib/tokens";
import { ImClient } from "../helpers/client";
import { api, call, connect, createUser, JWT_SECRET, tokenFor, uniqueId } from "../helpers/fixtures";

async function upgrade(path: string, headers: Record<string, string> = {}) {
  return call(path, { headers: { Upgrade: "websocket", ...headers } });
}

async function objectExists(uid: string): Promise<boolean> {
  const want = env.USERS.idFromName(uid);
  return (await listDurableObjectIds(env.USERS)).some((id) => id.equals(want));
}

describe("connecting", () => {
  it("welcomes an authenticated socket with its uid, device, head and limits", async () => {
    const uid = await createUser();
    const c = await connect(uid, { device: "phone-1" });
    expect(c.welcome).toMatchObject({ type: "welcome", uid, device: "phone-1", head: 0, maxFrameBytes: 65536 });
    expect(await objectExists(uid)).toBe(true);
  });

  it("generates a device id when the client names none", async () => {
    const uid = await createUser();
    const c = await connect(uid);
    expect(c.welcome.device).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });

  it.each([
    ["no token", async () => ""],
    ["a token signed with another secret", async (uid: string) => (await mintToken("not-the-secret", uid, 600)).token],
    ["garbage", async () => "abc.def.ghi"],
    ["a token without exp", async (uid: string) => sign({ sub: uid }, JWT_SECRET, "HS256")]
  ])("refuses %s with 401 and wakes no object", async (_what, make) => {
    const uid = await createUser();
    const token = await make(uid);
    const res = await upgrade(token ? `/ws?token=${token}` : "/ws");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "unauthorized", retryable: false } });
    expect(await objectExists(uid)).toBe(false);
  });

  it("reports a forged token as unauthorized even when it claims to be expired", async () => {
    const uid = await createUser();
    const { token } = await mintToken("not-the-secret", uid, -5);
    const res = await upgrade(`/ws?token=${token}`);
    expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
  });

  it("refuses an expired token with 401 token_expired", async () => {
    const uid = await createUser();
    const { token } = await mintToken(JWT_SECRET, uid, -5);
    const res = await upgrade(`/ws?token=${token}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "token_expired" } });
    expect(await objectExists(uid)).toBe(false);
  });

  it("accepts the token as a Sec-WebSocket-Protocol entry and echoes im.v1 when offered", async () => {
    const uid = await createUser();
    const token = await tokenFor(uid);
    const res = await upgrade("/ws", { "Sec-WebSocket-Protocol": `im.v1, ${token}` });
    expect(res.status).toBe(101);
    expect(res.headers.get("Sec-WebSocket-Protocol")).toBe("im.v1");
    res.webSocket!.accept();
    const c = new ImClient(res.webSocket!);
    expect(await c.next("welcome")).toMatchObject({ uid });
  });

  it("echoes the token entry when it is the only protocol offered", async () => {
    const uid = await createUser();
    const token = await tokenFor(uid);
    const res = await upgrade("/ws", { "Sec-WebSocket-Protocol": token });
    expect(res.status).toBe(101);
    expect(res.headers.get("Sec-WebSocket-Protocol")).toBe(token);
    res.webSocket!.accept();
  });

  it("answers 404 unknown_user for a valid token naming no account", async () => {
    const ghost = uniqueId("ghost");
    const res = await upgrade(`/ws?token=${await tokenFor(ghost)}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "unknown_user" } });
  });

  it("answers 400 for a plain GET, a malformed device id or a malformed since", async () => {
    const uid = await createUser();
    const token = await tokenFor(uid);
    expect((await call(`/ws?token=${token}`)).status).toBe(400);
    const badDevice = await upgrade(`/ws?token=${token}&device=${encodeURIComponent("a b/c")}`);
    expect(badDevice.status).toBe(400);
    expect(await badDevice.json()).toMatchObject({ error: { code: "bad_request" } });
    expect((await upgrade(`/ws?token=${token}&since=-1`)).status).toBe(400);
  });

  it("ignores identity headers a client tries to smuggle in", async () => {
    const alice = await createUser();
    const bob = await createUser();
    const res = await upgrade(`/ws?token=${await tokenFor(alice)}`, { "x-im-uid": bob });
    expect(res.status).toBe(101);
    res.webSocket!.accept();
    expect(await new ImClient(res.webSocket!).next("welcome")).toMatchObject({ uid: alice });
  });

  it("closes the older socket (4500) when the same device connects again", async () => {
    const uid = await createUser();
    const first = await connect(uid, { device: "tablet" });
    const second = await connect(uid, { device: "tablet" });
    expect((await first.closed).code).toBe(4500);
    expect(await second.ok({ type: "ping" })).toHaveProperty("ts");
  });

  it("answers the exact heartbeat text from the runtime, without the object's handler", async () => {
    const uid = await createUser();
    const c = await connect(uid);
    c.send('{"type":"ping"}');
    expect(await c.take((f) => (f.type as string) === "pong", "pong")).toEqual({ type: "pong" });
    const stamp = await runInDurableObject(env.USERS.getByName(uid), (_obj, state) =>
      state.getWebSocketAutoResponseTimestamp(state.getWebSockets()[0]!)
    );
    expect(stamp).toBeInstanceOf(Date);
  });

  it("closes a socket with 4001 on the first frame after its token expired", async () => {
    const uid = await createUser();
    const { token } = await mintToken(JWT_SECRET, uid, 1);
    const c = await connect(uid, { token });
    await new Promise((r) => setTimeout(r, 2100));
    c.send({ type: "ping", id: 1 });
    expect((await c.closed).code).toBe(4001);
  });

  it("mints tokens over HTTP for existing users only", async () => {
    const uid = await createUser();
    const res = await api("POST", "/api/v1/tokens", { uid, ttlSeconds: 120 });
    expect(res.status).toBe(201);
    const body = await res.json<{ token: string; expiresAt: number }>();
    expect(body.expiresAt - Math.floor(Date.now() / 1000)).toBeGreaterThan(100);
    const c = await connect(uid, { token: body.token });
    expect(c.welcome.uid).toBe(uid);
    const missing = await api("POST", "/api/v1/tokens", { uid: uniqueId("nobody") });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "unknown_user" } });
  });
});
