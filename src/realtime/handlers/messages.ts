import { newEventId } from "../../lib/ids";
import { unwrap } from "../../lib/result";
import {
  type ForwardFrame,
  ProtocolError,
  type Quote,
  type ReadFrame,
  type ReplyOf,
  SEED_RESERVED_KINDS,
  type SendFrame
} from "../../protocol";
import type { Conn, Sender, UserHub } from "../hub";
import { assertNotRecalled, originOf, peerOf, quoteOf } from "../../rules/message-state";
import { userTarget } from "../../rules/targets";
import { groupStub } from "../../rpc/stubs";
import { onGroupSend } from "./groups";
import { assertSameMessage } from "./idempotency";
import { attachmentSent, checkAttachment } from "../media";
import { moderating } from "../moderation";
import { assertBodySize, assertMay, moderated, type Outgoing, type SendOutcome, visibleMessage } from "./shared";

/**
 * Private message. Order of effects, each a guarantee:
 * 1. the friendship gate refuses strangers and blocked peers before anything
 *    is stored (a resend is gated again: nothing reaches an ex-friend);
 * 2. the sender's own copy is stored (pending) unless this `cmid` was seen,
 *    then pushed to the sender's other devices;
 * 3. the recipient's object appends its copy (deduped by `mid`), and only
 *    then is the sender acked. If that fails the reply is a retryable error
 *    and the alarm keeps retrying; resending the same `cmid` is always safe.
 */
export async function onSend(hub: UserHub, conn: Sender, frame: Outgoing): Promise<ReplyOf<"send">> {
  assertBodySize(hub, frame.body);
  if ((frame.mentions?.users?.length ?? 0) > hub.limits.maxMentions) {
    throw new ProtocolError("too_many_mentions", `a message may mention at most ${hub.limits.maxMentions} users`);
  }
  if (SEED_RESERVED_KINDS.has(frame.kind)) {
    throw new ProtocolError("bad_request", `kind ${frame.kind} is reserved: the seed's clients read it as a server frame`, { kind: "reserved" });
  }
  let f = frame;
  if (f.replyTo !== undefined && !hub.inbox.bySentCmid(f.cmid)) f = { ...f, reply: await quoteIn(hub, f) };
  // Only new messages spend the send budget: a resend of a stored `cmid` just
  // recovers its ack. Looking for one first would cost a query per send, so a
  // token is taken first and given back when the message was stored already.
  const wait = hub.sends.take();
  if (wait > 0 && !hub.inbox.bySentCmid(f.cmid)) {
    throw new ProtocolError("rate_limited", `sending too fast; retry in ${wait} ms with the same cmid`, undefined, wait);
  }
  // A body naming an attachment: the sender's, uploaded for this conversation, named by no other message (a D1 read, only then).
  const attachment = await checkAttachment(hub.env, hub.uid, f);
  const outcome = { existing: false };
  try {
    const ack = f.chat === "group" ? await onGroupSend(hub, conn, f, outcome) : await sendDirect(hub, conn, f, outcome);
    if (attachment !== undefined) await attachmentSent(hub.env, attachment, f.cmid, ack.mid);
    return ack;
  } finally {
    if (wait === 0 && outcome.existing) hub.sends.refund();
  }
}

async function sendDirect(hub: UserHub, conn: Sender, frame: Outgoing, outcome: SendOutcome): Promise<ReplyOf<"send">> {
  let f = frame;
  if (f.mentions) throw new ProtocolError("bad_request", "mentions are for group messages");
  if (f.to === hub.uid) {
    throw new ProtocolError("bad_request", "cannot send a message to yourself");
  }
  await assertMay(hub, f.to, { what: "message", kind: f.kind, body: f.body, strangerKinds: hub.limits.strangerKinds });
  // A resend of a stored message was moderated when it was stored (looked up only when moderating: no query per send otherwise).
  if (moderating(hub) && !hub.inbox.bySentCmid(f.cmid)) f = await moderated(hub, f);
  const ts = Date.now();
  const sent = hub.inbox.appendSent(
    {
      type: "message",
      chat: f.chat,
      from: hub.uid,
      to: f.to,
      kind: f.kind,
      body: f.body,
      ts,
      ...(f.reply ? { reply: f.reply } : {}),
      ...(f.forwarded ? { forwarded: f.forwarded } : {}),
      cmid: f.cmid,
      ...(conn.device !== undefined ? { device: conn.device } : {})
    },
    ts,
    userTarget(f.to)
  );
  if (sent.fresh) {
    hub.countSent();
    hub.log.info("send", { uid: hub.uid, device: conn.device, chat: "dm", to: f.to, mid: sent.event.mid, seq: sent.event.seq, kind: f.kind });
    hub.push(sent.event, conn.device);
    hub.appended(ts);
    const { cmid: _c, device: _d, seq: _s, ...message } = sent.event;
    hub.webhook("message", message);
  } else {
    outcome.existing = true;
    assertSameMessage(sent.event, f);
  }
  if (sent.pending !== null) await hub.forward(sent.event, sent.pending);
  return { mid: sent.event.mid, seq: sent.event.seq, ts: sent.event.ts };
}

