import { ProtocolError, userIdSchema } from "../protocol";
import { b64url, fromB64url } from "./base64url";

/** The verified identity carried by a connection token. */
export interface TokenClaims {
  uid: string;
  /** Unix seconds. */
  exp: number;
  /** Unix seconds, when the token carries `iat`. */
  iat?: number;
  /** The token's id, when it carries `jti` (this server's always do): what revoking one token names. */
  jti?: string;
}

/** A JWK as a JWKS lists it. */
export interface Jwk extends JsonWebKey {
  kid?: string;
}

/**
 * The keys tokens are checked with. `hmac`: HS256 secrets, the first signs
 * what this server mints and all of them verify, so a secret is rotated by
 * putting the new one first and dropping the old one once its tokens have
 * expired. `jwks`: public keys (RS256, ES256, each with a `kid`) of an
 * identity provider that mints tokens itself, given inline or fetched from
 * `jwksUrl` (its JWKS endpoint). With `issuer` / `audience`, the provider's
 * tokens must carry that `iss` / `aud`.
 */
export interface TokenKeys {
  hmac: readonly string[];
  jwks: readonly Jwk[];
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

const PUBLIC_ALGS = {
  RS256: { import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, verify: { name: "RSASSA-PKCS1-v1_5" }, kty: "RSA" },
  ES256: { import: { name: "ECDSA", namedCurve: "P-256" }, verify: { name: "ECDSA", hash: "SHA-256" }, kty: "EC" }
} as const;
type PublicAlg = keyof typeof PUBLIC_ALGS;

/**
 * The deployment's keys: `JWT_SECRET` (one secret, or several separated by
 * commas, newest first), `JWT_JWKS` (a JWKS document, `{"keys": [...]}`),
 * `JWT_ISSUER` and `JWT_AUDIENCE`. A JWKS that does not parse is refused at
 * first use, loudly, rather than ignored.
 */
export function tokenKeys(env: object): TokenKeys {
  let keys = parsedKeys.get(env);
  if (!keys) {
    keys = parseKeys(env as Record<string, unknown>);
    parsedKeys.set(env, keys);
  }
  return keys;
}

/** Parsed once per env object (one per isolate). */
const parsedKeys = new WeakMap<object, TokenKeys>();

function parseKeys(e: Record<string, unknown>): TokenKeys {
  const str = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
  const hmac = (str(e.JWT_SECRET) ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  let jwks: Jwk[] = [];
  const doc = str(e.JWT_JWKS);
  if (doc !== undefined) {
    const parsed = JSON.parse(doc) as { keys?: unknown };
    if (!Array.isArray(parsed.keys)) throw new Error("JWT_JWKS must be a JWKS document: {\"keys\": [...]}");
    jwks = parsed.keys as Jwk[];
  }
  const jwksUrl = str(e.JWT_JWKS_URL);
  const issuer = str(e.JWT_ISSUER);
  const audience = str(e.JWT_AUDIENCE);
  return { hmac, jwks, ...(jwksUrl ? { jwksUrl } : {}), ...(issuer ? { issuer } : {}), ...(audience ? { audience } : {}) };
}

/** A fetched JWKS is kept this long; a kid it lacks fetches it again, at most this often. */
const JWKS_TTL_MS = 10 * 60_000;
const JWKS_REFETCH_MS = 60_000;
const JWKS_TIMEOUT_MS = 3_000;
const fetched = new Map<string, { keys: Jwk[]; at: number; pending?: Promise<Jwk[]> }>();

/**
 * The keys at the provider's JWKS endpoint, cached per isolate: refetched
 * when older than {@link JWKS_TTL_MS}, or when `kid` is not among them (a
 * rotation at the provider) and the last fetch is {@link JWKS_REFETCH_MS}
 * old. A failed fetch keeps the keys already known.
 */
async function remoteKeys(url: string, kid: string): Promise<Jwk[]> {
  const now = Date.now();
  const entry = fetched.get(url);
  const stale = !entry || now - entry.at > JWKS_TTL_MS || (!entry.keys.some((j) => j.kid === kid) && now - entry.at > JWKS_REFETCH_MS);
  if (!stale) return entry.keys;
  if (entry?.pending) return entry.pending;
  const pending = fetch(url, { signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) })
    .then(async (res) => {
      const doc = (await res.json()) as { keys?: unknown };
      if (!res.ok || !Array.isArray(doc.keys)) throw new Error(`JWKS at ${url} answered ${res.status}`);
      fetched.set(url, { keys: doc.keys as Jwk[], at: Date.now() });
      return doc.keys as Jwk[];
    })
    .catch((err: unknown) => {
      console.warn(JSON.stringify({ level: "warn", event: "jwks_fetch_failed", url, error: String(err) }));
      fetched.set(url, { keys: entry?.keys ?? [], at: Date.now() });
      return entry?.keys ?? [];
    });
  fetched.set(url, { keys: entry?.keys ?? [], at: entry?.at ?? 0, pending });
  return pending;
}

const keysOf = (k: TokenKeys | string): TokenKeys => (typeof k === "string" ? { hmac: [k], jwks: [] } : k);

const encoder = new TextEncoder();
const hmacKeys = new Map<string, Promise<CryptoKey>>();
const kids = new Map<string, Promise<string>>();
const publicKeys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key for `secret`, imported once per isolate instead of once per token. */
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    hmacKeys.set(secret, key);
  }
  return key;
}

