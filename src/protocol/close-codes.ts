/**
 * WebSocket close codes the server uses. 4000-4499: the client should
 * reconnect (with backoff and its last seq). 4500-4999: terminal; reconnecting
 * with the same credentials will not help. Reasons stay under 123 bytes.
 */
export const CLOSE = {
  /** Server-side restart or overload; reconnect and sync. */
  going_away: 4000,
  /** The token expired while connected; reconnect with a fresh token. */
  token_expired: 4001,
  /** No frame and no heartbeat within IDLE_SOCKET_SECONDS: the server took the socket for dead; reconnect. */
  idle: 4002,
  /** The backend revoked this token (or every token of the user); reconnect with a new one. */
  token_revoked: 4003,
  /** Another connection took over this device id. */
  replaced: 4500,
  /** The backend disconnected this device or user. */
  kicked: 4501,
  /** The user was deleted. */
  user_deleted: 4502,
  /** The backend banned the user: no token of theirs opens a socket until they are unbanned. */
  banned: 4503
} as const;

export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** Whether a client should reconnect after this close code. */
export function shouldReconnect(code: number): boolean {
  return code < 4500 || code > 4999;
}
