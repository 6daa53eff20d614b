import {
  type ClientFrame,
  type Decoded,
  decodeMessage,
  errorBody,
  ProtocolError,
  type RequestId
} from "../protocol";
import { safeSend } from "./connection";
import { onGroupCommand, onGroupCreate } from "./handlers/groups";
import { onForward, onRead, onSend } from "./handlers/messages";
import { onConversations, onMuteConversation, onSearch, onTyping } from "./handlers/conversations";
import { onDelete, onEdit, onEdits, onReact, onRecall } from "./handlers/updates";
import { onAck, onOnline, onPing, onSync } from "./handlers/session";
import type { Conn, UserHub } from "./hub";
import { charge } from "../rules/rate-limit";

type Handler<F> = (hub: UserHub, conn: Conn, frame: F) => unknown;
type HandlerTable = {
  [K in ClientFrame["type"]]: Handler<Extract<ClientFrame, { type: K }>>;
};

const HANDLERS: HandlerTable = {
  send: onSend,
  read: onRead,
  sync: onSync,
  ack: onAck,
  online: onOnline,
  ping: onPing,
  group_create: onGroupCreate,
  group_join: onGroupCommand,
  group_leave: onGroupCommand,
  group_invite: onGroupCommand,
  group_kick: onGroupCommand,
  group_dismiss: onGroupCommand,
  group_members: onGroupCommand,
  group_role: onGroupCommand,
  group_transfer: onGroupCommand,
  group_mute: onGroupCommand,
  group_history: onGroupCommand,
  group_info: onGroupCommand,
  group_settings: onGroupCommand,
  edit: onEdit,
  recall: onRecall,
  delete: onDelete,
  react: onReact,
  forward: onForward,
  edits: onEdits,
  typing: onTyping,
  conversations: onConversations,
  conversation_mute: onMuteConversation,
  search: onSearch
};

/**
 * Frames that store events for other users, each spending a token of the
 * sender's budget (`send` and `forward` spend theirs in onSend, where a
 * resend of a stored message is refunded). Reads, deletes-for-me, typing
 * (throttled on its own) and receipts (one per message read at most) do not.
 */
const CHARGED: ReadonlySet<ClientFrame["type"]> = new Set<ClientFrame["type"]>([
  "edit", "recall", "react",
  "group_create", "group_join", "group_leave", "group_invite", "group_kick", "group_dismiss",
  "group_role", "group_transfer", "group_mute", "group_settings"
]);

/**
 * Frames that answer with a page (up to about a MiB). Within one batch, what
 * follows one starts once its reply is sent, so a batch of a hundred of them
 * holds one page in memory, not a hundred.
 */
const PAGED: ReadonlySet<ClientFrame["type"]> = new Set<ClientFrame["type"]>([
  "sync", "group_history", "search", "conversations", "edits", "group_members"
]);

/**
 * Decodes one WebSocket message (one frame or a newline-separated batch) and
 * runs each frame's handler, started in order; frames after a paged read
 * ({@link PAGED}) start once it has replied. Every frame that has a request
 * id gets exactly one reply; a frame that cannot be read gets an error reply
 * with `id: null`. Nothing here closes the socket.
 */
export async function dispatch(
  hub: UserHub,
  conn: Conn,
  raw: string | ArrayBuffer
): Promise<void> {
  const frames = decodeMessage(raw, hub.limits.maxFrameBytes);
  if (frames.length === 1) return dispatchFrame(hub, conn, frames[0]!);
  let read: Promise<void> | undefined; // the last paged read, until it replied
  const runs = frames.map((d) => {
    const run = read ? read.then(() => dispatchFrame(hub, conn, d)) : dispatchFrame(hub, conn, d);
    if (d.ok && PAGED.has(d.frame.type)) read = run;
    return run;
  });
  await Promise.all(runs);
}

async function dispatchFrame(hub: UserHub, conn: Conn, decoded: Decoded): Promise<void> {
  if (!decoded.ok) {
    safeSend(conn.ws, { type: "reply", id: decoded.id, ok: false, error: decoded.error });
    return;
  }
  const frame = decoded.frame;
  const id = frame.id;
  try {
    if ("from" in frame && frame.from !== undefined && frame.from !== hub.uid) {
      throw new ProtocolError("forged_sender", "from must be your own user id or omitted");
    }
    if (CHARGED.has(frame.type)) charge(hub.sends, frame.type);
    const handler = HANDLERS[frame.type] as Handler<ClientFrame>;
    const result = await handler(hub, conn, frame);
    if (id !== undefined) replyOk(conn.ws, id, result ?? {});
  } catch (err) {
    if (err instanceof ProtocolError) hub.log.debug("refused", { uid: conn.uid, device: conn.device, type: frame.type, code: err.code });
    else hub.log.error("frame_failed", { uid: conn.uid, device: conn.device, type: frame.type, error: String(err) });
    replyError(conn.ws, id ?? null, err);
  }
}

function replyOk(ws: WebSocket, id: RequestId, result: unknown): void {
  safeSend(ws, { type: "reply", id, ok: true, result });
}

function replyError(ws: WebSocket, id: RequestId | null, err: unknown): void {
  if (err instanceof ProtocolError) {
    safeSend(ws, { type: "reply", id, ok: false, error: err.toBody() });
    return;
  }
  safeSend(ws, {
    type: "reply",
    id,
    ok: false,
    error: errorBody("internal", "internal error")
  });
}