/** The quote of `replyTo`: a message the sender can see, in the conversation being sent to. */
async function quoteIn(hub: UserHub, f: SendFrame): Promise<Quote> {
  const msg = await visibleMessage(hub, f.replyTo!);
  if (msg.chat !== f.chat || peerOf(hub.uid, msg) !== f.to) {
    throw new ProtocolError("unknown_message", `no message ${f.replyTo} in this conversation`, { replyTo: "not in this conversation" });
  }
  assertNotRecalled(msg);
  return quoteOf(msg);
}

/**
 * Forward: a new message (sent like any other, so the same gates, limits and
 * idempotency by `cmid`) carrying the original's kind and body and its origin.
 */
export async function onForward(hub: UserHub, conn: Conn, f: ForwardFrame): Promise<ReplyOf<"forward">> {
  const own = hub.inbox.bySentCmid(f.cmid);
  const msg = own ? undefined : await visibleMessage(hub, f.mid);
  if (msg) assertNotRecalled(msg);
  const source = own?.event ?? msg!;
  return onSend(hub, conn, {
    type: "send",
    id: f.id,
    cmid: f.cmid,
    chat: f.chat,
    to: f.to,
    kind: source.kind,
    body: source.body,
    forwarded: own ? own.event.forwarded : originOf(msg!)
  });
}

/**
 * Read receipt: moves this user's read mark for the conversation (which
 * recounts its unread messages) and stores a receipt carrying what is left
 * unread. It reaches the reader's other devices at once and, in a direct
 * chat, the peer's devices through the peer's inbox.
 */
export async function onRead(
  hub: UserHub,
  conn: Conn,
  f: ReadFrame
): Promise<ReplyOf<"read">> {
  if (f.chat === "group") return readGroup(hub, conn, f);
  const msg = hub.inbox.byEventId(f.mid);
  if (!msg || msg.type !== "message" || msg.chat !== f.chat || peerOf(hub.uid, msg) !== f.peer) {
    throw new ProtocolError("unknown_message", `no message ${f.mid} with ${f.peer}`);
  }
  const unread = hub.inbox.conversations.markRead(f.chat, f.peer, msg.seq);
  if (unread === undefined) return { seq: null };
  const ts = Date.now();
  const target = f.chat === "dm" ? userTarget(f.peer) : null;
  // A failed delivery stays pending for the alarm: the reader's request succeeded.
  const stored = await hub.record(
    { type: "receipt", eid: newEventId(ts), chat: f.chat, from: hub.uid, to: f.peer, mid: f.mid, ts, unread },
    { to: target, exceptDevice: conn.device }
  );
  return { seq: stored.seq, unread };
}

/**
 * A group read: the group says where the message is in the stream and what
 * is unread after it (less what this user deleted for themselves); the mark
 * moves here, and a receipt in this user's inbox tells their other devices.
 * Members are not told: group reads are the reader's own.
 */
async function readGroup(hub: UserHub, conn: Conn, f: ReadFrame): Promise<ReplyOf<"read">> {
  const found = unwrap(await groupStub(hub.env, f.peer).message(hub.uid, f.mid, true));
  const m = hub.groups.memberships;
  if (m.get(f.peer) === undefined) m.learn(f.peer);
  if (!m.markRead(f.peer, found.gseq)) return { seq: null };
  const unread = Math.max(0, found.unreadAfter - m.hiddenUnreadAfter(f.peer, found.gseq));
  const ts = Date.now();
  const stored = await hub.record(
    { type: "receipt", eid: newEventId(ts), chat: "group", from: hub.uid, to: f.peer, mid: f.mid, ts, unread },
    { exceptDevice: conn.device }
  );
  return { seq: stored.seq, unread };
}
