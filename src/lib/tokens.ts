import { sign, verify } from "hono/jwt";
import { ProtocolError, userIdSchema } from "../protocol";

/** The verified identity carried by a connection token. */
export interface TokenClaims {
  uid: string;
  /** Unix seconds. */
  exp: number;
  /** Unix seconds, when the token carries `iat`. */
  iat?: number;
}

const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key for `secret`, imported once per isolate instead of once per token. */
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify"
    ]);
    keys.set(secret, key);
  }
  return key;
}

/** Signs an HS256 JWT with `sub` = uid and a required `exp`. */
export async function mintToken(
  secret: string,
  uid: string,
  ttlSeconds: number,
  now = Math.floor(Date.now() / 1000)
): Promise<{ token: string; expiresAt: number }> {
  const exp = now + ttlSeconds;
  const token = await sign({ sub: uid, iat: now, exp }, await hmacKey(secret), "HS256");
  return { token, expiresAt: exp };
}

/**
 * Verifies an HS256 token. Throws `ProtocolError` `token_expired` or
 * `unauthorized`; a token without `exp` or with a malformed `sub` is refused.
 */
export async function verifyToken(
  secret: string,
  token: string
): Promise<TokenClaims> {
  let payload: Record<string, unknown>;
  try {
    // Signature first: expiry is only reported for tokens we actually issued.
    // `iat` is not checked, so a backend clock slightly ahead does not lock users out.
    payload = await verify(token, await hmacKey(secret), { alg: "HS256", exp: false, iat: false });
  } catch {
    throw new ProtocolError("unauthorized", "invalid token");
  }
  if (typeof payload.exp !== "number") {
    throw new ProtocolError("unauthorized", "token has no exp claim");
  }
  if (payload.exp <= Math.floor(Date.now() / 1000)) {
    throw new ProtocolError("token_expired", "token has expired");
  }
  const sub = userIdSchema.safeParse(payload.sub);
  if (!sub.success) {
    throw new ProtocolError("unauthorized", "token sub is not a valid user id");
  }
  return { uid: sub.data, exp: payload.exp, ...(typeof payload.iat === "number" ? { iat: payload.iat } : {}) };
}
