import { createECDH, generateKeyPairSync, verify } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NotificationPayload, SendAck, SubscriptionInfo } from "../../src/protocol";
import { ImClient } from "../helpers/client";
import { browserKeys, decryptWebPush, verifyVapid } from "./push-receiver";
import { adminClient, type DevServer, freePort, startDevServer } from "./dev-server";

/** What the local push service received: Web Push posts and FCM sends. */
interface WebPushHit {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}
interface FcmHit {
  auth: string;
  message: { token: string; data: Record<string, string>; notification: { title: string; body: string }; android: { collapse_key: string } };
}

let server: DevServer;
let service: Server;
let base = "";
const webPush: WebPushHit[] = [];
const fcm: FcmHit[] = [];
const assertions: { valid: boolean; claims: Record<string, unknown> }[] = [];
const vapid = createECDH("prime256v1");
vapid.generateKeys();
const account = generateKeyPairSync("rsa", { modulusLength: 2048 });

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  service = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const url = req.url ?? "";
      if (url.startsWith("/wp/")) {
        webPush.push({ path: url, headers: req.headers as Record<string, string>, body });
        // A subscription the browser dropped: the push service says it is gone for good.
        res.writeHead(url === "/wp/gone" ? 410 : 201).end();
      } else if (url === "/token") {
        // Google's token endpoint: an RS256 assertion signed with the service account's key.
        const assertion = new URLSearchParams(body.toString()).get("assertion") ?? "";
        const [h, c, s] = assertion.split(".");
        const valid = verify("RSA-SHA256", Buffer.from(`${h}.${c}`), account.publicKey, Buffer.from(s ?? "", "base64url"));
        assertions.push({ valid, claims: JSON.parse(Buffer.from(c ?? "", "base64url").toString()) as Record<string, unknown> });
        res.writeHead(valid ? 200 : 401, { "content-type": "application/json" }).end(JSON.stringify({ access_token: "at-test", expires_in: 3600 }));
      } else if (url === "/v1/projects/im-test/messages:send") {
        const { message } = JSON.parse(body.toString()) as { message: FcmHit["message"] };
        fcm.push({ auth: String(req.headers.authorization), message });
        if (Object.keys(message.data).some((k) => k === "from" || k.startsWith("google.") || k.startsWith("gcm"))) res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { status: "INVALID_ARGUMENT", message: "reserved key in data" } }));
        else if (message.token === "gone-token") res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { status: "NOT_FOUND", details: [{ errorCode: "UNREGISTERED" }] } }));
        else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ name: "projects/im-test/messages/1" }));
      } else res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => service.listen(port, "127.0.0.1", r));
  const serviceAccount = {
    type: "service_account",
    project_id: "im-test",
    client_email: "im@im-test.iam.gserviceaccount.com",
    private_key: account.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    token_uri: `${base}/token`
  };
  server = await startDevServer({
    vars: {
      VAPID_PUBLIC_KEY: vapid.getPublicKey("base64url"),
      VAPID_PRIVATE_KEY: vapid.getPrivateKey("base64url"),
      VAPID_SUBJECT: "mailto:ops@im.test",
      // The JSON key as base64: one line on a command line.
      FCM_SERVICE_ACCOUNT: Buffer.from(JSON.stringify(serviceAccount)).toString("base64"),
      FCM_API_URL: base,
      WEB_PUSH_HOSTS: "127.0.0.1"
    }
  });
});
afterAll(async () => {
  await server?.stop();
  service?.close();
});

