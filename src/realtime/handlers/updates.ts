import { newEventId } from "../../lib/ids";
import { unwrap } from "../../lib/result";
import {
  attachmentOf,
  type DeleteFrame,
  ERRORS,
  type EditFrame,
  type EditsFrame,
  type MessageEvent,
  ProtocolError,
  type ReactFrame,
  type RecallFrame,
  type ReplyOf,
  type StoredMessage,
  type UpdateResult
} from "../../protocol";
import type { Conn, UserHub } from "../hub";
import { assertNotRecalled, decideUpdate, peerOf, type UpdateRequest } from "../../rules/message-state";
import { userTarget } from "../../rules/targets";
import type { AmendRequest } from "../../rpc/calls";
import { groupStub } from "../../rpc/stubs";
import { discardAttachment } from "../media";
import { assertBodySize, assertMay, visibleMessage } from "./shared";

/**
 * The message `mid` as this user sees it in their inbox (a direct one, or a
 * group copy an inbox got before groups were stored once), unless they
 * deleted it. Anything else is `unknown_message`, whether it does not exist
 * or is someone else's, so ids cannot be probed.
 */
function inboxMessage(hub: UserHub, mid: string): MessageEvent {
  const e = hub.inbox.byEventId(mid);
  if (!e || e.type !== "message" || e.deleted) throw new ProtocolError("unknown_message", `no message ${mid}`);
  return e;
}

/** Edit your own message: a new version for every copy; the old one goes to its edit history. */
export async function onEdit(hub: UserHub, _conn: Conn, f: EditFrame): Promise<ReplyOf<"edit">> {
  const msg = await visibleMessage(hub, f.mid);
  // Anyone else's edit is refused as `not_author`, whatever its size.
  if (msg.from === hub.uid) assertBodySize(hub, f.body);
  if (msg.from === hub.uid && attachmentOf(f.body) !== attachmentOf(msg.body)) {
    throw new ProtocolError("bad_request", "an edit keeps the message's attachment: send a new message for another", { "body.attachment": "changed" });
  }
  return change(hub, msg, { op: "edit", body: f.body });
}

/** Recall for everyone: your own message within the window (in groups, owners and admins: any). */
export async function onRecall(hub: UserHub, _conn: Conn, f: RecallFrame): Promise<ReplyOf<"recall">> {
  const msg = await visibleMessage(hub, f.mid);
  const result = await change(hub, msg, { op: "recall" });
  // A recalled message's attachment goes with its text, for everyone.
  if (result.changed) await discardAttachment(hub.env, msg.body, msg.mid);
  return result;
}

/**
 * Delete for me: only this user's copy changes, on all their devices; nobody
 * else is told. A message of yours still on its way to the peer is delivered
 * first (its stored copy is what a retry would send).
 */
export async function onDelete(hub: UserHub, _conn: Conn, f: DeleteFrame): Promise<ReplyOf<"delete">> {
  const found = hub.inbox.byEventId(f.mid);
  if (!found) return deleteGroupMessage(hub, f.mid);
  if (found.type !== "message") throw new ProtocolError("unknown_message", `no message ${f.mid}`);
  if (found.deleted) return { mid: f.mid, changed: false };
  const pending = hub.inbox.pending.targetOf(f.mid);
  if (pending !== null) {
    try {
      await hub.forward(found, pending);
    } catch (err) {
      // Refused for good (no longer friends): nothing will be sent, so deleting is safe.
      if (!(err instanceof ProtocolError) || ERRORS[err.code].retryable) throw err;
    }
  }
  const msg = hub.inbox.byEventId(f.mid); // again: the delivery awaited
  if (!msg || msg.type !== "message") throw new ProtocolError("unknown_message", `no message ${f.mid}`);
  if (msg.deleted) return { mid: f.mid, changed: false };
  const ts = Date.now();
  await hub.record({ type: "update", eid: newEventId(ts), op: "delete", chat: msg.chat, from: hub.uid, to: peerOf(hub.uid, msg), mid: f.mid, ts });
  return { mid: f.mid, changed: true };
}

