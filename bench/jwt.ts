import { createHmac } from "node:crypto";

const b64url = (s: string | Buffer): string => Buffer.from(s).toString("base64url");
const HEADER = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));

/** HS256 JWT with `sub` = uid and `exp` = now + ttl, as the server's verifyToken expects. */
export function mintToken(secret: string, uid: string, ttlSeconds = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = b64url(JSON.stringify({ sub: uid, iat: now, exp: now + ttlSeconds }));
  const sig = createHmac("sha256", secret).update(`${HEADER}.${payload}`).digest("base64url");
  return `${HEADER}.${payload}.${sig}`;
}