async function until<T>(what: string, f: () => T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; web push ${webPush.length}, fcm ${fcm.length}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("offline notifications (wrangler dev → a local push service)", () => {
  it("encrypts a Web Push the subscription's keys decrypt, signs it with VAPID, sends FCM v1 with a service-account token, and drops gone subscriptions", async () => {
    const admin = adminClient(server);
    const [a, b] = [`pa_${Date.now()}`, `pb_${Date.now()}`];
    for (const id of [a, b]) expect((await admin("POST", "/api/v1/users", { id })).status).toBe(201);
    await admin("POST", "/api/v1/friendships", { a, b });
    const connect = async (uid: string) => {
      const { body } = await admin<{ token: string }>("POST", "/api/v1/tokens", { uid });
      const c = new ImClient(new WebSocket(`${server.wsUrl}?token=${body.token}`));
      return { c, welcome: await c.next("welcome") };
    };
    const bob = await connect(b);
    expect(bob.welcome.vapidPublicKey).toBe(vapid.getPublicKey("base64url"));
    const keys = browserKeys();
    await bob.c.ok({ type: "push_subscribe", subscription: { type: "webpush", endpoint: `${base}/wp/bob-laptop`, keys: { p256dh: keys.p256dh, auth: keys.auth } } });
    await bob.c.ok({ type: "push_subscribe", subscription: { type: "webpush", endpoint: `${base}/wp/gone`, keys: browserKeys() } });
    await bob.c.ok({ type: "push_subscribe", subscription: { type: "fcm", token: "fcm-bob-phone" } });
    expect((await admin("POST", `/api/v1/users/${b}/push-subscriptions`, { type: "fcm", token: "gone-token" })).status).toBe(201);
    bob.c.close();
    await bob.c.closed;

    for (let i = 0; (await admin<{ online: boolean }>("GET", `/api/v1/users/${b}/online`)).body.online; i++) {
      if (i > 200) throw new Error("bob's socket never closed");
      await new Promise((r) => setTimeout(r, 25));
    }

    const alice = await connect(a);
    const ack = await alice.c.ok<SendAck>({ type: "send", to: b, cmid: "push-1", body: { text: "dinner at 8?" } });

    // Web Push: VAPID-signed for the push service's origin, encrypted for bob's browser.
    const hit = await until("the web push", () => webPush.find((h) => h.path === "/wp/bob-laptop"));
    expect(hit.headers).toMatchObject({ "content-encoding": "aes128gcm", ttl: "86400", urgency: "high" });
    expect(hit.headers.topic).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const signed = verifyVapid(hit.headers.authorization!);
    expect(signed).toMatchObject({ valid: true, key: vapid.getPublicKey("base64url"), claims: { aud: base, sub: "mailto:ops@im.test" } });
    expect(signed.claims.exp).toBeGreaterThan(Date.now() / 1000);
    const payload = JSON.parse(decryptWebPush(hit.body, keys.privateKey, keys.p256dh, keys.auth)) as NotificationPayload;
    expect(payload).toEqual({ v: 1, type: "message", chat: "dm", conv: a, from: a, mid: ack.mid, kind: "text", text: "dinner at 8?", count: 1, ts: expect.any(Number) });

    // FCM HTTP v1: the token exchange's assertion is the service account's, the send carries it and the same collapse key.
    const sent = await until("the FCM send", () => fcm.find((f) => f.message.token === "fcm-bob-phone"));
    expect(assertions.at(-1)).toMatchObject({ valid: true, claims: { iss: "im@im-test.iam.gserviceaccount.com", aud: `${base}/token`, scope: "https://www.googleapis.com/auth/firebase.messaging" } });
    expect(sent.auth).toBe("Bearer at-test");
    // FCM reserves `from` in data: the sender goes as `sender`.
    expect(sent.message.data).not.toHaveProperty("from");
    expect(sent.message).toMatchObject({ data: { sender: a, mid: ack.mid, text: "dinner at 8?", count: "1" }, notification: { title: a, body: "dinner at 8?" }, android: { collapse_key: hit.headers.topic } });

    // The 410 and the UNREGISTERED token removed their subscriptions; the other two stay.
    await until("gone subscriptions removed", () => (webPush.some((h) => h.path === "/wp/gone") && fcm.some((f) => f.message.token === "gone-token") ? true : undefined));
    let left: SubscriptionInfo[] = [];
    for (let i = 0; i < 100; i++) {
      left = (await admin<{ subscriptions: SubscriptionInfo[] }>("GET", `/api/v1/users/${b}/push-subscriptions`)).body.subscriptions;
      if (left.length === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(left.map((s) => s.service).sort()).toEqual([base, "fcm"].sort());

    // Delivered and done: nothing is sent twice.
    await new Promise((r) => setTimeout(r, 500));
    expect(webPush.filter((h) => h.path === "/wp/bob-laptop")).toHaveLength(1);
    expect(fcm.filter((f) => f.message.token === "fcm-bob-phone")).toHaveLength(1);
    alice.c.close();
  }, 30_000);
});
