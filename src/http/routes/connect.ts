import { newDeviceId } from "../../lib/ids";
import { tokenKeys, verifyToken } from "../../lib/tokens";
import { deviceIdSchema, ProtocolError } from "../../protocol";
import { UPGRADE_HEADERS } from "../../realtime/connection";
import { newApp } from "../app-env";
import { userStub } from "../../rpc/stubs";

/** Subprotocol a client may offer beside its token; echoed in preference to the token. */
export const SUBPROTOCOL = "im.v1";

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Finds the token: `?token=` or an entry of `Sec-WebSocket-Protocol` shaped
 * like a JWT (browsers cannot set other headers on a WebSocket). The 101
 * must echo one offered protocol: `im.v1` if offered, else the token entry.
 */
function tokenOf(req: Request): { token?: string; protocol?: string } {
  const offered = (req.headers.get("Sec-WebSocket-Protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const fromProtocol = offered.find((p) => JWT_SHAPE.test(p));
  const fromQuery = new URL(req.url).searchParams.get("token") ?? undefined;
  const protocol = offered.includes(SUBPROTOCOL) ? SUBPROTOCOL : fromProtocol;
  return { token: fromQuery ?? fromProtocol, protocol };
}

/**
 * `GET /ws` (protocol v1) and `GET /ws/compat` (the seed's protocol): verifies
 * the token before touching any Durable Object, then hands the upgrade to
 * the user's object with identity headers it sets itself. Query: `token`,
 * `device` (optional), `since` (optional seq, v1 only).
 */
export const connect = newApp()
  .get("/", (c) => upgrade(c.req.raw, c.env, false))
  .get("/compat", (c) => upgrade(c.req.raw, c.env, true));

/**
 * The optional browser allow-list (`ALLOWED_ORIGINS`, comma-separated; empty
 * allows any). Only browsers send `Origin`; other clients are unaffected,
 * and the token is checked either way.
 */
export function originAllowed(origin: string, list: string | undefined): boolean {
  const allowed = (list ?? "").split(",").map((o) => o.trim()).filter(Boolean);
  return allowed.length === 0 || allowed.includes(origin);
}

async function upgrade(req: Request, env: Env, compat: boolean): Promise<Response> {
  const query = new URL(req.url).searchParams;
  const origin = req.headers.get("Origin");
  if (origin !== null && !originAllowed(origin, (env as unknown as { ALLOWED_ORIGINS?: string }).ALLOWED_ORIGINS)) {
    throw new ProtocolError("forbidden", `origin ${origin} may not connect`);
  }
  if (req.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ProtocolError("bad_request", "expected a WebSocket upgrade (Upgrade: websocket)");
  }
  const { token, protocol } = tokenOf(req);
  if (!token) {
    throw new ProtocolError("unauthorized", "missing token (?token= or Sec-WebSocket-Protocol)");
  }
  const claims = await verifyToken(tokenKeys(env), token);

  const deviceParam = query.get("device") ?? undefined;
  const device = deviceParam === undefined ? newDeviceId() : deviceIdSchema.safeParse(deviceParam);
  if (typeof device !== "string" && !device.success) {
    throw new ProtocolError("bad_request", "device must be 1-64 characters of A-Z a-z 0-9 _ -");
  }
  const since = compat ? undefined : (query.get("since") ?? undefined);
  if (since !== undefined && !/^\d{1,15}$/.test(since)) {
    throw new ProtocolError("bad_request", "since must be a non-negative integer seq");
  }

  const headers = new Headers(req.headers);
  headers.set(UPGRADE_HEADERS.uid, claims.uid);
  headers.set(UPGRADE_HEADERS.device, typeof device === "string" ? device : device.data);
  headers.set(UPGRADE_HEADERS.exp, String(claims.exp));
  if (claims.iat === undefined) headers.delete(UPGRADE_HEADERS.iat);
  else headers.set(UPGRADE_HEADERS.iat, String(claims.iat));
  if (claims.jti === undefined) headers.delete(UPGRADE_HEADERS.jti);
  else headers.set(UPGRADE_HEADERS.jti, claims.jti);
  if (since === undefined) headers.delete(UPGRADE_HEADERS.since);
  else headers.set(UPGRADE_HEADERS.since, since);
  if (protocol === undefined) headers.delete(UPGRADE_HEADERS.protocol);
  else headers.set(UPGRADE_HEADERS.protocol, protocol);
  if (compat) headers.set(UPGRADE_HEADERS.compat, "1");
  else headers.delete(UPGRADE_HEADERS.compat);

  const stub = userStub(env, claims.uid);
  return stub.fetch(new Request(req.url, { headers }));
}
