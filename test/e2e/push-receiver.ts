// A push service's and a browser's side of Web Push, in Node's crypto,
// written independently of src/lib/webpush.ts: the unit and e2e tests
// decrypt what the server sent and check its VAPID signature with these.
import { createDecipheriv, createECDH, createHmac, createPublicKey, verify } from "node:crypto";

/** Decrypts an `aes128gcm` Web Push body (RFC 8291) with the subscription's private key and auth secret. */
export function decryptWebPush(body: Uint8Array, uaPrivate: string, uaPublic: string, auth: string): string {
  const buf = Buffer.from(body);
  const salt = buf.subarray(0, 16);
  const idlen = buf[20]!;
  const asPublic = buf.subarray(21, 21 + idlen);
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(Buffer.from(uaPrivate, "base64url"));
  const secret = ecdh.computeSecret(asPublic);
  const h = (key: Buffer, data: Buffer) => createHmac("sha256", key).update(data).digest();
  const ikm = h(h(Buffer.from(auth, "base64url"), secret), Buffer.concat([Buffer.from("WebPush: info\0"), Buffer.from(uaPublic, "base64url"), asPublic, Buffer.from([1])]));
  const prk = h(salt, ikm);
  const cek = h(prk, Buffer.from("Content-Encoding: aes128gcm\0\x01")).subarray(0, 16);
  const nonce = h(prk, Buffer.from("Content-Encoding: nonce\0\x01")).subarray(0, 12);
  const record = buf.subarray(21 + idlen);
  const d = createDecipheriv("aes-128-gcm", cek, nonce);
  d.setAuthTag(record.subarray(record.length - 16));
  const plain = Buffer.concat([d.update(record.subarray(0, record.length - 16)), d.final()]);
  if (plain.at(-1) !== 2) throw new Error("the last record must end with the delimiter 0x02");
  return plain.subarray(0, -1).toString("utf8");
}

/** Checks a `vapid t=…, k=…` Authorization header: its ES256 signature under `k`, and returns its claims and key. */
export function verifyVapid(header: string): { valid: boolean; key: string; header: unknown; claims: { aud: string; exp: number; sub: string } } {
  const m = /^vapid t=([^.]+)\.([^.]+)\.([^,]+), k=(.+)$/.exec(header);
  if (!m) throw new Error(`not a VAPID header: ${header}`);
  const pub = Buffer.from(m[4]!, "base64url");
  const key = createPublicKey({ key: { kty: "EC", crv: "P-256", x: pub.subarray(1, 33).toString("base64url"), y: pub.subarray(33).toString("base64url") }, format: "jwk" });
  const valid = verify("sha256", Buffer.from(`${m[1]}.${m[2]}`), { key, dsaEncoding: "ieee-p1363" }, Buffer.from(m[3]!, "base64url"));
  return {
    valid,
    key: m[4]!,
    header: JSON.parse(Buffer.from(m[1]!, "base64url").toString()),
    claims: JSON.parse(Buffer.from(m[2]!, "base64url").toString()) as { aud: string; exp: number; sub: string }
  };
}

/** A subscribing browser's keys: a P-256 pair and a 16-byte auth secret. */
export function browserKeys(): { p256dh: string; auth: string; privateKey: string } {
  const ua = createECDH("prime256v1");
  ua.generateKeys();
  return { p256dh: ua.getPublicKey().toString("base64url"), auth: Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url"), privateKey: ua.getPrivateKey().toString("base64url") };
}
