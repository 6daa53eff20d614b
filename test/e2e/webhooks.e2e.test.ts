import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SendAck } from "../../src/protocol";
import { ImClient } from "../helpers/client";
import { adminClient, type DevServer, freePort, startDevServer } from "./dev-server";

interface Hook {
  id: string;
  type: string;
  ts: number;
  data: Record<string, unknown>;
  delivery: string;
  signatureOk: boolean;
}

const SECRET = "whsec_test_secret";
let server: DevServer;
let sink: Server;
const received: Hook[] = [];
let failFirstMessage = true;

beforeAll(async () => {
  const port = await freePort();
  sink = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const sig = String(req.headers["x-im-signature"] ?? "");
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
      const expected = m ? createHmac("sha256", SECRET).update(`${m[1]}.${body}`).digest("hex") : "";
      const hook = { ...(JSON.parse(body) as Omit<Hook, "delivery" | "signatureOk">), delivery: String(req.headers["x-im-delivery"]), signatureOk: m?.[2] === expected };
      received.push(hook);
      if (hook.type === "message" && failFirstMessage) {
        failFirstMessage = false;
        res.writeHead(500).end();
        return;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => sink.listen(port, "127.0.0.1", r));
  server = await startDevServer({
    vars: { WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_MS: "200" }
  });
});
afterAll(async () => {
  await server?.stop();
  sink?.close();
});

async function until<T>(what: string, f: () => T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(received)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("webhooks (wrangler dev → a local receiver)", () => {
  it("POSTs signed online, message, update and offline events, retrying a failed delivery", async () => {
    const admin = adminClient(server);
    const [a, b] = [`wa_${Date.now()}`, `wb_${Date.now()}`];
    for (const id of [a, b]) expect((await admin("POST", "/api/v1/users", { id })).status).toBe(201);
    await admin("POST", "/api/v1/friendships", { a, b });
    const connect = async (uid: string) => {
      const { body } = await admin<{ token: string }>("POST", "/api/v1/tokens", { uid });
      const c = new ImClient(new WebSocket(`${server.wsUrl}?token=${body.token}`));
      await c.next("welcome");
      return c;
    };
    const ca = await connect(a);
    await until("online", () => received.find((h) => h.type === "online" && h.data.uid === a));
    const ack = await ca.ok<SendAck>({ type: "send", to: b, cmid: "wh-1", body: { text: "hooked" } });

    const attempts = await until("a retried message", () => {
      const m = received.filter((h) => h.type === "message" && h.data.mid === ack.mid);
      return m.length >= 2 ? m : undefined;
    });
    expect(attempts[0]!.delivery).toBe(attempts[1]!.delivery);
    expect(attempts[1]).toMatchObject({ data: { from: a, to: b, body: { text: "hooked" }, chat: "dm" } });
    expect(attempts[1]!.data).not.toHaveProperty("cmid");

    // An edit of a direct message is an `update` event, as stored (no seq).
    await ca.ok({ type: "edit", mid: ack.mid, body: { text: "hooked, edited" } });
    const edit = await until("an edit", () => received.find((h) => h.type === "update" && h.data.mid === ack.mid));
    expect(edit.data).toMatchObject({ type: "update", op: "edit", chat: "dm", from: a, to: b, version: 1, body: { text: "hooked, edited" } });
    expect(edit.data).not.toHaveProperty("seq");

    const gid = `wg_${Date.now()}`;
    expect((await admin("POST", "/api/v1/groups", { id: gid, name: "hooks", owner: a, members: [b] })).status).toBe(201);
    const gack = await ca.ok<SendAck>({ type: "send", chat: "group", to: gid, cmid: "wh-g", body: "to the group" });
    await until("a group message", () => received.find((h) => h.type === "message" && h.data.mid === gack.mid));
    expect(received.find((h) => h.data.mid === gack.mid)).toMatchObject({ data: { chat: "group", to: gid, gseq: 2 } });
    // A reaction in a group comes from the group's object, with its gseq.
    await ca.ok({ type: "react", mid: gack.mid, emoji: "👍" });
    const reaction = await until("a group reaction", () => received.find((h) => h.type === "update" && h.data.mid === gack.mid));
    expect(reaction.data).toMatchObject({ op: "react", chat: "group", from: a, to: gid, emoji: "👍", gseq: 3, mgseq: 2 });

    ca.close();
    await until("offline", () => received.find((h) => h.type === "offline" && h.data.uid === a));
    expect(received.every((h) => h.signatureOk)).toBe(true);
  });
});
