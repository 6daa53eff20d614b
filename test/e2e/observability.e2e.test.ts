import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SendAck } from "../../src/protocol";
import { ImClient } from "../helpers/client";
import { adminClient, type DevServer, startDevServer } from "./dev-server";

let server: DevServer;
let admin: ReturnType<typeof adminClient>;

beforeAll(async () => {
  server = await startDevServer({ logLevel: "log", vars: { LOG_LEVEL: "debug" } });
  admin = adminClient(server);
});
afterAll(async () => server?.stop());

type Line = { ts: string; level: string; event: string; [k: string]: unknown };
const lines = (): Line[] =>
  server
    .log()
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes('"event"'))
    .map((l) => JSON.parse(l) as Line);

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!pred()) throw new Error(`timed out waiting for ${what}; logs:\n${server.log()}`);
}

describe("structured logs and counters", () => {
  it("logs connect, send, deliver and disconnect as JSON with ids only, and counts connections", async () => {
    const [a, b] = [`obs_a_${Date.now()}`, `obs_b_${Date.now()}`];
    for (const id of [a, b]) expect((await admin("POST", "/api/v1/users", { id })).status).toBe(201);
    expect((await admin("POST", "/api/v1/friendships", { a, b })).status).toBe(201);
    const tokens: string[] = [];
    const open = async (uid: string) => {
      const { body } = await admin<{ token: string }>("POST", "/api/v1/tokens", { uid });
      tokens.push(body.token);
      const c = new ImClient(new WebSocket(`${server.wsUrl}?device=dev-${uid}&token=${body.token}`));
      await c.next("welcome");
      return c;
    };
    const ca = await open(a);
    const cb = await open(b);
    const secret = `a secret body ${Date.now()}`;
    const ack = await ca.ok<SendAck>({ type: "send", to: b, cmid: "obs-1", body: { text: secret } });
    await cb.next("message");

    const stats = (await admin<{ onlineUsers: number; connections: number }>("GET", "/api/v1/stats")).body;
    expect(stats.connections).toBeGreaterThanOrEqual(2);
    expect((await admin("GET", `/api/v1/users/${b}/stats`)).body).toMatchObject({ connections: 1, head: 1 });

    ca.close();
    cb.close();
    await until(() => lines().filter((l) => l.event === "disconnect").length >= 2, "two disconnects");
    const mine = lines().filter((l) => l.uid === a || l.uid === b);
    expect(mine.find((l) => l.event === "connect" && l.uid === a)).toMatchObject({ level: "info", device: `dev-${a}`, protocol: "v1" });
    expect(mine.find((l) => l.event === "send")).toMatchObject({ uid: a, to: b, chat: "dm", mid: ack.mid, seq: ack.seq });
    expect(mine.find((l) => l.event === "deliver" && l.uid === b)).toMatchObject({ level: "debug", events: 1, fresh: 1, devices: 1 });
    expect(mine.filter((l) => l.event === "disconnect").map((l) => l.uid).sort()).toEqual([a, b].sort());
    for (const l of lines()) expect(Number.isNaN(Date.parse(l.ts)), l.ts).toBe(false);
    const log = server.log();
    expect(log).not.toContain(secret);
    for (const t of tokens) expect(log).not.toContain(t);
  });
});
