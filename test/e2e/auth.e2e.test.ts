import { createHmac, generateKeyPairSync, sign } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WS from "ws";
import { adminClient, type DevServer, freePort, startDevServer } from "./dev-server";

/**
 * Signing keys under a real `wrangler dev`: JWT_SECRET lists the current
 * secret then the previous one (a rotation in progress), and JWT_JWKS an
 * identity provider's ES256 public key, whose private half signs here.
 */
const CURRENT = "e2e-current-secret-0123456789abcdef";
const PREVIOUS = "e2e-previous-secret-0123456789abcdef";
const idp = generateKeyPairSync("ec", { namedCurve: "P-256" });
const KID = "e2e-idp";
/** A second provider whose JWKS is only at its endpoint (JWT_JWKS_URL), served here. */
const remote = generateKeyPairSync("ec", { namedCurve: "P-256" });
const REMOTE_KID = "e2e-remote";
let jwksServer: Server;
let jwksFetches = 0;

let server: DevServer;
let admin: ReturnType<typeof adminClient>;

beforeAll(async () => {
  const port = await freePort();
  jwksServer = createServer((_req, res) => {
    jwksFetches++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [{ ...remote.publicKey.export({ format: "jwk" }), kid: REMOTE_KID, alg: "ES256" }] }));
  });
  await new Promise<void>((r) => jwksServer.listen(port, "127.0.0.1", r));
  const jwks = JSON.stringify({ keys: [{ ...idp.publicKey.export({ format: "jwk" }), kid: KID, alg: "ES256" }] });
  server = await startDevServer({
    vars: { JWT_SECRET: `${CURRENT},${PREVIOUS}`, JWT_JWKS: jwks, JWT_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`, JWT_ISSUER: "https://id.example" }
  });
  admin = adminClient(server);
});
afterAll(async () => {
  await server?.stop();
  jwksServer?.close();
});

const b64 = (v: string | Buffer) => Buffer.from(v).toString("base64url");
const claims = (uid: string) => ({ sub: uid, iss: "https://id.example", iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 });

function hs256(secret: string, payload: object): string {
  const data = `${b64(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64(JSON.stringify(payload))}`;
  return `${data}.${createHmac("sha256", secret).update(data).digest("base64url")}`;
}

function es256(payload: object, key = idp.privateKey, kid = KID): string {
  const data = `${b64(JSON.stringify({ alg: "ES256", typ: "JWT", kid }))}.${b64(JSON.stringify(payload))}`;
  return `${data}.${sign("sha256", Buffer.from(data), { key, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
}

/** Opens a socket with `token`: the upgrade's status, and the uid the welcome names when it was accepted. */
function connectWith(token: string): Promise<{ status: number; uid?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WS(`${server.wsUrl}?token=${token}`);
    ws.on("unexpected-response", (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data)) as { type: string; uid?: string };
      if (frame.type === "welcome") {
        resolve({ status: 101, uid: frame.uid });
        ws.close();
      }
    });
    ws.on("error", (err) => reject(err));
  });
}

describe("signing keys, bans and revocation against wrangler dev", () => {
  it("accepts the current and the previous secret, an identity provider's ES256 token, and nothing else", async () => {
    const uid = `auth_${Date.now()}`;
    expect((await admin("POST", "/api/v1/users", { id: uid })).status).toBe(201);
    const minted = await admin<{ token: string }>("POST", "/api/v1/tokens", { uid });
    expect(JSON.parse(Buffer.from(minted.body.token.split(".")[0]!, "base64url").toString())).toMatchObject({ alg: "HS256", kid: expect.stringMatching(/^hs-[0-9a-f]{16}$/) });
    expect(await connectWith(minted.body.token)).toEqual({ status: 101, uid });
    expect(await connectWith(hs256(PREVIOUS, claims(uid)))).toEqual({ status: 101, uid });
    expect(await connectWith(es256(claims(uid)))).toEqual({ status: 101, uid });
    expect((await connectWith(hs256("never-listed-0123456789", claims(uid)))).status).toBe(401);
    expect((await connectWith(es256({ ...claims(uid), iss: "https://evil.example" }))).status).toBe(401);
  });

  it("a ban closes the user's socket at once (4503) and keeps their tokens out until it is lifted", async () => {
    const uid = `banned_${Date.now()}`;
    expect((await admin("POST", "/api/v1/users", { id: uid })).status).toBe(201);
    const { body } = await admin<{ token: string }>("POST", "/api/v1/tokens", { uid });
    const ws = new WS(`${server.wsUrl}?token=${body.token}`);
    const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    await new Promise((resolve) => ws.on("message", resolve));
    expect((await admin("POST", `/api/v1/users/${uid}/ban`, { reason: "spam" })).body).toEqual({ banned: true, closed: 1 });
    expect(await closed).toBe(4503);
    expect(await connectWith(body.token)).toEqual({ status: 403 });
    expect((await admin("DELETE", `/api/v1/users/${uid}/ban`)).body).toEqual({ lifted: true });
    expect(await connectWith(body.token)).toEqual({ status: 401 });
  });

  it("fetches a provider's keys from JWT_JWKS_URL, once for many tokens", async () => {
    const uid = `remote_${Date.now()}`;
    expect((await admin("POST", "/api/v1/users", { id: uid })).status).toBe(201);
    expect(await connectWith(es256(claims(uid), remote.privateKey, REMOTE_KID))).toEqual({ status: 101, uid });
    expect(await connectWith(es256(claims(uid), remote.privateKey, REMOTE_KID))).toEqual({ status: 101, uid });
    expect(jwksFetches).toBe(1);
    // The right kid but another key's signature is refused.
    expect((await connectWith(es256(claims(uid), idp.privateKey, REMOTE_KID))).status).toBe(401);
  });
});