/** An HMAC secret's `kid`: the first 64 bits of its SHA-256, so the header names the key without revealing it. */
export function hmacKid(secret: string): Promise<string> {
  let kid = kids.get(secret);
  if (!kid) {
    kid = crypto.subtle.digest("SHA-256", encoder.encode(secret)).then((d) => `hs-${hex(new Uint8Array(d).slice(0, 8))}`);
    kids.set(secret, kid);
  }
  return kid;
}

function publicKey(alg: PublicAlg, jwk: Jwk): Promise<CryptoKey> {
  const id = `${alg}:${jwk.kid}:${jwk.n ?? jwk.x}`;
  let key = publicKeys.get(id);
  if (!key) {
    key = crypto.subtle.importKey("jwk", jwk, PUBLIC_ALGS[alg].import, false, ["verify"]);
    publicKeys.set(id, key);
  }
  return key;
}

/** Signs an HS256 JWT with `sub` = uid, a required `exp`, a random `jti`, and the signing key's `kid`. */
export async function mintToken(
  keys: TokenKeys | string,
  uid: string,
  ttlSeconds: number,
  now = Math.floor(Date.now() / 1000)
): Promise<{ token: string; expiresAt: number }> {
  const secret = keysOf(keys).hmac[0];
  if (secret === undefined) throw new Error("JWT_SECRET is not set: this server cannot mint tokens");
  const exp = now + ttlSeconds;
  const head = b64url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT", kid: await hmacKid(secret) })));
  const jti = hex(crypto.getRandomValues(new Uint8Array(12)));
  const body = b64url(encoder.encode(JSON.stringify({ sub: uid, iat: now, exp, jti })));
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`${head}.${body}`));
  return { token: `${head}.${body}.${b64url(new Uint8Array(mac))}`, expiresAt: exp };
}

/**
 * Verifies a token: HS256 against the secrets (the one its `kid` names, or
 * each when it names none, as tokens minted before kids did), RS256 and
 * ES256 against the JWKS key its `kid` names. Throws `ProtocolError`
 * `unauthorized` (bad signature, unknown key or algorithm, no `exp`, a
 * malformed `sub`, a provider token's wrong `iss`/`aud`) or `token_expired`; expiry is only
 * reported once the signature holds. `iat` is not checked, so a backend
 * clock slightly ahead does not lock users out.
 */
export async function verifyToken(keys: TokenKeys | string, token: string): Promise<TokenClaims> {
  const k = keysOf(keys);
  const parts = token.split(".");
  if (parts.length !== 3) throw new ProtocolError("unauthorized", "invalid token");
  const [head, body, sig] = parts as [string, string, string];
  const header = decodeJson(head);
  const payload = decodeJson(body);
  const signature = fromB64url(sig);
  if (!header || !payload || !signature) throw new ProtocolError("unauthorized", "invalid token");
  const signed = encoder.encode(`${head}.${body}`) as Uint8Array<ArrayBuffer>;
  const kid = typeof header.kid === "string" ? header.kid : undefined;
  if (!(await signatureHolds(k, header.alg, kid, signed, signature))) throw new ProtocolError("unauthorized", "invalid token");

  if (typeof payload.exp !== "number") throw new ProtocolError("unauthorized", "token has no exp claim");
  if (payload.exp <= Math.floor(Date.now() / 1000)) throw new ProtocolError("token_expired", "token has expired");
  if (header.alg !== "HS256") {
    // The identity provider's tokens; this server's own (HS256) carry neither claim.
    if (k.issuer !== undefined && payload.iss !== k.issuer) throw new ProtocolError("unauthorized", "token has the wrong issuer");
    if (k.audience !== undefined && !audienceHas(payload.aud, k.audience)) throw new ProtocolError("unauthorized", "token is not for this audience");
  }
  const sub = userIdSchema.safeParse(payload.sub);
  if (!sub.success) throw new ProtocolError("unauthorized", "token sub is not a valid user id");
  return {
    uid: sub.data,
    exp: payload.exp,
    ...(typeof payload.iat === "number" ? { iat: payload.iat } : {}),
    ...(typeof payload.jti === "string" && payload.jti.length <= 128 ? { jti: payload.jti } : {})
  };
}

async function signatureHolds(k: TokenKeys, alg: unknown, kid: string | undefined, signed: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>): Promise<boolean> {
  if (alg === "HS256") {
    for (const secret of k.hmac) {
      if (kid !== undefined && kid !== (await hmacKid(secret))) continue;
      if (await crypto.subtle.verify("HMAC", await hmacKey(secret), signature, signed)) return true;
    }
    return false;
  }
  if (alg !== "RS256" && alg !== "ES256") return false; // "none" and everything else
  if (kid === undefined) return false;
  const fits = (j: Jwk) => j.kid === kid && j.kty === PUBLIC_ALGS[alg].kty && (j.alg === undefined || j.alg === alg);
  const jwk = k.jwks.find(fits) ?? (k.jwksUrl !== undefined ? (await remoteKeys(k.jwksUrl, kid)).find(fits) : undefined);
  if (!jwk) return false;
  return crypto.subtle.verify(PUBLIC_ALGS[alg].verify, await publicKey(alg, jwk), signature, signed);
}

function audienceHas(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  const bytes = fromB64url(part);
  if (!bytes) return undefined;
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
