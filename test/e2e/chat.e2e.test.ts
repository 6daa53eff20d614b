import WS from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageEvent, SendAck, WelcomeFrame } from "../../src/protocol";
import { ImClient } from "../helpers/client";
import { SeedClient } from "../helpers/seed-client";
import { adminClient, type DevServer, startDevServer } from "./dev-server";

let server: DevServer;
let admin: ReturnType<typeof adminClient>;

/** The only browser origin allowed to connect (other clients send no Origin). */
const ALLOWED_ORIGIN = "https://app.example";

/** A non-default frame limit, to prove the setting is honoured. */
const MAX_FRAME_BYTES = 4096;

beforeAll(async () => {
  server = await startDevServer({ vars: { MAX_FRAME_BYTES: String(MAX_FRAME_BYTES), ALLOWED_ORIGINS: ALLOWED_ORIGIN } });
  admin = adminClient(server);
});
afterAll(async () => server?.stop());

async function connectNode(uid: string, query: Record<string, string> = {}, protocols?: string[]) {
  const { status, body } = await admin<{ token: string }>("POST", "/api/v1/tokens", { uid });
  expect(status).toBe(201);
  const q = new URLSearchParams(query);
  const ws = protocols
    ? new WebSocket(`${server.wsUrl}?${q}`, [...protocols, body.token])
    : new WebSocket(`${server.wsUrl}?${new URLSearchParams({ ...query, token: body.token })}`);
  const client = new ImClient(ws);
  const welcome = (await client.next("welcome")) as WelcomeFrame;
  return Object.assign(client, { welcome });
}

describe("end to end against wrangler dev", () => {
  it("serves /health", async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });

  it("two Node WebSocket clients chat; one goes offline and catches up on reconnect", async () => {
    const alice = `alice_${Date.now()}`;
    const bob = `bob_${Date.now()}`;
    for (const id of [alice, bob]) expect((await admin("POST", "/api/v1/users", { id })).status).toBe(201);
    expect((await admin("POST", "/api/v1/friendships", { a: alice, b: bob })).status).toBe(201);

    const a = await connectNode(alice, { device: "node-a" });
    let b = await connectNode(bob, { device: "node-b" }, ["im.v1"]);
    expect(b.welcome.uid).toBe(bob);

    const hello = await a.ok<SendAck>({ type: "send", to: bob, cmid: "e2e-1", body: { text: "hello bob" } });
    const got = (await b.next("message")) as MessageEvent;
    expect(got).toMatchObject({ mid: hello.mid, from: alice, body: { text: "hello bob" } });
    const reply = await b.ok<SendAck>({ type: "send", to: alice, cmid: "e2e-2", body: { text: "hi alice" } });
    expect(await a.next("message")).toMatchObject({ mid: reply.mid, from: bob });

    const lastSeen = got.seq;
    b.close();
    await b.closed;
    await a.next("presence", (p) => p.uid === bob && !p.online);

    const missed: SendAck[] = [];
    for (let i = 0; i < 5; i++) {
      missed.push(await a.ok<SendAck>({ type: "send", to: bob, cmid: `e2e-off-${i}`, body: { text: `offline ${i}` } }));
    }
    b = await connectNode(bob, { device: "node-b", since: String(lastSeen) });
    const catchup = await b.next("catchup");
    const events = catchup.events as MessageEvent[];
    expect(events.filter((e) => e.type === "message" && e.from === alice).map((e) => e.mid)).toEqual(missed.map((m) => m.mid));
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => lastSeen + 1 + i));
    expect(catchup.more).toBe(false);

    a.close();
    b.close();
  });

  it("applies a configured MAX_FRAME_BYTES and keeps the socket open after refusing a frame", async () => {
    const uid = `big_${Date.now()}`;
    expect((await admin("POST", "/api/v1/users", { id: uid })).status).toBe(201);
    const c = await connectNode(uid);
    expect(c.welcome.maxFrameBytes).toBe(MAX_FRAME_BYTES);
    const reply = await c.request({ type: "send", to: "someone", cmid: "big", body: "x".repeat(MAX_FRAME_BYTES) });
    expect(reply).toMatchObject({ ok: false, error: { code: "frame_too_large" } });
    expect(await c.ok({ type: "ping" })).toHaveProperty("ts");
    c.close();
  });

  it("refuses a connection without a valid token with HTTP 401 and a JSON error", async () => {
    for (const url of [server.wsUrl, `${server.wsUrl}?token=not.a.jwt`]) {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const ws = new WS(url);
        ws.on("unexpected-response", (_req, res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        ws.on("open", () => reject(new Error("connection should have been refused")));
        ws.on("error", () => undefined);
      });
      expect(status).toBe(401);
      expect(JSON.parse(body)).toMatchObject({ error: { code: "unauthorized" } });
    }
  });
});

