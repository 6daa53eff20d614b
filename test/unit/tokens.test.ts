import { describe, expect, it } from "vitest";
import { type Jwk, hmacKid, mintToken, tokenKeys, type TokenKeys, verifyToken } from "../../src/lib/tokens";

const b64 = (v: string | Uint8Array): string => Buffer.from(v).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

/** A JWT signed with `sign` over header and payload as given: how an identity provider (or an attacker) writes one. */
async function jwt(header: object, payload: object, sign: (data: Uint8Array<ArrayBuffer>) => Promise<ArrayBuffer> | ArrayBuffer): Promise<string> {
  const data = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(payload))}`;
  return `${data}.${b64(new Uint8Array(await sign(new TextEncoder().encode(data))))}`;
}

/** An identity provider's key pair, the public half as a JWKS entry. */
async function provider(alg: "RS256" | "ES256", kid: string) {
  const params =
    alg === "RS256"
      ? { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }
      : { name: "ECDSA", namedCurve: "P-256" };
  const pair = (await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = { ...(await crypto.subtle.exportKey("jwk", pair.publicKey)), kid, alg, use: "sig" } as Jwk;
  const signParams = alg === "RS256" ? { name: "RSASSA-PKCS1-v1_5" } : { name: "ECDSA", hash: "SHA-256" };
  const mint = (payload: object, header: object = { alg, kid, typ: "JWT" }) =>
    jwt(header, payload, (d) => crypto.subtle.sign(signParams, pair.privateKey, d));
  return { jwk, mint };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

describe("tokens", () => {
  it("mints with the first secret and names it by kid; verifies with any listed secret", async () => {
    const keys: TokenKeys = { hmac: ["new-secret-0123456789", "old-secret-0123456789"], jwks: [] };
    const { token } = await mintToken(keys, "alice", 600);
    const header = JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as { kid: string; alg: string };
    expect(header).toMatchObject({ alg: "HS256", kid: await hmacKid("new-secret-0123456789") });
    expect((await verifyToken(keys, token)).uid).toBe("alice");
    // Rotation: a token of the old secret still works while it is listed, and not after.
    const old = (await mintToken("old-secret-0123456789", "bob", 600)).token;
    expect((await verifyToken(keys, old)).uid).toBe("bob");
    expect(await codeOf(verifyToken({ hmac: ["new-secret-0123456789"], jwks: [] }, old))).toBe("unauthorized");
  });

  it("accepts an HS256 token without kid from any listed secret (tokens minted before kids)", async () => {
    const secret = "old-secret-0123456789";
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const token = await jwt({ alg: "HS256", typ: "JWT" }, { sub: "carol", exp: now() + 60 }, (d) => crypto.subtle.sign("HMAC", key, d));
    expect((await verifyToken({ hmac: ["other-0123456789", secret], jwks: [] }, token)).uid).toBe("carol");
  });

  it.each(["RS256", "ES256"] as const)("accepts %s tokens of a JWKS key, by kid", async (alg) => {
    const idp = await provider(alg, `idp-${alg}`);
    const keys: TokenKeys = { hmac: ["s-0123456789"], jwks: [idp.jwk] };
    expect((await verifyToken(keys, await idp.mint({ sub: "dave", exp: now() + 60, iat: now() }))).uid).toBe("dave");
    // Another kid, or the right kid under another algorithm, is not this key.
    expect(await codeOf(verifyToken(keys, await idp.mint({ sub: "dave", exp: now() + 60 }, { alg, kid: "other" })))).toBe("unauthorized");
    const other = alg === "RS256" ? "ES256" : "RS256";
    expect(await codeOf(verifyToken(keys, await idp.mint({ sub: "dave", exp: now() + 60 }, { alg: other, kid: `idp-${alg}` })))).toBe("unauthorized");
  });

  it("refuses what was not signed by a listed key: alg none, a tampered payload, an HS256 token keyed by a public key's kid", async () => {
    const idp = await provider("ES256", "idp");
    const keys: TokenKeys = { hmac: ["s-0123456789"], jwks: [idp.jwk] };
    const none = `${b64(JSON.stringify({ alg: "none" }))}.${b64(JSON.stringify({ sub: "eve", exp: now() + 60 }))}.`;
    expect(await codeOf(verifyToken(keys, none))).toBe("unauthorized");
    const good = (await mintToken(keys, "alice", 60)).token;
    const [h, , s] = good.split(".");
    const forged = `${h}.${b64(JSON.stringify({ sub: "eve", exp: now() + 60 }))}.${s}`;
    expect(await codeOf(verifyToken(keys, forged))).toBe("unauthorized");
    expect(await codeOf(verifyToken(keys, "not.a.token"))).toBe("unauthorized");
    expect(await codeOf(verifyToken(keys, "two.parts"))).toBe("unauthorized");
  });

  it("reports expiry only for a valid signature, and requires exp and a valid sub", async () => {
    const idp = await provider("ES256", "idp");
    const keys: TokenKeys = { hmac: ["s-0123456789"], jwks: [idp.jwk] };
    expect(await codeOf(verifyToken(keys, await idp.mint({ sub: "dave", exp: now() - 1 })))).toBe("token_expired");
    expect(await codeOf(verifyToken(keys, await idp.mint({ sub: "dave" })))).toBe("unauthorized");
    expect(await codeOf(verifyToken(keys, await idp.mint({ sub: "not a valid id!", exp: now() + 60 })))).toBe("unauthorized");
    const stranger = await provider("ES256", "idp");
    expect(await codeOf(verifyToken(keys, await stranger.mint({ sub: "dave", exp: now() - 1 })))).toBe("unauthorized");
  });

  it("checks iss and aud when configured", async () => {
    const idp = await provider("RS256", "idp");
    const keys: TokenKeys = { hmac: [], jwks: [idp.jwk], issuer: "https://id.example", audience: "im" };
    const base = { sub: "dave", exp: now() + 60 };
    expect(await codeOf(verifyToken(keys, await idp.mint({ ...base, iss: "https://id.example", aud: ["web", "im"] })))).toBe("ok");
    expect(await codeOf(verifyToken(keys, await idp.mint({ ...base, iss: "https://evil.example", aud: "im" })))).toBe("unauthorized");
    expect(await codeOf(verifyToken(keys, await idp.mint({ ...base, iss: "https://id.example", aud: "other" })))).toBe("unauthorized");
    // This server's own tokens carry neither claim and need none.
    const own = { ...keys, hmac: ["s-0123456789"] };
    expect(await codeOf(verifyToken(own, (await mintToken(own, "dave", 60)).token))).toBe("ok");
  });

  it("reads the keys from the environment: secrets newest first, a JWKS document, issuer and audience", async () => {
    const idp = await provider("ES256", "idp");
    const keys = tokenKeys({ JWT_SECRET: " new-0123456789 , old-0123456789 ", JWT_JWKS: JSON.stringify({ keys: [idp.jwk] }), JWT_ISSUER: "iss", JWT_AUDIENCE: "" });
    expect(keys).toEqual({ hmac: ["new-0123456789", "old-0123456789"], jwks: [idp.jwk], issuer: "iss" });
    expect(() => tokenKeys({ JWT_SECRET: "x", JWT_JWKS: "[]" })).toThrow(/JWKS document/);
  });
});
