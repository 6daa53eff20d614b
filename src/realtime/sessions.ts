import type { Limits } from "../lib/config";
import type { Logger } from "../lib/log";
import { CLOSE, errorResponse, TOKEN_TTL_MAX_SECONDS } from "../protocol";
import type { Account } from "../store/account";
import { type Attachment, attachmentOf, closeQuietly, deviceTag, lastActivity, openSockets } from "./connection";

/** What a user object lends its sessions. */
export interface SessionsHost {
  ctx: DurableObjectState;
  account: Account;
  limits: Limits;
  log: Logger;
  ensureAlarm(at: number): Promise<void>;
  /** A socket this side closed: the bookkeeping a client's close would do (compat queue, cursors). */
  closedHere(ws: WebSocket, code: number): void;
}

/**
 * Who may hold a socket of this user, and for how long: the checks of an
 * upgrade (a deleted or re-created account, a ban, a revoked token), the
 * backend's bans, revocations and disconnects, and the alarm's sweep of
 * sockets whose token expired or that fell silent past IDLE_SOCKET_SECONDS.
 */
export class Sessions {
  constructor(private readonly host: SessionsHost) {}

  /** Why a verified token may not open a socket here now (the answer to send), or undefined. */
  async refusal(uid: string, token: { iat?: number; jti?: string }): Promise<Response | undefined> {
    const { account } = this.host;
    if (await account.deleted()) return errorResponse("unknown_user", `no user ${uid}`);
    if (token.iat !== undefined && account.predates(token.iat)) {
      return errorResponse("unauthorized", "this token was issued to an earlier account with this id");
    }
    if (account.ban()) return errorResponse("banned", "this user is banned");
    if (account.revoked(token)) return errorResponse("unauthorized", "this token was revoked");
    return undefined;
  }

  /** A socket opened at `now`: the alarm looks at it again when it could first be idle. */
  opened(now: number): void {
    const idle = this.host.limits.idleSocketMs;
    if (idle > 0) this.host.ctx.waitUntil(this.host.ensureAlarm(now + idle));
  }

  /** Bans the user: their sockets close (4503) and no token of theirs opens one until {@link unban}. */
  ban(reason?: string): number {
    this.host.account.setBan({ at: Date.now(), ...(reason ? { reason } : {}) });
    return this.#close(openSockets(this.host.ctx), CLOSE.banned, reason ?? "banned");
  }

  /** Lifts a ban; tokens issued before it stay revoked. */
  unban(): boolean {
    return this.host.account.liftBan();
  }

  /** Revokes token `jti` (until `exp`, unix s), or with none every token issued so far; closes their sockets (4003). */
  revoke(jti?: string, exp?: number): number {
    const { account, ctx } = this.host;
    const now = Date.now();
    if (jti === undefined) account.revokeAll(now);
    else account.revoke(jti, exp ?? Math.floor(now / 1000) + TOKEN_TTL_MAX_SECONDS, now);
    const revoked = openSockets(ctx).filter((ws) => {
      const a = attachmentOf(ws);
      return a !== undefined && account.revoked(a);
    });
    return this.#close(revoked, CLOSE.token_revoked, "token revoked; reconnect with a new one");
  }

  /** Closes one device's socket (or all) with 4501 and `reason`; returns how many. */
  disconnect(device: string | undefined, reason: string): number {
    const { ctx } = this.host;
    return this.#close(device === undefined ? openSockets(ctx) : ctx.getWebSockets(deviceTag(device)), CLOSE.kicked, reason);
  }

  /**
   * The alarm's look at the sockets. Heartbeats are answered by the runtime
   * and never reach webSocketMessage, so token expiry of a listen-only
   * client is enforced here, and so is the idle limit: a socket silent that
   * long (no frame, no heartbeat) is taken for half-open and closed, so
   * presence does not wait for its token. Returns when the next one could go idle.
   */
  sweep(now: number): number | undefined {
    const idle = this.host.limits.idleSocketMs;
    let next: number | undefined;
    for (const ws of openSockets(this.host.ctx)) {
      const a = attachmentOf(ws);
      if (!a) continue;
      if (a.exp * 1000 <= now) {
        closeQuietly(ws, CLOSE.token_expired, "token expired; reconnect with a fresh token");
        continue;
      }
      if (idle === 0) continue;
      const last = lastActivity(this.host.ctx, ws, a);
      if (now - last >= idle) this.#reap(ws, a);
      else next = Math.min(next ?? Infinity, last + idle);
    }
    return next;
  }

  /** Closes a socket found silent past the idle limit, as if its client had closed it. */
  #reap(ws: WebSocket, a: Attachment): void {
    const idle = this.host.limits.idleSocketMs;
    this.host.log.info("reaped", { uid: a.uid, device: a.device, idleMs: idle });
    closeQuietly(ws, CLOSE.idle, `no frame or heartbeat in ${idle / 1000} s; reconnect`);
    this.host.closedHere(ws, CLOSE.idle);
  }

  #close(sockets: WebSocket[], code: number, reason: string): number {
    for (const ws of sockets) closeQuietly(ws, code, reason);
    return sockets.length;
  }
}
