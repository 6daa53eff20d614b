/**
 * Firebase Cloud Messaging, HTTP v1 API: an OAuth 2.0 access token from a
 * service account (a JWT signed RS256 with its key, exchanged at its
 * `token_uri`), then one POST per message to
 * `{api}/v1/projects/{project_id}/messages:send`.
 */

import { b64url } from "./base64url";

/** The fields of a service account's JSON key this uses. */
export interface ServiceAccount {
  project_id: string;
  client_email: string;
  private_key: string;
  token_uri: string;
}

const encoder = new TextEncoder();
const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
export const FCM_API = "https://fcm.googleapis.com";

/** Parses FCM_SERVICE_ACCOUNT (the JSON key, or its base64); undefined when unset or unusable. */
export function serviceAccountOf(value: unknown): ServiceAccount | undefined {
  if (typeof value !== "string" || value.trim() === "") return undefined;
  try {
    const json = value.trim().startsWith("{") ? value : atob(value.trim());
    const a = JSON.parse(json) as Partial<ServiceAccount>;
    if (!a.project_id || !a.client_email || !a.private_key) return undefined;
    return { project_id: a.project_id, client_email: a.client_email, private_key: a.private_key, token_uri: a.token_uri ?? "https://oauth2.googleapis.com/token" };
  } catch {
    return undefined;
  }
}

function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  const b64 = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, "").replace(/\s+/g, "");
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Access tokens per service account and isolate (the promise, so concurrent sends share one exchange), refreshed 5 minutes before they expire. */
const tokens = new Map<string, { token: Promise<string>; until: number }>();

function accessToken(a: ServiceAccount, now = Date.now()): Promise<string> {
  const cached = tokens.get(a.client_email);
  if (cached && cached.until > now) return cached.token;
  const token = exchange(a, now);
  tokens.set(a.client_email, { token, until: now + 3_300_000 });
  token.catch(() => tokens.delete(a.client_email));
  return token;
}

async function exchange(a: ServiceAccount, now: number): Promise<string> {
  const iat = Math.floor(now / 1000);
  const head = b64url(encoder.encode(JSON.stringify({ alg: "RS256", typ: "JWT" })));
  const claims = b64url(encoder.encode(JSON.stringify({ iss: a.client_email, scope: SCOPE, aud: a.token_uri, iat, exp: iat + 3600 })));
  const key = await crypto.subtle.importKey("pkcs8", pemBody(a.private_key), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
  const sig = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, encoder.encode(`${head}.${claims}`));
  const res = await fetch(a.token_uri, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: `${head}.${claims}.${b64url(sig)}` }),
    signal: AbortSignal.timeout(10_000)
  });
  if (!res.ok) throw new Error(`FCM token exchange failed: HTTP ${res.status}`);
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error("FCM token exchange answered no access_token");
  return body.access_token;
}

/** What a send came to: delivered, the token is gone for good (drop it), this message will never go (drop it), or try again later. */
export type SendOutcome = "sent" | "gone" | "dropped" | "retry";

/**
 * Sends a data message to one registration token, collapsed by `collapse`
 * (a newer one for the same conversation replaces an undelivered older one
 * on Android and iOS).
 */
export async function sendFcm(
  a: ServiceAccount,
  token: string,
  msg: { data: Record<string, string>; title: string; body: string; collapse: string },
  api = FCM_API
): Promise<SendOutcome> {
  const res = await fetch(`${api}/v1/projects/${encodeURIComponent(a.project_id)}/messages:send`, {
    method: "POST",
    headers: { authorization: `Bearer ${await accessToken(a)}`, "content-type": "application/json" },
    body: JSON.stringify({
      message: {
        token,
        data: msg.data,
        notification: { title: msg.title, body: msg.body },
        android: { collapse_key: msg.collapse, priority: "high", notification: { tag: msg.collapse } },
        apns: { headers: { "apns-collapse-id": msg.collapse.slice(0, 64) } }
      }
    }),
    signal: AbortSignal.timeout(10_000)
  });
  if (res.ok) {
    await res.body?.cancel();
    return "sent";
  }
  const error = ((await res.json().catch(() => ({}))) as { error?: { details?: { errorCode?: string }[] } }).error;
  const code = error?.details?.find((d) => d.errorCode)?.errorCode;
  // Only FCM's own verdict on the token removes it: a 404 from a misconfigured project must not wipe every subscription.
  if (code === "UNREGISTERED" || code === "SENDER_ID_MISMATCH") return "gone";
  if (res.status === 401) tokens.delete(a.client_email);
  return res.status === 429 || res.status >= 500 || res.status === 401 ? "retry" : "dropped";
}
