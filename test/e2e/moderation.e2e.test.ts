import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageEvent, ReplyFrame, SyncResult } from "../../src/protocol";
import { ImClient } from "../helpers/client";
import { adminClient, type DevServer, freePort, startDevServer } from "./dev-server";

/**
 * The before-send hook against a real `wrangler dev`: a Node server plays
 * the app's backend, deciding by the message text, and checks each call's
 * signature. SEND_HOOK_FAILURE is the default (closed).
 */
const SECRET = "hook_secret_for_tests";
const TIMEOUT_MS = 400;
let server: DevServer;
let hook: Server;
const calls: { body: Record<string, unknown>; signatureOk: boolean }[] = [];

beforeAll(async () => {
  const port = await freePort();
  hook = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers["x-im-signature"] ?? ""));
      const body = JSON.parse(raw) as { body: { text: string } };
      calls.push({ body, signatureOk: m?.[2] === createHmac("sha256", SECRET).update(`${m?.[1]}.${raw}`).digest("hex") });
      const text = body.body.text;
      const answer = (a: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(a));
      if (text.includes("spam")) answer({ action: "reject", code: "spam", message: "looks like spam" });
      else if (text.includes("darn")) answer({ action: "rewrite", body: { text: text.replaceAll("darn", "d**n") } });
      else if (text.includes("slow")) setTimeout(() => answer({ action: "allow" }), TIMEOUT_MS * 3);
      else if (text.includes("broken")) res.writeHead(500).end();
      else answer({ action: "allow" });
    });
  });
  await new Promise<void>((r) => hook.listen(port, "127.0.0.1", r));
  server = await startDevServer({
    vars: { SEND_HOOK_URL: `http://127.0.0.1:${port}/before-send`, SEND_HOOK_SECRET: SECRET, SEND_HOOK_TIMEOUT_MS: String(TIMEOUT_MS) }
  });
});
afterAll(async () => {
  await server?.stop();
  hook?.close();
});

async function pair() {
  const admin = adminClient(server);
  const [a, b] = [`mod_a_${Date.now()}`, `mod_b_${Date.now()}`];
  for (const id of [a, b]) await admin("POST", "/api/v1/users", { id });
  await admin("POST", "/api/v1/friendships", { a, b });
  const open = async (uid: string) => {
    const { body } = await admin<{ token: string }>("POST", "/api/v1/tokens", { uid });
    const c = new ImClient(new WebSocket(`${server.wsUrl}?token=${body.token}`));
    await c.next("welcome");
    return c;
  };
  return { a, b, A: await open(a), B: await open(b) };
}

const send = (c: ImClient, to: string, text: string) => c.request({ type: "send", to, cmid: crypto.randomUUID(), body: { text } });

describe("the before-send hook against wrangler dev", () => {
  it("allows, rejects with the hook's code, rewrites, and fails closed; only what it let through is stored", async () => {
    const { a, b, A, B } = await pair();
    expect(await send(A, b, "hello")).toMatchObject({ ok: true });
    expect(await send(A, b, "buy spam now")).toMatchObject({ ok: false, error: { code: "rejected", message: "looks like spam", fields: { reason: "spam" } } });
    expect(await send(A, b, "darn it")).toMatchObject({ ok: true });
    expect(await B.next("message", (m) => (m.body as { text: string }).text === "d**n it")).toMatchObject({ from: a });
    const slow = (await send(A, b, "slow one")) as ReplyFrame;
    expect(slow).toMatchObject({ ok: false, error: { code: "unavailable", retryable: true } });
    expect(await send(A, b, "broken hook")).toMatchObject({ ok: false, error: { code: "unavailable" } });

    const page = await B.ok<SyncResult>({ type: "sync", after: 0 });
    expect(page.events.filter((e): e is MessageEvent => e.type === "message").map((e) => (e.body as { text: string }).text)).toEqual(["hello", "d**n it"]);
    expect(calls.length).toBeGreaterThanOrEqual(5);
    expect(calls.every((c) => c.signatureOk)).toBe(true);
    expect(calls[0]!.body).toMatchObject({ type: "before_send", from: a, to: b, chat: "dm", kind: "text", body: { text: "hello" } });
    A.close();
    B.close();
  });
});