describe("browser Origin allow-list (ALLOWED_ORIGINS)", () => {
  it("refuses an upgrade from an origin not on the list with 403, before any object wakes, and accepts a listed one", async () => {
    const uid = `origin_${Date.now()}`;
    expect((await admin("POST", "/api/v1/users", { id: uid })).status).toBe(201);
    const { body } = await admin<{ token: string }>("POST", "/api/v1/tokens", { uid });
    const attempt = (origin: string) =>
      new Promise<number>((resolve) => {
        const ws = new WS(`${server.wsUrl}?token=${body.token}`, { origin });
        ws.on("open", () => {
          ws.close();
          resolve(101);
        });
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("error", () => undefined);
      });
    expect(await attempt("https://evil.example")).toBe(403);
    expect(await attempt(ALLOWED_ORIGIN)).toBe(101);
  });
});

describe("the seed's clients against wrangler dev (/ws/compat)", () => {
  async function connectSeedNode(uid: string): Promise<SeedClient> {
    const { body } = await admin<{ token: string }>("POST", "/api/v1/tokens", { uid });
    const device = `d${Date.now()}${Math.floor(Math.random() * 1000)}`;
    const ws = new WebSocket(`${server.wsUrl}/compat?token=${body.token}&device=${device}`);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve);
      ws.addEventListener("error", reject);
    });
    return new SeedClient(ws, uid, `${uid}:${device}`);
  }

  it("chats with the seed's frames, pulls what arrived while offline, and talks to a v1 client", async () => {
    const [a, b, v] = [`seed_a_${Date.now()}`, `seed_b_${Date.now()}`, `v1_${Date.now()}`];
    for (const id of [a, b, v]) expect((await admin("POST", "/api/v1/users", { id })).status).toBe(201);
    for (const [x, y] of [[a, b], [a, v]]) expect((await admin("POST", "/api/v1/friendships", { a: x, b: y })).status).toBe(201);

    const sa = await connectSeedNode(a);
    const live = { fromUid: a, toUid: b, isGroup: 0, type: "text", id: "e2e-live", content: "hi b" };
    let sb = await connectSeedNode(b);
    sa.send(live);
    expect(await sb.next("text")).toEqual(live);
    // Any frame 2 s after a hand-over confirms it (the seed has no acks); unconfirmed ones would be pulled again.
    await new Promise((r) => setTimeout(r, 2_100));
    await sb.settle();
    sb.close();
    await sb.closed;

    const queued = [1, 2].map((n) => ({ fromUid: a, toUid: b, isGroup: 0, type: "text", id: `e2e-q${n}`, content: `while away ${n}` }));
    for (const f of queued) sa.send(f);
    await sa.settle();
    sb = await connectSeedNode(b);
    sb.send({ type: "pull" });
    const pull = await sb.next("pull");
    expect((pull.message as string[]).map((s) => JSON.parse(s))).toEqual(queued);

    const c = await connectNode(v);
    const fromV1 = await c.ok<SendAck>({ type: "send", to: a, cmid: "e2e-v1", body: "from v1" });
    expect(await sa.next("text")).toEqual({ fromUid: v, toUid: a, isGroup: 0, type: "text", id: fromV1.mid, content: "from v1", ts: fromV1.ts });
    sa.send({ fromUid: v, toUid: b, isGroup: 0, type: "text", id: "forged", content: "as v" });
    expect(await sa.next("error")).toMatchObject({ id: "forged", error: { code: "forged_sender" } });
    for (const s of [sa, sb]) expect(s.seen("__bad")).toEqual([]);
    for (const s of [sa, sb]) s.close();
    c.close();
  });
});
