import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE, HEARTBEAT_REQUEST, type PresenceFrame } from "../../src/protocol";
import { ImClient } from "../helpers/client";
import { adminClient, type DevServer, startDevServer } from "./dev-server";

/**
 * The reaper under a real `wrangler dev`, with a short idle limit: a socket
 * that goes silent is closed by its user object's alarm and its friends see
 * the user go offline, while a socket that only heartbeats stays.
 */
const IDLE_SECONDS = 3;

let server: DevServer;
let admin: ReturnType<typeof adminClient>;

beforeAll(async () => {
  server = await startDevServer({ vars: { IDLE_SOCKET_SECONDS: String(IDLE_SECONDS) } });
  admin = adminClient(server);
});
afterAll(async () => server?.stop());

async function connectNode(uid: string, device: string) {
  const { body } = await admin<{ token: string }>("POST", "/api/v1/tokens", { uid });
  const client = new ImClient(new WebSocket(`${server.wsUrl}?${new URLSearchParams({ token: body.token, device })}`));
  await client.next("welcome");
  return client;
}

describe("idle sockets against wrangler dev", () => {
  it("closes a silent socket within the limit and tells friends; a heartbeating one stays", async () => {
    const alice = `idle_a_${Date.now()}`;
    const bob = `idle_b_${Date.now()}`;
    for (const id of [alice, bob]) expect((await admin("POST", "/api/v1/users", { id })).status).toBe(201);
    expect((await admin("POST", "/api/v1/friendships", { a: alice, b: bob })).status).toBe(201);

    const b = await connectNode(bob, "bob-phone");
    const beat = setInterval(() => b.send(HEARTBEAT_REQUEST), 1_000);
    try {
      const started = Date.now();
      const a = await connectNode(alice, "alice-phone");
      await b.next("presence", (p) => p.uid === alice && p.online);
      const { code } = await a.closed;
      expect(code).toBe(CLOSE.idle);
      // The limit, plus the attachment's precision and an alarm's delay.
      expect(Date.now() - started).toBeLessThan((IDLE_SECONDS + 15) * 1000);
      expect(await b.next("presence", (p) => p.uid === alice && !p.online)).toMatchObject({ online: false } satisfies Partial<PresenceFrame>);
      // Bob sent no frame since he connected, only heartbeats, for longer than the limit.
      expect(Date.now() - started).toBeGreaterThan(IDLE_SECONDS * 1000);
      expect(await b.ok({ type: "ping" })).toBeDefined();
      // The reaped device was the last one: its leaving is alice's last seen.
      const seen = await b.ok<{ users: { uid: string; online: boolean; lastSeen: number | null }[] }>({ type: "last_seen", uids: [alice] });
      expect(seen.users).toEqual([{ uid: alice, online: false, lastSeen: expect.any(Number) }]);
      expect(seen.users[0]!.lastSeen).toBeGreaterThanOrEqual(started);
    } finally {
      clearInterval(beat);
      b.close();
    }
  });
});
