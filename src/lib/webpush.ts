/**
 * Web Push with WebCrypto only: the payload encryption of RFC 8291
 * (`aes128gcm`, RFC 8188) and VAPID (RFC 8292) authorization.
 */

import { b64url, fromB64url as decode } from "./base64url";

const encoder = new TextEncoder();
const utf8 = (s: string) => encoder.encode(s) as Uint8Array<ArrayBuffer>;

/** The bytes of a base64url key or secret; throws on anything else. */
export function fromB64url(s: string): Uint8Array<ArrayBuffer> {
  const bytes = decode(s);
  if (!bytes) throw new Error("not base64url");
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

async function hmac(key: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

/** HKDF (RFC 5869) with SHA-256, for outputs of at most 32 bytes: one expand block. */
async function hkdf(salt: Uint8Array<ArrayBuffer>, ikm: Uint8Array<ArrayBuffer>, info: Uint8Array<ArrayBuffer>, length: number) {
  const prk = await hmac(salt, ikm);
  return (await hmac(prk, concat(info, new Uint8Array([1])))).slice(0, length);
}

/** A P-256 key pair for ECDH with its public half as 65 uncompressed bytes. */
export interface EcdhPair {
  privateKey: CryptoKey;
  publicRaw: Uint8Array<ArrayBuffer>;
}

async function ephemeralPair(): Promise<EcdhPair> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  return { privateKey: pair.privateKey, publicRaw: new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer) };
}

/** An ECDH pair from a private scalar `d` and its public point (both base64url): for fixed test vectors. */
export async function ecdhPairOf(d: string, publicRaw: string): Promise<EcdhPair> {
  const pub = fromB64url(publicRaw);
  const jwk = { kty: "EC", crv: "P-256", d, x: b64url(pub.slice(1, 33)), y: b64url(pub.slice(33, 65)), ext: true };
  const privateKey = await crypto.subtle.importKey("jwk", jwk, { name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
  return { privateKey, publicRaw: pub };
}

/** One record holds the whole payload: Web Push payloads are at most 4 KiB. */
const RECORD_SIZE = 4096;

/**
 * Encrypts `plaintext` for a subscription's keys (`p256dh`: the browser's
 * P-256 public key, `auth`: its 16-byte secret), as RFC 8291 describes:
 * the body is the aes128gcm header (salt, record size, the sender's
 * ephemeral public key) and one record. `sender` and `salt` are for tests.
 */
export async function encryptPayload(
  keys: { p256dh: string; auth: string },
  plaintext: string | Uint8Array<ArrayBuffer>,
  fixed: { sender?: EcdhPair; salt?: Uint8Array<ArrayBuffer> } = {}
): Promise<Uint8Array<ArrayBuffer>> {
  const uaPublicRaw = fromB64url(keys.p256dh);
  const authSecret = fromB64url(keys.auth);
  if (uaPublicRaw.byteLength !== 65 || uaPublicRaw[0] !== 4) throw new Error("p256dh must be an uncompressed P-256 point (65 bytes)");
  if (authSecret.byteLength !== 16) throw new Error("auth must be 16 bytes");
  const uaPublic = await crypto.subtle.importKey("raw", uaPublicRaw, { name: "ECDH", namedCurve: "P-256" }, false, []);
  const sender = fixed.sender ?? (await ephemeralPair());
  const salt = fixed.salt ?? crypto.getRandomValues(new Uint8Array(16));
  const ecdhSecret = new Uint8Array(await crypto.subtle.deriveBits({ name: "ECDH", public: uaPublic } as unknown as Parameters<typeof crypto.subtle.deriveBits>[0], sender.privateKey, 256));
  // RFC 8291 §3.4: the input keying material binds both public keys and the auth secret.
  const keyInfo = concat(utf8("WebPush: info\0"), uaPublicRaw, sender.publicRaw);
  const ikm = await hkdf(authSecret, ecdhSecret, keyInfo, 32);
  const cek = await hkdf(salt, ikm, utf8("Content-Encoding: aes128gcm\0"), 16);
  const nonce = await hkdf(salt, ikm, utf8("Content-Encoding: nonce\0"), 12);
  const data = typeof plaintext === "string" ? utf8(plaintext) : plaintext;
  if (data.byteLength + 17 + 86 > RECORD_SIZE) throw new Error("a Web Push payload is limited to about 4 KiB");
  // The last (only) record ends with the delimiter 0x02 and no padding.
  const key = await crypto.subtle.importKey("raw", cek, { name: "AES-GCM" }, false, ["encrypt"]);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce }, key, concat(data, new Uint8Array([2]))));
  const header = new Uint8Array(21);
  header.set(salt, 0);
  new DataView(header.buffer).setUint32(16, RECORD_SIZE);
  header[20] = sender.publicRaw.byteLength;
  return concat(header, sender.publicRaw, sealed);
}

/** The application server's VAPID key pair: the public point and the private scalar, base64url. */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  /** `mailto:` or `https:` contact the push service may use (RFC 8292 `sub`). */
  subject: string;
}

const vapidKeys = new Map<string, Promise<CryptoKey>>();

function signingKey(v: VapidKeys): Promise<CryptoKey> {
  let key = vapidKeys.get(v.privateKey);
  if (!key) {
    const pub = fromB64url(v.publicKey);
    // Some tools drop a private scalar's leading zero bytes; a JWK's `d` has all 32.
    const raw = fromB64url(v.privateKey);
    const d = new Uint8Array(32);
    d.set(raw.slice(-32), 32 - Math.min(32, raw.byteLength));
    const jwk = { kty: "EC", crv: "P-256", d: b64url(d), x: b64url(pub.slice(1, 33)), y: b64url(pub.slice(33, 65)) };
    key = crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    vapidKeys.set(v.privateKey, key);
  }
  return key;
}

/**
 * The `Authorization` header for a push to `endpoint` (RFC 8292): an ES256
 * JWT for the endpoint's origin, valid 12 hours, and the public key.
 */
export async function vapidAuthorization(endpoint: string, v: VapidKeys, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const head = b64url(utf8(JSON.stringify({ typ: "JWT", alg: "ES256" })));
  const body = b64url(utf8(JSON.stringify({ aud: new URL(endpoint).origin, exp: nowSeconds + 12 * 3600, sub: v.subject })));
  // WebCrypto's ECDSA signature is r‖s, 64 bytes: JOSE's ES256 format as it is.
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, await signingKey(v), utf8(`${head}.${body}`));
  return `vapid t=${head}.${body}.${b64url(sig)}, k=${v.publicKey}`;
}
