import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CLOSE, HEARTBEAT_REQUEST, HEARTBEAT_RESPONSE } from "../../src/protocol";
import { api, connect, friends } from "../helpers/fixtures";

/**
 * Dead sockets: the user object's alarm closes a socket that sent no frame
 * and no heartbeat within IDLE_SOCKET_SECONDS (an hour in these tests), so
 * presence goes offline then instead of at token expiry. Waiting an hour is
 * not a test: each test makes its sockets look silent since two hours ago
 * (their attachments' times), then what they do next decides.
 */
async function silenceSince(uid: string, msAgo: number): Promise<void> {
  await runInDurableObject(env.USERS.getByName(uid), (_o, state) => {
    for (const ws of state.getWebSockets()) {
      const a = ws.deserializeAttachment() as Record<string, unknown>;
      ws.serializeAttachment({ ...a, connectedAt: Date.now() - msAgo, seenAt: undefined });
    }
  });
}

const TWO_HOURS = 2 * 3600_000;

describe("idle sockets", () => {
  it("closes a silent socket with 4002 and tells friends the user went offline", async () => {
    const [alice, bob] = await friends();
    const b = await connect(bob);
    const a = await connect(alice);
    await b.next("presence", (p) => p.uid === alice && p.online);
    await silenceSince(alice, TWO_HOURS);
    expect(await runDurableObjectAlarm(env.USERS.getByName(alice))).toBe(true);
    expect((await a.closed).code).toBe(CLOSE.idle);
    await b.next("presence", (p) => p.uid === alice && !p.online);
    const status = (await (await api("GET", `/api/v1/users/${alice}/online`)).json()) as { online: boolean };
    expect(status.online).toBe(false);
  });

  it("keeps a socket whose client only sends heartbeats (answered by the runtime)", async () => {
    const [alice] = await friends();
    const a = await connect(alice);
    await silenceSince(alice, TWO_HOURS);
    a.send(HEARTBEAT_REQUEST);
    await a.take((f) => JSON.stringify(f) === HEARTBEAT_RESPONSE, "the runtime's pong");
    await runDurableObjectAlarm(env.USERS.getByName(alice));
    expect(await a.ok({ type: "ping" })).toMatchObject({});
  });

  it("keeps a socket that sent a frame, and reaps it once it falls silent again", async () => {
    const [alice] = await friends();
    const a = await connect(alice);
    await silenceSince(alice, TWO_HOURS);
    await a.ok({ type: "ping" });
    await runDurableObjectAlarm(env.USERS.getByName(alice));
    await a.ok({ type: "ping" });
    await silenceSince(alice, TWO_HOURS);
    await runDurableObjectAlarm(env.USERS.getByName(alice));
    expect((await a.closed).code).toBe(CLOSE.idle);
  });

  it("reaps only the silent device of a user with two", async () => {
    const [alice, bob] = await friends();
    const b = await connect(bob);
    const phone = await connect(alice, { device: "phone" });
    const laptop = await connect(alice, { device: "laptop" });
    await b.next("presence", (p) => p.uid === alice && p.online);
    await silenceSince(alice, TWO_HOURS);
    await laptop.ok({ type: "ping" });
    await runDurableObjectAlarm(env.USERS.getByName(alice));
    expect((await phone.closed).code).toBe(CLOSE.idle);
    expect(await laptop.ok({ type: "online" })).toEqual({ friends: [bob] });
    const status = (await (await api("GET", `/api/v1/users/${alice}/online`)).json()) as { online: boolean; devices: { device: string }[] };
    expect(status).toMatchObject({ online: true, devices: [{ device: "laptop" }] });
    expect(b.seen((f) => f.type === "presence" && f.uid === alice && !f.online)).toEqual([]);
  });
});
