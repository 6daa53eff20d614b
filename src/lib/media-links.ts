/**
 * Signed media URLs: `/api/v1/media/{id}?exp=…&sig=…`, where `sig` is an HMAC of
 * the method, the attachment id and the expiry (seconds). A link is a bearer
 * credential until it expires, like an S3 or R2 presigned URL; an upload
 * link (PUT) cannot be used to download, nor the reverse.
 *
 * The key is derived from each JWT_SECRET (`HMAC(secret, "edge-im media
 * links v1")`): the first signs, all verify, so rotating the JWT secret
 * keeps links signed just before working until they expire.
 */

import { b64url } from "./base64url";

export type MediaMethod = "GET" | "PUT";

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => {
      const root = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const derived = await crypto.subtle.sign("HMAC", root, encoder.encode("edge-im media links v1"));
      return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    })();
    keys.set(secret, key);
  }
  return key;
}

async function signature(secret: string, method: MediaMethod, id: string, exp: number): Promise<string> {
  return b64url(await crypto.subtle.sign("HMAC", await keyFor(secret), encoder.encode(`${method}\n${id}\n${exp}`)));
}

/** The path and query of a signed link to attachment `id`, valid until `exp` (seconds). */
export async function signMediaPath(secrets: readonly string[], method: MediaMethod, id: string, exp: number): Promise<string> {
  const secret = secrets[0];
  if (!secret) throw new Error("JWT_SECRET is not set: media links cannot be signed");
  return `/api/v1/media/${id}?exp=${exp}&sig=${await signature(secret, method, id, exp)}`;
}

/** Whether `sig` signs (`method`, `id`, `exp`) under one of `secrets` and `exp` has not passed. */
export async function verifyMediaLink(
  secrets: readonly string[],
  method: MediaMethod,
  id: string,
  exp: number,
  sig: string,
  nowSeconds = Math.floor(Date.now() / 1000)
): Promise<boolean> {
  if (!Number.isSafeInteger(exp) || exp < nowSeconds) return false;
  for (const secret of secrets) {
    const want = await signature(secret, method, id, exp);
    if (want.length === sig.length && timingSafeEqual(want, sig)) return true;
  }
  return false;
}

function timingSafeEqual(a: string, b: string): boolean {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