/**
 * Delete for me, of a group message (stored once, in the group): this user
 * remembers it as deleted, so their stream, conversation and search show it
 * so, and their devices learn it from an update in their own inbox.
 */
async function deleteGroupMessage(hub: UserHub, mid: string): Promise<UpdateResult> {
  // Deleted for me already: a repeat.
  if (hub.groups.memberships.isHidden(mid)) return { mid, changed: false };
  const { gid, gseq, message } = await hub.groups.message(mid);
  const counted = message.from !== hub.uid && message.recalled === undefined;
  if (!hub.groups.memberships.hide(mid, gid, gseq, counted)) return { mid, changed: false };
  const ts = Date.now();
  await hub.record({ type: "update", eid: newEventId(ts), op: "delete", chat: "group", from: hub.uid, to: gid, mid, ts });
  return { mid, changed: true };
}

/** Add or remove your reaction; a repeat changes nothing and tells nobody. */
export async function onReact(hub: UserHub, _conn: Conn, f: ReactFrame): Promise<ReplyOf<"react">> {
  return change(hub, await visibleMessage(hub, f.mid), { op: f.remove ? "unreact" : "react", emoji: f.emoji });
}

/** Every version of a message you can see, oldest first (a group's from the group, which keeps them). */
export async function onEdits(hub: UserHub, _conn: Conn, f: EditsFrame): Promise<ReplyOf<"edits">> {
  const msg = await visibleMessage(hub, f.mid);
  assertNotRecalled(msg);
  if (msg.seq === undefined) return unwrap(await groupStub(hub.env, msg.to).edits(hub.uid, msg.mid));
  return hub.inbox.conversations.edits(msg as MessageEvent);
}

/** A group message changes in the group's object, a direct one here (both by {@link decideUpdate}'s rules). */
function change(hub: UserHub, msg: StoredMessage, req: UpdateRequest): Promise<UpdateResult> {
  return msg.chat === "group" ? amendInGroup(hub, msg, { ...req, mid: msg.mid }) : directUpdate(hub, msg as MessageEvent, req);
}

/**
 * A change to a direct message. Friends only (no exemption for the seed's
 * stranger kinds). A refusal or a repeat is answered before the friendship
 * check; after it the decision is taken again on the message as it is now
 * (another change may have landed meanwhile). The update is stored in this
 * user's inbox (which rewrites this copy) pending delivery to the peer,
 * pushed to every device of this user, then delivered; if the peer cannot be
 * reached the alarm delivers it later, and the change already holds.
 */
async function directUpdate(hub: UserHub, msg: MessageEvent, req: UpdateRequest): Promise<UpdateResult> {
  const who = () => ({ uid: hub.uid, moderator: false, now: Date.now(), recallWindowMs: hub.limits.recallWindowMs });
  const unchanged = { mid: msg.mid, changed: false };
  if (!decideUpdate(msg, req, who())) return unchanged;
  const peer = peerOf(hub.uid, msg);
  await assertMay(hub, peer, { what: "friends_only" });
  const fields = decideUpdate(inboxMessage(hub, msg.mid), req, who());
  if (!fields) return unchanged;
  const ts = Date.now();
  const target = userTarget(peer);
  const stored = await hub.record(
    { type: "update", eid: newEventId(ts), chat: "dm", from: hub.uid, to: peer, mid: msg.mid, ts, ...fields },
    { to: target, webhook: "update" }
  );
  hub.log.info("update", { uid: hub.uid, op: fields.op, chat: "dm", to: peer, mid: msg.mid, seq: stored.seq });
  return { mid: msg.mid, changed: true, ...(fields.version !== undefined ? { version: fields.version } : {}) };
}

/** Group messages change in the group's object, which is authoritative and fans the update out. */
async function amendInGroup(hub: UserHub, msg: StoredMessage, req: AmendRequest): Promise<UpdateResult> {
  const result = unwrap(await groupStub(hub.env, msg.to).amend(hub.uid, req));
  hub.log.info("update", { uid: hub.uid, op: req.op, chat: "group", to: msg.to, mid: msg.mid, changed: result.changed });
  return result;
}
