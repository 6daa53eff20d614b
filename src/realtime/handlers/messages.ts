import { newEventId } from "../../lib/ids";
import {
  type MessageEvent,
  ProtocolError,
  type ReadFrame,
  type SendAck,
  type SendFrame,
  type UnsequencedEvent
} from "../../protocol";
import type { Conn, UserHub } from "../hub";
import { onGroupSend } from "./groups";
import { assertSameMessage } from "./idempotency";
import { userTarget } from "../targets";

/**
 * Private message. Order of effects, each a guarantee:
 * 1. a resend of a known `cmid` skips to step 4 with the stored message;
 * 2. the friendship gate refuses strangers before anything is stored;
 * 3. the sender's own copy is appended (pending) and pushed to the sender's
 *    other devices;
 * 4. the recipient's object appends its copy (deduped by `mid`), and only
 *    then is the sender acked. If that fails the reply is a retryable error
 *    and the alarm keeps retrying; resending the same `cmid` is always safe.
 */
export async function onSend(hub: UserHub, conn: Conn, f: SendFrame): Promise<SendAck> {
  if (f.chat === "group") return onGroupSend(hub, conn, f);
  if (f.mentions) throw new ProtocolError("bad_request", "mentions are for group messages");
  if (f.to === hub.uid) {
    throw new ProtocolError("bad_request", "cannot send a message to yourself");
  }
  let sent = hub.inbox.bySentCmid(f.cmid);
  if (sent) assertSameMessage(sent.event, f);
  if (!sent) {
    const friends = await hub.friends();
    if (!friends.has(f.to)) {
      throw (await hub.userExists(f.to))
        ? new ProtocolError("stranger", `${f.to} is not your friend`)
        : new ProtocolError("unknown_user", `no user ${f.to}`);
    }
    // A concurrent resend may have been accepted while we awaited.
    sent = hub.inbox.bySentCmid(f.cmid) ?? accept(hub, conn, f);
    assertSameMessage(sent.event, f);
  }
  if (sent.pending !== null) await hub.forward(sent.event, sent.pending);
  return { mid: sent.event.mid, seq: sent.event.seq, ts: sent.event.ts };
}

function accept(hub: UserHub, conn: Conn, f: SendFrame) {
  const ts = Date.now();
  const event: UnsequencedEvent = {
    type: "message",
    mid: newEventId(ts),
    chat: f.chat,
    from: hub.uid,
    to: f.to,
    kind: f.kind,
    body: f.body,
    ts,
    cmid: f.cmid,
    device: conn.device
  };
  const target = userTarget(f.to);
  const [stored] = hub.inbox.append([event], ts, target);
  hub.push(stored!.event, conn.device);
  hub.appended(ts, true);
  return { event: stored!.event as MessageEvent, pending: target as string | null };
}

/**
 * Read receipt: moves this user's read cursor for the conversation and
 * stores a receipt event, which reaches the reader's other devices at once
 * and the peer's devices through the peer's inbox.
 */
export async function onRead(
  hub: UserHub,
  conn: Conn,
  f: ReadFrame
): Promise<{ seq: number | null }> {
  const msg = hub.inbox.byEventId(f.mid);
  const inConversation =
    msg?.type === "message" &&
    ((msg.from === f.peer && msg.to === hub.uid) ||
      (msg.from === hub.uid && msg.to === f.peer));
  if (!msg || !inConversation) {
    throw new ProtocolError("unknown_message", `no message ${f.mid} with ${f.peer}`);
  }
  if (!hub.inbox.advanceRead(f.peer, msg.seq)) return { seq: null };
  const ts = Date.now();
  const target = userTarget(f.peer);
  const [stored] = hub.inbox.append(
    [{ type: "receipt", eid: newEventId(ts), chat: f.chat, from: hub.uid, to: f.peer, mid: f.mid, ts }],
    ts,
    target
  );
  hub.push(stored!.event, conn.device);
  hub.appended(ts, true);
  try {
    await hub.forward(stored!.event, target);
  } catch (err) {
    // Stored and pending: the alarm delivers it. The reader's request succeeded.
    console.warn("receipt delivery deferred", err);
  }
  return { seq: stored!.event.seq };
}
