import { encodeServerFrame, type ServerFrame } from "../protocol";

/**
 * What survives hibernation on each socket: identity only. Cursors and
 * queues live in SQLite; an attachment is lost when the socket closes.
 */
export interface Attachment {
  uid: string;
  device: string;
  connectedAt: number;
  /** Token expiry, unix seconds: frames after it close the socket (4001). */
  exp: number;
  /** Set on `/ws/compat` sockets, which speak the seed's protocol. */
  compat?: true;
  /** The token's `iat` and `jti`, so revoking tokens can close the sockets they opened. */
  iat?: number;
  jti?: string;
  /**
   * Compat sockets: per group, the end of the unbroken run of live events
   * handed to this socket and not yet confirmed, and when (`[gseq, at]`).
   */
  handed?: Record<string, [number, number]>;
  /** When a frame last arrived, ms (kept to within {@link SEEN_REFRESH_MS}); none yet: `connectedAt`. */
  seenAt?: number;
}

/** A socket's `seenAt` is rewritten at most this often: the reaper's precision. */
export const SEEN_REFRESH_MS = 10_000;

/** A frame arrived on `ws`: kept in its attachment (so it survives hibernation), at most every {@link SEEN_REFRESH_MS}. */
export function touch(ws: WebSocket, a: Attachment, now: number): void {
  if (now - (a.seenAt ?? a.connectedAt) >= SEEN_REFRESH_MS) ws.serializeAttachment({ ...a, seenAt: now });
}

/**
 * When `ws` last showed life: a frame, or a heartbeat the runtime answered
 * without waking this object (its auto-response timestamp).
 */
export function lastActivity(ctx: DurableObjectState, ws: WebSocket, a: Attachment): number {
  const heartbeat = ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
  return Math.max(a.seenAt ?? a.connectedAt, heartbeat);
}

/** Tag of every compat socket. */
export const COMPAT_TAG = "compat";

/** Socket tag selecting one device's connection(s). */
export function deviceTag(device: string): string {
  return `d:${device}`;
}

export function attachmentOf(ws: WebSocket): Attachment | undefined {
  const a = ws.deserializeAttachment() as Partial<Attachment> | null;
  return a && typeof a.uid === "string" && typeof a.device === "string"
    ? (a as Attachment)
    : undefined;
}

/** Accepts through the hibernation API; never `ws.accept()`, which pins the object in memory. */
export function acceptSocket(ctx: DurableObjectState, ws: WebSocket, a: Attachment): void {
  ctx.acceptWebSocket(ws, a.compat ? [deviceTag(a.device), COMPAT_TAG] : [deviceTag(a.device)]);
  ws.serializeAttachment(a);
}

/** Open sockets of this object, optionally without one (a socket being closed). */
export function openSockets(ctx: DurableObjectState, except?: WebSocket): WebSocket[] {
  return ctx
    .getWebSockets()
    .filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN);
}

/** Frames waiting to go out on a socket before the current turn ends. */
const outgoing = new WeakMap<WebSocket, string[]>();

/**
 * Queues a frame without throwing. Frames queued for one socket in the same
 * turn (a batch of replies, the pushes of one delivery) leave as one message,
 * newline-separated, which saves the runtime a send per frame. A socket that
 * fails to take a message is closed (1011) so the client reconnects and
 * syncs; one bad socket never breaks a fan-out to the others.
 */
export function safeSend(ws: WebSocket, frame: ServerFrame | string): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  const text = typeof frame === "string" ? frame : encodeServerFrame(frame);
  const queue = outgoing.get(ws);
  if (queue) {
    queue.push(text);
  } else {
    outgoing.set(ws, [text]);
    queueMicrotask(() => flush(ws));
  }
  return true;
}

function flush(ws: WebSocket): void {
  const queue = outgoing.get(ws);
  outgoing.delete(ws);
  if (!queue || ws.readyState !== WebSocket.OPEN) return;
  try {
    ws.send(queue.join("\n"));
  } catch {
    closeQuietly(ws, 1011, "send failed");
  }
}

/**
 * Sends one text message at once, unbatched: the seed's clients parse each
 * message as one JSON frame. A socket that fails to take it is closed (1011).
 */
export function sendUnbatched(ws: WebSocket, text: string): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  try {
    ws.send(text);
    return true;
  } catch {
    closeQuietly(ws, 1011, "send failed");
    return false;
  }
}

const RESERVED = new Set([1004, 1005, 1006, 1015]);

/** Closes, ignoring sockets already closing and reserved codes. Reasons are cut to 123 bytes. */
export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) return;
  try {
    ws.close(RESERVED.has(code) ? 1000 : code, reason.slice(0, 120));
  } catch {
    // Already torn down by the peer: nothing left to close.
  }
}

/**
 * Answers a client's close frame. Without this the peer waits for our close
 * frame until it times out (observed: 10 s in workerd), unless the runtime's
 * auto-reply-to-close is in effect; a second close is harmless.
 */
export function completeClose(ws: WebSocket, code: number): void {
  if (ws.readyState === WebSocket.CLOSED) return;
  try {
    ws.close(RESERVED.has(code) ? 1000 : code, "closed");
  } catch {
    // The runtime already completed the handshake.
  }
}

/**
 * Headers the Worker sets on an upgrade after verifying the token. The
 * Worker builds them itself, so a client can never supply them.
 */
export const UPGRADE_HEADERS = {
  uid: "x-im-uid",
  device: "x-im-device",
  exp: "x-im-exp",
  iat: "x-im-iat",
  jti: "x-im-jti",
  since: "x-im-since",
  protocol: "x-im-protocol",
  compat: "x-im-compat"
} as const;
