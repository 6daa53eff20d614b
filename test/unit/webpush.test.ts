import { describe, expect, it } from "vitest";
import { b64url } from "../../src/lib/base64url";
import { ecdhPairOf, encryptPayload, fromB64url, vapidAuthorization } from "../../src/lib/webpush";
import { browserKeys, decryptWebPush, verifyVapid } from "../e2e/push-receiver";

/** RFC 8291 §5 and Appendix A, to the byte. */
const RFC = {
  plaintext: "When I grow up, I want to be a watermelon",
  uaPublic: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
  uaPrivate: "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94",
  auth: "BTBZMqHH6r4Tts7J_aSIgg",
  asPrivate: "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw",
  asPublic: "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8",
  salt: "DGv6ra1nlYgDCS1FRnbzlw",
  body: "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
};

describe("Web Push payload encryption (RFC 8291)", () => {
  it("matches the RFC's worked example byte for byte", async () => {
    const sender = await ecdhPairOf(RFC.asPrivate, RFC.asPublic);
    const body = await encryptPayload({ p256dh: RFC.uaPublic, auth: RFC.auth }, RFC.plaintext, { sender, salt: fromB64url(RFC.salt) });
    expect(b64url(body)).toBe(RFC.body);
  });

  it("with fresh keys and salt, decrypts on the receiving side and differs every time", async () => {
    const keys = browserKeys();
    const payload = JSON.stringify({ type: "message", text: "héllo 👋" });
    const a = await encryptPayload(keys, payload);
    const b = await encryptPayload(keys, payload);
    expect(b64url(a)).not.toBe(b64url(b));
    expect(decryptWebPush(a, keys.privateKey, keys.p256dh, keys.auth)).toBe(payload);
  });

  it("refuses malformed subscription keys and oversize payloads", async () => {
    await expect(encryptPayload({ p256dh: "AAAA", auth: RFC.auth }, "x")).rejects.toThrow(/p256dh/);
    await expect(encryptPayload({ p256dh: RFC.uaPublic, auth: "AAAA" }, "x")).rejects.toThrow(/auth/);
    await expect(encryptPayload({ p256dh: RFC.uaPublic, auth: RFC.auth }, "x".repeat(4000))).rejects.toThrow(/4 KiB/);
  });
});

describe("VAPID (RFC 8292)", () => {
  it("signs an ES256 JWT for the endpoint's origin that the public key verifies", async () => {
    const server = browserKeys(); // any P-256 pair
    const v = { publicKey: server.p256dh, privateKey: server.privateKey, subject: "mailto:ops@example.com" };
    const checked = verifyVapid(await vapidAuthorization("https://push.example.net/send/abc?x=1", v, 1_700_000_000));
    expect(checked).toEqual({
      valid: true,
      key: v.publicKey,
      header: { typ: "JWT", alg: "ES256" },
      claims: { aud: "https://push.example.net", exp: 1_700_000_000 + 12 * 3600, sub: "mailto:ops@example.com" }
    });
    // Another key's signature does not verify.
    const other = browserKeys();
    const forged = (await vapidAuthorization("https://push.example.net/x", { ...v, privateKey: other.privateKey, publicKey: other.p256dh })).replace(/k=.+$/, `k=${v.publicKey}`);
    expect(verifyVapid(forged).valid).toBe(false);
  });
});
