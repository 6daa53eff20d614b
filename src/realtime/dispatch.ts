import {
  type ClientFrame,
  type ClientFrameType,
  type Decoded,
  decodeMessage,
  errorBody,
  type FrameOf,
  ProtocolError,
  type ReplyOf,
  type RequestId
} from "../protocol";
import { safeSend } from "./connection";
import { onGroupCommand, onGroupCreate, onGroupReads } from "./handlers/groups";
import { onMediaLink, onUpload } from "./handlers/media";
import { onForward, onRead, onSend } from "./handlers/messages";
import { onPushSubscribe, onPushUnsubscribe } from "./handlers/notifications";
import { onConversations, onDmHistory, onMuteConversation, onSearch, onTyping } from "./handlers/conversations";
import { onDelete, onEdit, onEdits, onReact, onRecall } from "./handlers/updates";
import { onAck, onLastSeen, onOnline, onPing, onPrivacy, onSync } from "./handlers/session";
import type { Conn, UserHub } from "./hub";
import { charge } from "../rules/rate-limit";

/** How the dispatcher runs one frame type. */
interface FrameRow<K extends ClientFrameType> {
  /** Answers the frame; what it returns is the reply's `result` (ReplyOf, so it cannot drift from the schema). */
  handler: (hub: UserHub, conn: Conn, frame: FrameOf<K>) => ReplyOf<K> | Promise<ReplyOf<K>>;
  /**
   * Stores events for other users, so it spends a token of the sender's
   * budget first (`send` and `forward` spend theirs in onSend, where a
   * resend of a stored message is refunded). Reads, deletes-for-me, typing
   * (throttled on its own) and receipts (one per message read at most) do not.
   */
  charged: boolean;
  /**
   * Answers with a page (up to about a MiB). Within one batch, what follows
   * one starts once its reply is sent, so a batch of a hundred of them holds
   * one page in memory, not a hundred.
   */
  paged: boolean;
}

/** One row per client frame type (a missing one does not compile). */
const FRAMES: { readonly [K in ClientFrameType]: FrameRow<K> } = {
  send: { handler: onSend, charged: false, paged: false },
  read: { handler: onRead, charged: false, paged: false },
  sync: { handler: onSync, charged: false, paged: true },
  ack: { handler: onAck, charged: false, paged: false },
  online: { handler: onOnline, charged: false, paged: false },
  last_seen: { handler: onLastSeen, charged: false, paged: false },
  privacy: { handler: onPrivacy, charged: false, paged: false },
  ping: { handler: onPing, charged: false, paged: false },
  group_create: { handler: onGroupCreate, charged: true, paged: false },
  group_join: { handler: onGroupCommand, charged: true, paged: false },
  group_leave: { handler: onGroupCommand, charged: true, paged: false },
  group_invite: { handler: onGroupCommand, charged: true, paged: false },
  group_kick: { handler: onGroupCommand, charged: true, paged: false },
  group_dismiss: { handler: onGroupCommand, charged: true, paged: false },
  group_members: { handler: onGroupCommand, charged: false, paged: true },
  group_role: { handler: onGroupCommand, charged: true, paged: false },
  group_transfer: { handler: onGroupCommand, charged: true, paged: false },
  group_mute: { handler: onGroupCommand, charged: true, paged: false },
  group_history: { handler: onGroupCommand, charged: false, paged: true },
  group_reads: { handler: onGroupReads, charged: false, paged: false },
  group_info: { handler: onGroupCommand, charged: false, paged: false },
  group_settings: { handler: onGroupCommand, charged: true, paged: false },
  edit: { handler: onEdit, charged: true, paged: false },
  recall: { handler: onRecall, charged: true, paged: false },
  delete: { handler: onDelete, charged: false, paged: false },
  react: { handler: onReact, charged: true, paged: false },
  forward: { handler: onForward, charged: false, paged: false },
  edits: { handler: onEdits, charged: false, paged: true },
  typing: { handler: onTyping, charged: false, paged: false },
  conversations: { handler: onConversations, charged: false, paged: true },
  conversation_mute: { handler: onMuteConversation, charged: false, paged: false },
  search: { handler: onSearch, charged: false, paged: true },
  dm_history: { handler: onDmHistory, charged: false, paged: true },
  upload: { handler: onUpload, charged: true, paged: false },
  media_link: { handler: onMediaLink, charged: false, paged: false },
  push_subscribe: { handler: onPushSubscribe, charged: true, paged: false },
  push_unsubscribe: { handler: onPushUnsubscribe, charged: false, paged: false }
};

/**
 * The row of `frame`'s type. The cast only forgets which type: TypeScript
 * cannot correlate a row's handler with a frame of the same union member.
 */
function rowOf(frame: ClientFrame): FrameRow<ClientFrameType> {
  return FRAMES[frame.type] as FrameRow<ClientFrameType>;
}

/**
 * Decodes one WebSocket message (one frame or a newline-separated batch) and
 * runs each frame's handler, started in order; frames after a paged read
 * (a `paged` row of {@link FRAMES}) start once it has replied. Every frame
 * that has a request id gets exactly one reply; a frame that cannot be read
 * gets an error reply with `id: null`. Nothing here closes the socket.
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
    if (d.ok && FRAMES[d.frame.type].paged) read = run;
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
    const row = rowOf(frame);
    if (row.charged) charge(hub.sends, frame.type);
    const result = await row.handler(hub, conn, frame);
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
