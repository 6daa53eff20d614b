import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hmacKid, mintToken } from "../../src/lib/tokens";
import { api, call, connect, createUser, JWT_SECRET } from "../helpers/fixtures";

/**
 * Signing keys through the real upgrade route: JWT_SECRET lists the current
 * secret and the previous one (test/vitest.config.ts), and JWT_JWKS an
 * identity provider's ES256 key, whose private half the tests sign with.
 */
const PREVIOUS_SECRET = "test-jwt-secret-previous-0123";

const b64 = (s: string | Uint8Array) => {
  const bytes = typeof s === "string" ? new TextEncoder().encode(s) : s;
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
};

/** A token as the identity provider mints it (ES256, its kid). */
async function idpToken(payload: Record<string, unknown>, kid?: string): Promise<string> {
  const jwk = JSON.parse(env.TEST_IDP_PRIVATE_JWK) as JsonWebKey & { kid: string };
  const key = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const data = `${b64(JSON.stringify({ alg: "ES256", typ: "JWT", kid: kid ?? jwk.kid }))}.${b64(JSON.stringify(payload))}`;
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new TextEncoder().encode(data));
  return `${data}.${b64(new Uint8Array(sig))}`;
}

const upgrade = (token: string) => call(`/ws?token=${token}`, { headers: { Upgrade: "websocket" } });

describe("signing keys", () => {
  it("mints tokens with the current secret, naming it by kid", async () => {
    const uid = await createUser();
    const { token } = (await (await api("POST", "/api/v1/tokens", { uid })).json()) as { token: string };
    const header = JSON.parse(atob(token.split(".")[0]!.replaceAll("-", "+").replaceAll("_", "/"))) as { kid: string };
    expect(header.kid).toBe(await hmacKid(JWT_SECRET));
    expect((await connect(uid, { token })).welcome.uid).toBe(uid);
  });

  it("still accepts tokens of the previous secret during a rotation, and not of one never listed", async () => {
    const uid = await createUser();
    const old = await mintToken(PREVIOUS_SECRET, uid, 600);
    expect((await connect(uid, { token: old.token })).welcome.uid).toBe(uid);
    const res = await upgrade((await mintToken("a-secret-nobody-listed", uid, 600)).token);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
  });

  it("accepts an identity provider's ES256 token from the JWKS, bound to its sub", async () => {
    const uid = await createUser();
    const now = Math.floor(Date.now() / 1000);
    const c = await connect(uid, { token: await idpToken({ sub: uid, iat: now, exp: now + 600 }) });
    expect(c.welcome.uid).toBe(uid);
    expect(await c.ok({ type: "ping" })).toBeDefined();
  });

  it("refuses an ES256 token naming a key the JWKS does not hold, or expired", async () => {
    const uid = await createUser();
    const now = Math.floor(Date.now() / 1000);
    const unknown = await upgrade(await idpToken({ sub: uid, exp: now + 600 }, "another-kid"));
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ error: { code: "unauthorized" } });
    const expired = await upgrade(await idpToken({ sub: uid, exp: now - 5 }));
    expect(await expired.json()).toMatchObject({ error: { code: "token_expired" } });
  });
});
